#!/usr/bin/env python
"""Stages 1-5 of irnet_wsis: image-level labels -> pseudo instance masks (COCO json).

    python tools/generate_pseudo.py --config-file configs/synthetic/irnet_pseudo.yaml
    python tools/generate_pseudo.py --config-file configs/VOC/irnet_pseudo.yaml --num-gpus 8
    python tools/generate_pseudo.py --config-file ... --stages synthesis,export

Stages run in order into cfg.PIPELINE.WORK_DIR: train_cam, cams, relations,
train_irnet, irnet_outputs, synthesis, export, semantic. A finished stage (or image) is
skipped, so an interrupted run resumes where it stopped. Multi-GPU and
multi-machine runs go through Detectron2's ``launch``. Bad input found before the
run (config keys, stage names, VOC folders, a frozen-BN ResNet without ImageNet
weights) stops it with one line on stderr and exit code 2, nothing written.
"""
import json
import logging
import os
import sys

from detectron2.engine import default_argument_parser
from detectron2.utils import comm
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402,F401  registers meta-architectures, backbones, datasets
from irnet_wsis.cli import check_dataset_roots, launch_tool, load_cfg, setup_package_logger, setup_run  # noqa: E402
from irnet_wsis.engine.stages import STAGES, run_stage  # noqa: E402
from irnet_wsis.engine.work_dir import work_paths  # noqa: E402
from irnet_wsis.errors import BadInputError  # noqa: E402
from irnet_wsis.modeling.backbone_weights import check_cam_backbone_start  # noqa: E402

logger = logging.getLogger("irnet_wsis.generate_pseudo")


def selected_stages(args):
    """The stages of ``--stages`` (all when empty) in pipeline order; an unknown name is a BadInputError."""
    stages = args.stages.split(",") if args.stages else list(STAGES)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise BadInputError(f"--stages: unknown stage(s) {', '.join(unknown)}; choose from {','.join(STAGES)}")
    return [s for s in STAGES if s in stages]


def checked_cfg(args):
    """The run's cfg (OUTPUT_DIR defaults to PIPELINE.WORK_DIR), its inputs checked before anything is
    written: stage names, the CAM backbone's start when train_cam will train, the VOC folders."""
    setup_package_logger()
    cfg = load_cfg(args.config_file, args.opts, freeze=False)
    if cfg.OUTPUT_DIR == "./output":
        cfg.OUTPUT_DIR = cfg.PIPELINE.WORK_DIR
    cfg.freeze()
    if "train_cam" in selected_stages(args) and not os.path.isfile(work_paths(cfg)["cam_model"]):
        check_cam_backbone_start(cfg)
    check_dataset_roots(cfg.DATASETS.TRAIN)
    return cfg


def setup(args):
    return setup_run(checked_cfg, args)


def images_per_second(summary):
    """Images a stage went through per second: training stages count iterations x batch (``images_seen``),
    per-image stages the images they computed (``done``); None when the stage did no work or took no time."""
    images = summary.get("images_seen", summary.get("done"))
    seconds = summary.get("wall_seconds", 0)
    return round(images / seconds, 2) if images and seconds else None


def format_summary(summaries):
    """The per-stage table (seconds, images per second, the stage's summary) with a total row."""
    rows = []
    for name, s in summaries.items():
        detail = ", ".join(f"{k}={v}" for k, v in s.items() if k != "wall_seconds")
        rate = images_per_second(s)
        rows.append([name, s.get("wall_seconds", ""), "" if rate is None else rate, detail])
    total = round(sum(s.get("wall_seconds", 0) for s in summaries.values()), 1)
    rows.append(["total", total, "", ""])
    return tabulate(rows, headers=["stage", "seconds", "images/s", "summary"], tablefmt="pipe")


def main(args):
    cfg = setup(args)
    summaries = {}
    for name in selected_stages(args):
        logger.info("stage %s", name)
        summaries[name] = run_stage(cfg, name)
        comm.synchronize()
    if comm.is_main_process():
        table = format_summary(summaries)
        logger.info("pseudo-label generation summary:\n%s", table)
        print(table)
        path = work_paths(cfg)["summary"]
        previous = {}
        if os.path.isfile(path):
            with open(path) as f:
                previous = json.load(f)
        previous.update(summaries)
        with open(path, "w") as f:
            json.dump(previous, f, indent=2)
    return summaries


def build_parser():
    parser = default_argument_parser()
    parser.add_argument("--stages", default="", help=f"comma-separated subset of: {','.join(STAGES)}")
    return parser


if __name__ == "__main__":
    launch_tool(main, checked_cfg, build_parser().parse_args())
