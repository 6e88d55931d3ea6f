"""What the command-line tools share around Detectron2's ``default_setup``.

A user error must be one line on stderr (``error: <message>``, exit code 2), printed before Detectron2's
environment and config dumps and before anything is written to OUTPUT_DIR. So a tool reads its cfg with
``load_cfg`` (config errors as ``BadInputError``), checks its inputs cheaply (``check_dataset_roots``,
``check_model_weights`` and its own checks) before ``default_setup``, and runs under ``exit_on_bad_input``
(``launch_tool`` for Detectron2's ``launch``). ``setup_package_logger`` sends the ``irnet_wsis`` loggers'
lines to the console and to OUTPUT_DIR/log.txt.
"""
import argparse
import json
import logging
import os
import sys
from collections import OrderedDict

import yaml
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from .config import setup_cfg
from .data.builtin import register_from_cfg
from .data.voc import TRAIN_AUG_LABEL_FILE, check_voc_root
from .errors import BadInputError, require_file
from .modeling.backbone_weights import require_cam_checkpoint

__all__ = ["load_cfg", "check_dataset_roots", "check_model_weights", "setup_package_logger", "exit_on_bad_input",
           "launch_tool", "load_checked_cfg", "setup_run", "tool_parser", "train_or_test", "report_metrics"]


def load_cfg(config_file, opts=(), freeze=True, add_configs=()):
    """``setup_cfg`` (with ``add_configs``), a missing config file or a bad key or value (of the file or of
    ``opts``) as a one-line ``BadInputError``."""
    if not config_file:
        raise BadInputError("--config-file: no config file given")
    require_file(config_file, "config file not found")
    try:
        return setup_cfg(config_file, opts, freeze=freeze, add_configs=add_configs)
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


def tool_parser():
    """Detectron2's ``default_argument_parser`` with ``--config`` as an alias of ``--config-file``."""
    parser = default_argument_parser()
    parser.add_argument("--config", dest="config_file", metavar="FILE", help="alias of --config-file")
    return parser


def step_profile_args(description, default_iters):
    """The step profiles' command line (benchmarks/*_step_profile.py): ``--config-file``, ``--iters`` (timed
    iterations) and trailing ``KEY VALUE`` config overrides, parsed from ``sys.argv``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--iters", type=int, default=default_iters)
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    return parser.parse_args()


def train_or_test(trainer_cls, cfg, args):
    """``--eval-only``: ``trainer_cls.test`` of MODEL.WEIGHTS; else train (resuming with ``--resume``)."""
    if args.eval_only:
        model = trainer_cls.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        return trainer_cls.test(cfg, model)
    trainer = trainer_cls(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def report_metrics(cfg, results, make_table, logger_name):
    """Evaluation results of a ``DefaultTrainer.test`` -> one table (``make_table({dataset: results})``), logged,
    printed and written to OUTPUT_DIR/metrics_table.{md,json} on the main process. Returns what ``test``
    returns: the one dataset's results, or all of them by dataset."""
    if len(cfg.DATASETS.TEST) == 1:
        results = OrderedDict([(cfg.DATASETS.TEST[0], results)])
    if comm.is_main_process() and results:
        table = make_table(results)
        logging.getLogger(logger_name).info("evaluation:\n%s", table)
        print(table)
        with open(os.path.join(cfg.OUTPUT_DIR, "metrics_table.md"), "w") as f:
            f.write(table + "\n")
        with open(os.path.join(cfg.OUTPUT_DIR, "metrics_table.json"), "w") as f:
            json.dump(results, f, indent=2)
    return results[cfg.DATASETS.TEST[0]] if len(cfg.DATASETS.TEST) == 1 else results


def load_checked_cfg(args, check_inputs, add_configs=()):
    """A tool's cfg from its parsed ``args`` (``load_cfg`` with ``add_configs``), its inputs checked with
    ``check_inputs(cfg, args)`` before anything is written; the package logger on the console first."""
    setup_package_logger()
    cfg = load_cfg(args.config_file, args.opts, add_configs=add_configs)
    check_inputs(cfg, args)
    return cfg


def setup_run(checked_cfg, args):
    """``checked_cfg(args)``, then Detectron2's ``default_setup`` (OUTPUT_DIR, its log, the environment and config
    dumps), the package logger into OUTPUT_DIR/log.txt and the datasets the cfg names. Returns the cfg."""
    cfg = checked_cfg(args)
    default_setup(cfg, args)
    setup_package_logger(cfg.OUTPUT_DIR)
    register_from_cfg(cfg)
    return cfg
