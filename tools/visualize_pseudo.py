#!/usr/bin/env python
"""Figures of the pipeline per image (paper Fig. 6): image, CAM, D, B, relations, pseudo instances.

    python tools/visualize_pseudo.py --config-file configs/synthetic/irnet_pseudo.yaml --num 8
    python tools/visualize_pseudo.py --config-file ... --images 2007_000032 2007_000039 --stack fig6.png

Reads the work directory of tools/generate_pseudo.py; writes <WORK_DIR>/figures/<image_id>.png, and with
--stack one PNG with those figures one under the other (the paper's Fig. 6 layout).
"""
import argparse
import os
import sys

import numpy as np
from detectron2.data import MetadataCatalog
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402
from irnet_wsis.cli import exit_on_bad_input, load_cfg  # noqa: E402
from irnet_wsis.engine.per_image import output_path  # noqa: E402
from irnet_wsis.data.io import read_image_or_fail  # noqa: E402
from irnet_wsis.engine.work_dir import load_pseudo_instances, stage_records, work_paths  # noqa: E402
from irnet_wsis.evaluation.apr import decode_rle  # noqa: E402
from irnet_wsis.utils.visualize import draw_irnet_figure  # noqa: E402


def _maybe_npz(path):
    if not os.path.isfile(path):
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def render(cfg, record, out_dir):
    paths = work_paths(cfg)
    image_id = record["image_id"]
    cams = _maybe_npz(output_path(paths["cams"], image_id, ".npz"))
    irn = _maybe_npz(output_path(paths["irnet_out"], image_id, ".npz"))
    rel_path = output_path(paths["relations"], image_id, ".png")
    relation = np.asarray(Image.open(rel_path)) if os.path.isfile(rel_path) else None
    instances = None
    if os.path.isfile(output_path(paths["pseudo"], image_id, ".npz")):
        instances = [dict(i, mask=decode_rle(i["segmentation"])) for i in load_pseudo_instances(cfg, record)]
    names = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).thing_classes
    return draw_irnet_figure(
        os.path.join(out_dir, f"{image_id}.png"), read_image_or_fail(record, "RGB"),
        cams=None if cams is None else cams["cam_full"].astype(np.float32),
        displacement=None if irn is None else irn["displacement"],
        boundary=None if irn is None else irn["boundary"],
        relation_label=relation, instances=instances, class_names=names,
        title=f"{image_id}: " + ", ".join(names[c] for c in record["classes"]),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--images", nargs="*", default=None, help="image ids (default: the first --num)")
    parser.add_argument("--num", type=int, default=8)
    parser.add_argument("--output", default="", help="default: <WORK_DIR>/figures")
    parser.add_argument("--stack", default="", help="also write the figures one under the other to this PNG")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides KEY VALUE ...")
    args = parser.parse_args(argv)
    cfg = load_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    records = stage_records(cfg)
    if args.images:
        wanted = set(args.images)
        records = [r for r in records if r["image_id"] in wanted]
    else:
        records = records[: args.num]
    out_dir = args.output or os.path.join(cfg.PIPELINE.WORK_DIR, "figures")
    figures = [render(cfg, record, out_dir) for record in records]
    for path in figures:
        print(path)
    if args.stack and figures:
        print(stack_figures(figures, args.stack))


def stack_figures(paths, out_path):
    """Write the PNGs of ``paths`` one under the other (each resized to the widest one's width) to ``out_path``."""
    images = [Image.open(p).convert("RGB") for p in paths]
    width = max(im.width for im in images)
    images = [im if im.width == width else im.resize((width, round(im.height * width / im.width))) for im in images]
    canvas = Image.new("RGB", (width, sum(im.height for im in images)), "white")
    top = 0
    for im in images:
        canvas.paste(im, (0, top))
        top += im.height
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    canvas.save(out_path)
    return out_path


if __name__ == "__main__":
    exit_on_bad_input(main)
