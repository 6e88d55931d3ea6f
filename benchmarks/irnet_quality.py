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
  neighbours from spurious centroids.

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
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
