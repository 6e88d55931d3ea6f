"""What the command-line tools share around Detectron2's ``default_setup``.

A user error must be one line on stderr (``error: <message>``, exit code 2), printed before Detectron2's
environment and config dumps and before anything is written to OUTPUT_DIR. So a tool reads its cfg with
``load_cfg`` (config errors as ``BadInputError``), checks its inputs cheaply (``check_dataset_roots``,
``check_model_weights`` and its own checks) before ``default_setup``, and runs under ``exit_on_bad_input``
(``launch_tool`` for Detectron2's ``launch``). ``setup_package_logger`` sends the ``irnet_wsis`` loggers'
lines to the console and to OUTPUT_DIR/log.txt.
"""
import os
import sys

import yaml
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import launch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from .config import setup_cfg
from .data.voc import TRAIN_AUG_LABEL_FILE, check_voc_root
from .errors import BadInputError, require_file
from .modeling.backbone_weights import require_cam_checkpoint

__all__ = ["load_cfg", "check_dataset_roots", "check_model_weights", "setup_package_logger", "exit_on_bad_input",
           "launch_tool"]


def load_cfg(config_file, opts=(), freeze=True):
    """``setup_cfg``, with a missing config file or a bad key or value (of the file or of ``opts``) as a
    one-line ``BadInputError``."""
    if not config_file:
        raise BadInputError("--config-file: no config file given")
    require_file(config_file, "config file not found")
    try:
        return setup_cfg(config_file, opts, freeze=freeze)
    except KeyError as e:  # yacs: "Non-existent key: A.B" (opts), "Non-existent config key: A.B" (file)
        raise BadInputError(f"{config_file}: {e.args[0]}") from e
    except (ValueError, AssertionError, OSError, yaml.YAMLError) as e:  # type mismatch, odd override list, _BASE_
        raise BadInputError(f"{config_file}: {e}") from e


def check_dataset_roots(names):
    """The VOC folders (and the train_aug label file) of the ``voc_2012_*`` datasets in ``names`` exist.

    Cheap: no image is read. Other datasets are checked when read (the synthetic set is generated then).
    """
    for name in names:
        if not name.startswith("voc_2012_") or name not in DatasetCatalog.list():
            continue
        meta = MetadataCatalog.get(name)
        label_file = os.path.join(meta.dirname, TRAIN_AUG_LABEL_FILE) if meta.get("split") == "train_aug" else None
        check_voc_root(meta.dirname, instances=name.endswith("_instance"), label_file=label_file)


def check_model_weights(cfg, eval_only=False):
    """The weights a Detectron2 model starts from exist (BadInputError otherwise): MODEL.WEIGHTS when it is a
    local path (required with ``eval_only``), MODEL.CAM_BACKBONE_INIT when given."""
    weights = cfg.MODEL.WEIGHTS
    if eval_only:
        require_file(weights or "MODEL.WEIGHTS", "checkpoint not found; train first or give MODEL.WEIGHTS "
                     "/path/to/model_final.pth")
    elif weights and "://" not in weights:
        require_file(weights, "MODEL.WEIGHTS not found; give an existing checkpoint (or ImageNet .pkl) or "
                     "MODEL.WEIGHTS \"\"")
    if cfg.MODEL.CAM_BACKBONE_INIT:
        require_cam_checkpoint(cfg.MODEL.CAM_BACKBONE_INIT)


def setup_package_logger(output=None):
    """Log the ``irnet_wsis`` loggers to the console (main process) and, given ``output``
    (cfg.OUTPUT_DIR, after ``default_setup``), to ``output/log.txt`` (``log.txt.rank<N>`` on other ranks).

    Call it once before the cfg is read, so that what setup logs reaches the console rather than stderr,
    and again with ``output``; the console handler is added once per process.
    """
    rank = comm.get_rank()
    logger = setup_logger(distributed_rank=rank, name="irnet_wsis")
    if output:
        setup_logger(output, distributed_rank=rank, name="irnet_wsis", configure_stdout=False)
    return logger


def exit_on_bad_input(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``; a ``BadInputError`` ends the process with ``error: <message>`` as one line on
    stderr and exit code 2, without a traceback."""
    try:
        return fn(*args, **kwargs)
    except BadInputError as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)
        sys.exit(2)


def launch_tool(main, checked_cfg, args):
    """Run a Detectron2 tool from its parsed ``args`` (``default_argument_parser``): ``checked_cfg(args)`` in
    this process first, then ``main(args)`` through Detectron2's ``launch``; a BadInputError of either (in
    this process) ends it as ``exit_on_bad_input`` says."""
    exit_on_bad_input(checked_cfg, args)
    exit_on_bad_input(launch, main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
                      dist_url=args.dist_url, args=(args,))
