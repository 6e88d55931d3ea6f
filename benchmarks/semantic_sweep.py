"""Table 2 settings: mIoU of the propagated semantic labels over walk power, walk length and background plane.

    python benchmarks/semantic_sweep.py --config-file configs/synthetic/irnet_pseudo.yaml --num-images 300 \\
        PIPELINE.WORK_DIR output/synthetic/pseudo

For the first N training images (CAMs and IRNet outputs of the work directory): the CAM labels' mIoU for
each plane (Table 2's "CAM" row sweeps it the same way), then for each (beta, steps) the propagated labels'
mIoU for each plane (``SYNTHESIS.SEMANTIC_BACKGROUND_THRESHOLD``). One walk per image and setting; the
planes share it. ``--crf`` adds a row per setting: its labels refined by the dense CRF of
``SYNTHESIS.SEMANTIC_CRF`` (its keys as given in the options; ENABLED need not be set). Prints a markdown table
and writes it with a json to ``--output``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from tabulate import tabulate
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from detectron2.data import MetadataCatalog  # noqa: E402

import irnet_wsis.data.builtin as builtin  # noqa: E402
from irnet_wsis.config import setup_cfg  # noqa: E402
from irnet_wsis.data.io import read_image_or_fail  # noqa: E402
from irnet_wsis.engine.stages import crf_settings, load_semantic_boundary  # noqa: E402
from irnet_wsis.engine.per_image import output_path  # noqa: E402
from irnet_wsis.engine.work_dir import gt_dataset_names, gt_records, image_size_of, load_npz, work_paths  # noqa: E402
from irnet_wsis.evaluation.miou import SemanticConfusion, plane_sweep_confusions  # noqa: E402
from irnet_wsis.evaluation.pseudo_quality import best_class, gt_label_map  # noqa: E402
from irnet_wsis.pseudo.synthesis import crf_refine_label_map, semantic_labels, semantic_scores  # noqa: E402


def _floats(text):
    return [float(v) for v in text.split(",")]


def _name(setting):
    """Row name: "cam", "beta 80, 256 steps" or "beta 80, 256 steps + CRF"."""
    if setting == "cam":
        return "cam"
    return f"beta {setting[0]:g}, {setting[1]} steps" + (" + CRF" if len(setting) > 2 else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--num-images", type=int, default=300)
    parser.add_argument("--betas", default="10,20,40,80")
    parser.add_argument("--steps", default="4,16,64,256")
    parser.add_argument("--planes", default="0.2,0.3,0.4,0.5,0.6")
    parser.add_argument("--crf", action="store_true", help="also each setting's labels refined by SYNTHESIS.SEMANTIC_CRF")
    parser.add_argument("--output", default="", help="folder for semantic_sweep.{md,json} (default: WORK_DIR/eval)")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cfg = setup_cfg(args.config_file, args.opts)
    builtin.register_from_cfg(cfg)
    records = gt_records(cfg, args.num_images)
    num_classes = len(MetadataCatalog.get(gt_dataset_names(cfg)[0]).thing_classes)
    planes, paths = _floats(args.planes), work_paths(cfg)
    walks = [(b, int(t)) for b in _floats(args.betas) for t in _floats(args.steps)]
    settings = walks + ([w + ("crf",) for w in walks] if args.crf else [])
    crf = crf_settings(cfg.SYNTHESIS.SEMANTIC_CRF)
    confusion = {(s, p): SemanticConfusion(num_classes) for s in ["cam"] + settings for p in planes}

    def add_plane_sweep(setting, scores, classes, gt):
        """Add one image's label maps of ``scores`` (K, H, W) at every plane to ``setting``'s confusions."""
        swept = plane_sweep_confusions(*best_class(scores, classes), gt, planes, num_classes)
        for p, matrix in zip(planes, swept):
            confusion[setting, p].matrix += matrix

    start = time.perf_counter()
    for record in tqdm(records, desc="semantic sweep", mininterval=2.0):
        image_id = record["image_id"]
        cams = load_npz(output_path(paths["cams"], image_id, ".npz"), image_id, "CAMs")
        boundary = torch.from_numpy(load_semantic_boundary(cfg, image_id))  # the semantic stage's B
        gt, classes = gt_label_map(record), cams["classes"]
        size = image_size_of(cams, record)
        add_plane_sweep("cam", cams["cam_full"], classes, gt)
        rgb = read_image_or_fail(record, "RGB") if args.crf else None
        for beta, steps in walks:
            scores = semantic_scores(torch.from_numpy(cams["cam_stride4"].astype(np.float32)), boundary, size,
                                     cfg.MODEL.IRNET.INFER_RADIUS, beta, steps)
            add_plane_sweep((beta, steps), scores.numpy(), classes, gt)
            if args.crf:
                for p in planes:
                    label = semantic_labels(scores, classes, p)
                    confusion[(beta, steps, "crf"), p].update(crf_refine_label_map(rgb, label, crf), gt)
    miou = {k: 100.0 * c.miou() for k, c in confusion.items()}
    rows = [[_name(s)] + [miou[s, p] for p in planes] for s in ["cam"] + settings]
    md = tabulate(rows, headers=["labels"] + [f"plane {p:g}" for p in planes], tablefmt="pipe", floatfmt=".1f")
    best_cam = max(planes, key=lambda p: miou["cam", p])
    best = max(((s, p) for s in settings for p in planes), key=miou.get)
    summary = (f"{len(records)} images, {time.perf_counter() - start:.0f} s. Best CAM: plane {best_cam:g}, "
               f"{miou['cam', best_cam]:.1f}. Best propagated: {_name(best[0])}, plane {best[1]:g}, {miou[best]:.1f}")
    print(md + "\n\n" + summary)
    out_dir = args.output or os.path.join(cfg.PIPELINE.WORK_DIR, "eval")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "semantic_sweep.md"), "w") as f:
        f.write(md + "\n\n" + summary + "\n")
    with open(os.path.join(out_dir, "semantic_sweep.json"), "w") as f:
        json.dump({"images": len(records), "planes": planes,
                   "crf": crf if args.crf else None,
                   "miou": {_name(s): [miou[s, p] for p in planes] for s in ["cam"] + settings}}, f, indent=2)


if __name__ == "__main__":
    main()
