#!/usr/bin/env python
"""Stages 6-7: train a Detectron2 model on the pseudo labels, evaluate AP^r_50 / AP^r_70.

    python tools/train_net.py --config-file configs/VOC/mask_rcnn_pseudo.yaml \
        DATASETS.PSEUDO_JSON output/voc/pseudo/pseudo_coco.json
    python tools/train_net.py --config configs/synthetic/mask_rcnn_pseudo.yaml --num-gpus 2
    python tools/train_net.py --config-file ... --eval-only MODEL.WEIGHTS model_final.pth

The pseudo-label json (DATASETS.PSEUDO_JSON, written by tools/generate_pseudo.py)
is registered as SYNTHESIS.PSEUDO_DATASET_NAME. Evaluation reports in one
table AP^r_50 / AP^r_70 (VOC style) and COCO segm AP / AP50 / AP75; it is also
written to OUTPUT_DIR/metrics_table.{md,json}. Bad input found before the run
(config keys, missing json, checkpoint or VOC folders) stops it with one line on
stderr and exit code 2, nothing written.
"""
import logging
import os
import sys

from detectron2.data import MetadataCatalog, build_detection_test_loader
from detectron2.engine import DefaultTrainer
from detectron2.evaluation import COCOEvaluator, DatasetEvaluators
from detectron2.projects.point_rend import add_pointrend_config  # also registers PointRend's heads
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402,F401  registers datasets, backbones, meta-architectures
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
from irnet_wsis.data.builtin import concat_dataset_dicts, dataset_names  # noqa: E402
from irnet_wsis.errors import BadInputError  # noqa: E402
from irnet_wsis.evaluation.instance_evaluator import VOCInstanceEvaluator  # noqa: E402
from irnet_wsis.layers import use_separable_roi_align  # noqa: E402
from irnet_wsis.modeling.backbone_weights import frozen_bn_resnet, init_from_cam_backbone  # noqa: E402
from irnet_wsis.modeling.precision import bfloat16_backbone  # noqa: E402
from irnet_wsis.export.coco_json import check_coco_json, register_pseudo_coco, require_pseudo_json  # noqa: E402

logger = logging.getLogger("irnet_wsis.train_net")


def metrics_table(results):
    """One row per test dataset: AP^r_50, AP^r_70, COCO segm AP, AP50, AP75."""
    rows = []
    for dataset, res in results.items():
        apr = res.get("segm_apr", {})
        segm = res.get("segm", {})
        rows.append([dataset, apr.get("AP50r"), apr.get("AP70r"), segm.get("AP"), segm.get("AP50"), segm.get("AP75")])
    headers = ["dataset", "AP^r_50", "AP^r_70", "segm AP", "segm AP50", "segm AP75"]
    rows = [[f"{v:.2f}" if isinstance(v, float) else ("-" if v is None else v) for v in r] for r in rows]
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True)


class Trainer(DefaultTrainer):
    """DefaultTrainer whose evaluation reports VOC-style AP^r beside COCO segm AP."""

    @classmethod
    def build_model(cls, cfg):
        model = init_from_cam_backbone(super().build_model(cfg), cfg)
        if cfg.MODEL.SEPARABLE_ROI_ALIGN:
            logger.info("ROIAlign: %d poolers train through SeparableROIAlign (MODEL.SEPARABLE_ROI_ALIGN)",
                        use_separable_roi_align(model))
        return bfloat16_backbone(model, cfg)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_detection_test_loader(cfg, dataset_name, batch_size=cfg.TEST.IMS_PER_BATCH)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return DatasetEvaluators([
            VOCInstanceEvaluator(dataset_name, distributed=True, output_dir=output_folder),
            COCOEvaluator(dataset_name, tasks=("segm",), distributed=True, output_dir=output_folder),
        ])

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        return report_metrics(cfg, super().test(cfg, model, evaluators), metrics_table, logger.name)


def register_pseudo_labels(cfg):
    """Register DATASETS.PSEUDO_JSON (checked) under SYNTHESIS.PSEUDO_DATASET_NAME."""
    name = cfg.SYNTHESIS.PSEUDO_DATASET_NAME
    if name not in cfg.DATASETS.TRAIN:
        return
    records = concat_dataset_dicts(cfg.DATASETS.PSEUDO_SOURCE) if cfg.DATASETS.PSEUDO_SOURCE else None
    check_coco_json(cfg.DATASETS.PSEUDO_JSON, records)
    class_names = MetadataCatalog.get(cfg.DATASETS.TEST[0]).thing_classes if cfg.DATASETS.TEST else None
    register_pseudo_coco(name, cfg.DATASETS.PSEUDO_JSON, cfg.DATASETS.PSEUDO_IMAGE_ROOT, class_names)


def check_inputs(cfg, args):
    """What the run reads, checked cheaply before anything is written (BadInputError): the VOC folders, the
    pseudo-label json, MODEL.WEIGHTS (a local checkpoint; required with --eval-only), MODEL.CAM_BACKBONE_INIT,
    and some weights to start a frozen-BN ResNet from."""
    check_dataset_roots(list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST)
                        + list(dataset_names(cfg.DATASETS.PSEUDO_SOURCE)))
    name = cfg.SYNTHESIS.PSEUDO_DATASET_NAME
    if name in cfg.DATASETS.TRAIN:
        if not cfg.DATASETS.PSEUDO_JSON:
            raise BadInputError(f"DATASETS.TRAIN uses {name} but DATASETS.PSEUDO_JSON is empty: give the json that "
                                "tools/generate_pseudo.py wrote (<WORK_DIR>/pseudo_coco.json)")
        require_pseudo_json(cfg.DATASETS.PSEUDO_JSON)
    check_model_weights(cfg, args.eval_only)
    if not cfg.MODEL.WEIGHTS and not cfg.MODEL.CAM_BACKBONE_INIT and frozen_bn_resnet(cfg):
        raise BadInputError("MODEL.RESNETS.NORM FrozenBN needs pretrained weights: pass MODEL.WEIGHTS "
                            "/path/to/R-50.pkl or MODEL.CAM_BACKBONE_INIT <WORK_DIR>/cam/model_final.pth; to train "
                            "from scratch instead, set MODEL.RESNETS.NORM BN MODEL.BACKBONE.FREEZE_AT 0 "
                            "(configs/synthetic/mask_rcnn_pseudo.yaml does)")


def checked_cfg(args):
    """The run's cfg (PointRend's keys added), its inputs checked (``check_inputs``) before anything is written."""
    return load_checked_cfg(args, check_inputs, add_configs=(add_pointrend_config,))


def setup(args):
    cfg = setup_run(checked_cfg, args)
    register_pseudo_labels(cfg)
    return cfg


def main(args):
    return train_or_test(Trainer, setup(args), args)


if __name__ == "__main__":
    launch_tool(main, checked_cfg, tool_parser().parse_args())
