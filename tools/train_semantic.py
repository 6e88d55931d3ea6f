#!/usr/bin/env python
"""Train a Detectron2 semantic segmentation model (DeepLabV3+) on IRNet's pseudo semantic labels; report mIoU.

    python tools/train_semantic.py --config-file configs/synthetic/deeplabv3plus_pseudo.yaml
    python tools/train_semantic.py --config-file configs/synthetic/deeplabv3plus_full.yaml   # ground truth
    python tools/train_semantic.py --config-file configs/VOC/deeplabv3plus_pseudo.yaml --num-gpus 8 \
        MODEL.WEIGHTS /path/to/R-50.pkl DATASETS.SEMANTIC_PSEUDO_DIR output/voc/pseudo/semantic
    python tools/train_semantic.py --config-file ... --eval-only MODEL.WEIGHTS output/.../model_final.pth

The pseudo labels are the ``semantic`` stage's PNGs of tools/generate_pseudo.py
(DATASETS.SEMANTIC_PSEUDO_DIR = <WORK_DIR>/semantic) for the images of the weak set(s)
DATASETS.SEMANTIC_SOURCE, registered as DATASETS.SEMANTIC_PSEUDO_NAME; ``<set>_sem_seg`` names the
ground truth of a ``<set>_instance`` set (irnet_wsis.data.sem_seg), for evaluation and for the fully
supervised twin. Training is projects/DeepLab/train_net.py's (DefaultTrainer, the poly schedule,
DatasetMapper-style augmentation); evaluation is Detectron2's SemSegEvaluator on each DATASETS.TEST set,
printed as one table (mIoU, fwIoU, mACC, pACC) and written to OUTPUT_DIR/metrics_table.{md,json}.
Bad input (config keys, missing folders, label maps missing or of the wrong size or values) stops the run
with one line on stderr and exit code 2.
"""
import logging
import os
import sys

from detectron2.data import MetadataCatalog, build_detection_test_loader, build_detection_train_loader
from detectron2.engine import DefaultTrainer
from detectron2.evaluation import SemSegEvaluator
from detectron2.projects.deeplab import build_lr_scheduler
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402  registers datasets, backbones
import irnet_wsis.modeling.deeplab_head  # noqa: E402,F401  registers DeepLabV3PlusImagePoolHead
from irnet_wsis.cli import (  # noqa: E402
    check_dataset_roots,
    check_model_weights,
    launch_tool,
    load_checked_cfg,
    report_metrics,
    setup_run,
    tool_parser,
    train_or_test,
)
from irnet_wsis.data.builtin import dataset_names  # noqa: E402
from irnet_wsis.data.sem_seg import register_sem_seg_from_cfg, require_pseudo_dir  # noqa: E402
from irnet_wsis.data.sem_seg_mapper import SemSegDatasetMapper  # noqa: E402
from irnet_wsis.errors import BadInputError  # noqa: E402
from irnet_wsis.modeling.backbone_weights import init_from_cam_backbone  # noqa: E402
from irnet_wsis.modeling.precision import bfloat16_backbone  # noqa: E402
from irnet_wsis.semantic import add_semantic_config  # noqa: E402

logger = logging.getLogger("irnet_wsis.train_semantic")

METRICS = ("mIoU", "fwIoU", "mACC", "pACC")


def miou_table(results):
    """One row per test dataset: SemSegEvaluator's mIoU, fwIoU, mACC, pACC (percent)."""
    rows = [[name] + [res.get("sem_seg", {}).get(key) for key in METRICS] for name, res in results.items()]
    rows = [[f"{v:.2f}" if isinstance(v, float) else ("-" if v is None else v) for v in r] for r in rows]
    return tabulate(rows, headers=["dataset", *METRICS], tablefmt="pipe", disable_numparse=True)


class SemanticTrainer(DefaultTrainer):
    """projects/DeepLab's trainer: sem_seg mapper and augmentation, poly schedule, SemSegEvaluator; the
    backbone may start from a CAMNet checkpoint (MODEL.CAM_BACKBONE_INIT) as tools/train_net.py's."""

    @classmethod
    def build_model(cls, cfg):
        return bfloat16_backbone(init_from_cam_backbone(super().build_model(cfg), cfg), cfg)

    @classmethod
    def build_train_loader(cls, cfg):
        return build_detection_train_loader(cfg, mapper=SemSegDatasetMapper(cfg, is_train=True))

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_detection_test_loader(cfg, dataset_name, mapper=SemSegDatasetMapper(cfg, is_train=False))

    @classmethod
    def build_lr_scheduler(cls, cfg, optimizer):
        return build_lr_scheduler(cfg, optimizer)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return SemSegEvaluator(dataset_name, distributed=True, output_dir=output_folder)

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        return report_metrics(cfg, super().test(cfg, model, evaluators), miou_table, logger.name)


def check_inputs(cfg, args):
    """What the run reads, checked cheaply before anything is written (BadInputError): the VOC folders behind
    the named sets, DATASETS.SEMANTIC_PSEUDO_DIR when the pseudo set is trained on, MODEL.WEIGHTS (required
    with --eval-only), MODEL.CAM_BACKBONE_INIT."""
    d = cfg.DATASETS
    names = list(d.TRAIN) + list(d.TEST) + list(dataset_names(d.SEMANTIC_SOURCE))
    bases = [n[: -len("_sem_seg")] for n in names if n.endswith("_sem_seg")]
    check_dataset_roots(names + [f"{b}_{kind}" for b in bases for kind in ("instance", "cls")])
    if d.SEMANTIC_PSEUDO_NAME in d.TRAIN:
        require_pseudo_dir(d.SEMANTIC_PSEUDO_DIR)
    check_model_weights(cfg, args.eval_only)


def check_num_classes(cfg):
    """MODEL.SEM_SEG_HEAD.NUM_CLASSES is the class count (background included) of every set trained or tested."""
    expected = cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES
    for name in list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST):
        classes = MetadataCatalog.get(name).get("stuff_classes")
        if classes is not None and len(classes) != expected:
            raise BadInputError(f"{name} has {len(classes)} classes (background included) but "
                                f"MODEL.SEM_SEG_HEAD.NUM_CLASSES is {expected}")


def checked_cfg(args):
    """The run's cfg (DeepLab's and the semantic keys added), its inputs checked (``check_inputs``) before anything
    is written."""
    return load_checked_cfg(args, check_inputs, add_configs=(add_semantic_config,))


def setup(args):
    cfg = setup_run(checked_cfg, args)
    register_sem_seg_from_cfg(cfg)
    check_num_classes(cfg)
    return cfg


def main(args):
    return train_or_test(SemanticTrainer, setup(args), args)


if __name__ == "__main__":
    launch_tool(main, checked_cfg, tool_parser().parse_args())
