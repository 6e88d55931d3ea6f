#!/usr/bin/env python
"""IRNet on held-out images: boundary contrast and centroid counts (issue 4's checks).

For each image of a *_instance set (default: synthetic val):
- B is upsampled to the image; mean B on ground-truth class boundaries (the
  void band of SegmentationClass, dilated 1 px) is compared with mean B inside
  objects (object pixels eroded by 3 px);
- D (mean-subtracted) gives candidate centroids |D| < SYNTHESIS.CENTROID_THRESHOLD;
  a connected component of candidates lying mostly on ground-truth foreground is
  a detected centroid; the image counts as right when their number equals the
  number of ground-truth instances. The counts are also broken down by the
  number of ground-truth instances (exact / under / over), which tells merged
  neighbours from spurious centroids;
- landing error: for each ground-truth instance, the mean distance (stride-4
  pixels) from x + D(x) to the instance's own centroid over its pixels, beside
  the same for D = 0 (every pixel stays put), for instances alone in their image,
  apart from others (no other instance within 2 px at stride 4) and touching one.

    python benchmarks/irnet_quality.py --config-file configs/synthetic/irnet_pseudo.yaml \
        --dataset synthetic_voc_val_instance --num-images 300 PIPELINE.WORK_DIR output/synthetic/pseudo
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv=None):
    from detectron2.data import DatasetCatalog
    from tqdm import tqdm

    import irnet_wsis
    from irnet_wsis.config import setup_cfg
    from irnet_wsis.engine.irnet_trainer import irnet_stage_cfg
    from irnet_wsis.engine.stages import _read_rgb, load_mean_displacement, load_stage_model, work_paths
    from irnet_wsis.evaluation.pseudo_quality import gt_label_map
    from irnet_wsis.pseudo.instances import centroid_components

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--dataset", default="synthetic_voc_val_instance")
    parser.add_argument("--num-images", type=int, default=300)
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    stage_cfg = irnet_stage_cfg(cfg)
    model = load_stage_model(stage_cfg, work_paths(cfg)["irnet_model"])
    mean_d = load_mean_displacement(cfg)
    records = DatasetCatalog.get(args.dataset)[: args.num_images]
    on_boundary, inside, counts = [], [], []
    landing = {"alone": [], "apart": [], "touching": []}  # (error of D, error of D = 0) per instance
    kernel = np.ones((3, 3), np.uint8)
    with torch.no_grad():
        for record in tqdm(records, desc="IRNet quality", mininterval=2.0):
            rgb = _read_rgb(record)
            out = model([{"image": torch.as_tensor(np.ascontiguousarray(rgb.transpose(2, 0, 1)))}])[0]
            h, w = rgb.shape[:2]
            b = F.interpolate(out["boundary"][None, None], size=(4 * out["boundary"].shape[0],
                              4 * out["boundary"].shape[1]), mode="bilinear", align_corners=False)[0, 0, :h, :w]
            b = b.numpy()
            gt = gt_label_map(record)
            band = cv2.dilate((gt == 255).astype(np.uint8), kernel).astype(bool)
            objects = cv2.erode(((gt > 0) & (gt < 255)).astype(np.uint8), kernel, iterations=3).astype(bool)
            if band.any() and objects.any():
                on_boundary.append(b[band].mean())
                inside.append(b[objects].mean())
            d = out["displacement"] - (mean_d.view(2, 1, 1) if mean_d is not None else 0)
            comps, k = centroid_components(d, cfg.SYNTHESIS.CENTROID_THRESHOLD)
            fg4 = ((gt > 0) & (gt < 255))[::4, ::4][: comps.shape[0], : comps.shape[1]]
            detected = sum(1 for j in range(1, k + 1) if fg4[comps == j].mean() > 0.5)
            counts.append((len(record.get("annotations", [])), detected))
            for group, errors in instance_landing_errors(record, d.numpy()):
                landing[group].append(errors)
    result = {
        "images": len(records),
        "mean_B_on_boundaries": float(np.mean(on_boundary)),
        "mean_B_inside_objects": float(np.mean(inside)),
        "boundary_ratio": float(np.mean(on_boundary) / max(np.mean(inside), 1e-6)),
        "centroid_count_exact_share": sum(n == d for n, d in counts) / max(len(records), 1),
        "centroid_count_under": sum(d < n for n, d in counts),
        "centroid_count_over": sum(d > n for n, d in counts),
        "centroid_count_exact_by_instances": {
            n: f"{sum(d == n for m, d in counts if m == n)}/{sum(m == n for m, _ in counts)}"
            for n in sorted({m for m, _ in counts})
        },
    }
    result["landing_error_cells"] = {
        g: {"instances": len(v), "D": float(np.mean([e[0] for e in v])) if v else None,
            "D=0": float(np.mean([e[1] for e in v])) if v else None}
        for g, v in landing.items()
    }
    print(json.dumps(result, indent=2))
    return result


def instance_landing_errors(record, displacement):
    """[(group, (mean |x + D(x) - c|, mean |x - c|))] per ground-truth instance of ``record``.

    displacement: (2, h, w) numpy, stride-4 pixels; c is the instance's centroid on the stride-4 grid;
    group is "alone" (only instance of its image), "apart" or "touching" (another instance within 2 px).
    """
    from scipy import ndimage

    from irnet_wsis.evaluation.apr import decode_rle

    h, w = displacement.shape[1:]
    masks = [decode_rle(ann["segmentation"])[::4, ::4][:h, :w] for ann in record.get("annotations", [])]
    ys, xs = np.mgrid[0:h, 0:w]
    out = []
    for i, m in enumerate(masks):
        if m.sum() < 4:
            continue
        if len(masks) == 1:
            group = "alone"
        else:
            others = np.logical_or.reduce([o for j, o in enumerate(masks) if j != i])
            group = "touching" if (ndimage.binary_dilation(m, iterations=2) & others).any() else "apart"
        cy, cx = ys[m].mean(), xs[m].mean()
        err_d = np.hypot(ys[m] + displacement[0][m] - cy, xs[m] + displacement[1][m] - cx).mean()
        err_0 = np.hypot(ys[m] - cy, xs[m] - cx).mean()
        out.append((group, (float(err_d), float(err_0))))
    return out


if __name__ == "__main__":
    main()
