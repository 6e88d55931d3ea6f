#!/usr/bin/env python
"""Stages 6-7: train a Detectron2 model on the pseudo labels, evaluate AP^r_50 / AP^r_70.

    python tools/train_net.py --config-file configs/VOC/mask_rcnn_pseudo.yaml \
        DATASETS.PSEUDO_JSON output/voc/pseudo/pseudo_coco.json
    python tools/train_net.py --config configs/synthetic/mask_rcnn_pseudo.yaml --num-gpus 2
    python tools/train_net.py --config-file ... --eval-only MODEL.WEIGHTS model_final.pth

The pseudo-label json (DATASETS.PSEUDO_JSON, written by tools/generate_pseudo.py)
is registered as SYNTHESIS.PSEUDO_DATASET_NAME. Evaluation reports in one
table AP^r_50 / AP^r_70 (VOC style) and COCO segm AP / AP50 / AP75; it is also
written to OUTPUT_DIR/metrics_table.{md,json}.
"""
import json
import logging
import os
import sys
from collections import OrderedDict

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import DefaultTrainer, default_argument_parser, default_setup, launch
from detectron2.evaluation import COCOEvaluator, DatasetEvaluators
from detectron2.utils import comm
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402  registers datasets, backbones, meta-architectures
from irnet_wsis.config import setup_cfg  # noqa: E402
from irnet_wsis.errors import BadInputError  # noqa: E402
from irnet_wsis.evaluation.instance_evaluator import VOCInstanceEvaluator  # noqa: E402
from irnet_wsis.modeling.backbone_weights import load_cam_backbone  # noqa: E402
from irnet_wsis.export.coco_json import check_coco_json, register_pseudo_coco  # noqa: E402

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
        model = super().build_model(cfg)
        if cfg.MODEL.CAM_BACKBONE_INIT:
            backbone = getattr(model.backbone, "bottom_up", model.backbone)
            load_cam_backbone(backbone, cfg.MODEL.CAM_BACKBONE_INIT)
        return model

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return DatasetEvaluators([
            VOCInstanceEvaluator(dataset_name, distributed=True, output_dir=output_folder),
            COCOEvaluator(dataset_name, tasks=("segm",), distributed=True, output_dir=output_folder),
        ])

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        if len(cfg.DATASETS.TEST) == 1:
            results = OrderedDict([(cfg.DATASETS.TEST[0], super().test(cfg, model, evaluators))])
        else:
            results = super().test(cfg, model, evaluators)
        if comm.is_main_process() and results:
            table = metrics_table(results)
            logger.info("evaluation:\n%s", table)
            print(table)
            with open(os.path.join(cfg.OUTPUT_DIR, "metrics_table.md"), "w") as f:
                f.write(table + "\n")
            with open(os.path.join(cfg.OUTPUT_DIR, "metrics_table.json"), "w") as f:
                json.dump(results, f, indent=2)
        return results[cfg.DATASETS.TEST[0]] if len(cfg.DATASETS.TEST) == 1 else results


def register_pseudo_labels(cfg):
    """Register DATASETS.PSEUDO_JSON (checked) under SYNTHESIS.PSEUDO_DATASET_NAME."""
    name = cfg.SYNTHESIS.PSEUDO_DATASET_NAME
    if name not in cfg.DATASETS.TRAIN:
        return
    if not cfg.DATASETS.PSEUDO_JSON:
        raise BadInputError(f"DATASETS.TRAIN uses {name} but DATASETS.PSEUDO_JSON is empty: give the json that "
                            "tools/generate_pseudo.py wrote (<WORK_DIR>/pseudo_coco.json)")
    records = DatasetCatalog.get(cfg.DATASETS.PSEUDO_SOURCE) if cfg.DATASETS.PSEUDO_SOURCE else None
    check_coco_json(cfg.DATASETS.PSEUDO_JSON, records)
    class_names = MetadataCatalog.get(cfg.DATASETS.TEST[0]).thing_classes if cfg.DATASETS.TEST else None
    register_pseudo_coco(name, cfg.DATASETS.PSEUDO_JSON, cfg.DATASETS.PSEUDO_IMAGE_ROOT, class_names)


def setup(args):
    cfg = setup_cfg(args.config_file, args.opts)
    default_setup(cfg, args)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    register_pseudo_labels(cfg)
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        if not cfg.MODEL.WEIGHTS or not os.path.isfile(cfg.MODEL.WEIGHTS):
            raise BadInputError(f"{cfg.MODEL.WEIGHTS or 'MODEL.WEIGHTS'}: checkpoint not found; train first or "
                                "give MODEL.WEIGHTS /path/to/model_final.pth")
        model = Trainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        return Trainer.test(cfg, model)
    weights = cfg.MODEL.WEIGHTS
    if weights and "://" not in weights and not os.path.isfile(weights):
        raise BadInputError(f"{weights}: MODEL.WEIGHTS not found; give an existing checkpoint or MODEL.WEIGHTS \"\"")
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def build_parser():
    parser = default_argument_parser()
    parser.add_argument("--config", dest="config_file", metavar="FILE", help="alias of --config-file")
    return parser


if __name__ == "__main__":
    args = build_parser().parse_args()
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
