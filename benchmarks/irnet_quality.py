#!/usr/bin/env python
"""IRNet on held-out images: boundary contrast and centroid counts (issue 4's checks).

For each image of a *_instance set (default: synthetic val):
- B is upsampled to the image; mean B on ground-truth class boundaries (the
  void band of SegmentationClass, dilated 1 px; for COCO-json sets, where the
  instance-id map changes, dilated 2 px) is compared with mean B inside
  objects (object pixels eroded by 3 px);
- centroids as synthesis finds them (SYNTHESIS.CENTROID_RULE):
  "magnitude": D (mean-subtracted) gives candidate centroids |D| <
  SYNTHESIS.CENTROID_THRESHOLD; a connected component of
  candidates lying mostly on ground-truth foreground is a detected centroid.
  "landing": groups of cells where refined vectors land with CAM mass >=
  SYNTHESIS.CENTROID_MIN_MASS; every group is a detected centroid (the ones the
  synthesis uses: background, CAM ~ 0, makes none). Two checks on them: how many
  lie on a ground-truth object (dilated 1 cell), and the count under the stricter
  test used until 2026-11-25 (most of the mass landing in the group comes from
  ground-truth foreground pixels; it rejects a real centroid when more CAM mass
  lands there from the blurred CAM halo around the object than from the object
  itself). CAMs come from the work dir's CAM model (CAM_INFERENCE scales and
  flip, the image's true classes).
  The image counts as right when the number of detected centroids equals the
  number of ground-truth instances. The counts are also broken down by the
  number of ground-truth instances (exact / under / over), which tells merged
  neighbours from spurious centroids;
- landing error: for each ground-truth instance, the mean distance (stride-4
  pixels) from x + D(x) to the instance's own centroid over its pixels, beside
  the same for D = 0 (every pixel stays put), for instances alone in their image,
  apart from others (no other instance within 2 px at stride 4) and touching one.

--oracle-displacement replaces IRNet's D by the ground-truth centroid field
(each instance pixel points at its instance's centroid, 0 elsewhere): the
count it reaches is what the centroid rule itself allows.

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
    from irnet_wsis.engine.cam_trainer import cam_stage_cfg
    from irnet_wsis.engine.irnet_trainer import irnet_stage_cfg
    from irnet_wsis.data.io import read_image_or_fail
    from irnet_wsis.engine.work_dir import load_mean_displacement, load_stage_model, work_paths
    from irnet_wsis.evaluation.irnet_quality import (
        boundary_band, count_centroids, instance_landing_errors, instance_masks, instance_masks4, oracle_displacement,
    )
    from irnet_wsis.evaluation.pseudo_quality import gt_label_map
    from irnet_wsis.modeling.cam_inference import multiscale_cams_batch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--dataset", default="synthetic_voc_val_instance")
    parser.add_argument("--num-images", type=int, default=300)
    parser.add_argument("--oracle-displacement", action="store_true",
                        help="count centroids of the ground-truth centroid field instead of IRNet's D")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    stage_cfg = irnet_stage_cfg(cfg)
    model = load_stage_model(stage_cfg, work_paths(cfg)["irnet_model"])
    mean_d = load_mean_displacement(cfg)
    need_cams = cfg.SYNTHESIS.CENTROID_RULE == "landing"
    cam_model = load_stage_model(cam_stage_cfg(cfg), work_paths(cfg)["cam_model"]) if need_cams else None
    records = DatasetCatalog.get(args.dataset)[: args.num_images]
    on_boundary, inside, counts, checks = [], [], [], []
    landing = {"alone": [], "apart": [], "touching": []}  # (error of D, error of D = 0) per instance
    kernel = np.ones((3, 3), np.uint8)
    with torch.no_grad():
        for record in tqdm(records, desc="IRNet quality", mininterval=2.0):
            rgb = read_image_or_fail(record, "RGB")
            pixels = rgb[:, :, ::-1] if stage_cfg.INPUT.FORMAT == "BGR" else rgb  # the stages' input format
            image = torch.as_tensor(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
            out = model([{"image": image}])[0]
            h, w = rgb.shape[:2]
            b = F.interpolate(out["boundary"][None, None], size=(4 * out["boundary"].shape[0],
                              4 * out["boundary"].shape[1]), mode="bilinear", align_corners=False)[0, 0, :h, :w]
            b = b.numpy()
            masks = instance_masks(record)  # decoded once for the label map, the boundary band and masks4
            gt = gt_label_map(record, masks)
            band = boundary_band(record, gt, kernel, masks)
            objects = cv2.erode(((gt > 0) & (gt < 255)).astype(np.uint8), kernel, iterations=3).astype(bool)
            if band.any() and objects.any():
                on_boundary.append(b[band].mean())
                inside.append(b[objects].mean())
            d = out["displacement"] - (mean_d.view(2, 1, 1) if mean_d is not None else 0)
            masks4 = instance_masks4(record, d.shape[1:], masks)
            if args.oracle_displacement:
                d = torch.from_numpy(oracle_displacement(masks4, d.shape[1:]))
            cam_max = None
            if cam_model is not None:
                cam4 = multiscale_cams_batch(cam_model, image[None], [torch.as_tensor(record["classes"])],
                                             scales=tuple(cfg.CAM_INFERENCE.SCALES), flip=cfg.CAM_INFERENCE.FLIP)[0][0]
                cam_max = cam4.max(dim=0).values
            fg4 = torch.from_numpy(((gt > 0) & (gt < 255))[::4, ::4][: d.shape[1], : d.shape[2]].copy())
            objects4 = np.logical_or.reduce(masks4) if masks4 else np.zeros(d.shape[1:], bool)
            n = len(masks4)
            found = count_centroids(cfg, d, cam_max, fg4, objects4)
            counts.append((n, found["detected"]))
            if "on_objects" in found:
                checks.append((n, found["on_objects"], found["majority_foreground"]))
            for group, errors in instance_landing_errors(masks4, d.numpy()):
                landing[group].append(errors)
    result = {
        "images": len(records),
        "mean_B_on_boundaries": float(np.mean(on_boundary)),
        "mean_B_inside_objects": float(np.mean(inside)),
        "boundary_ratio": float(np.mean(on_boundary) / max(np.mean(inside), 1e-6)),
        "centroid_count_exact_share": sum(n == d for n, d in counts) / max(len(records), 1),
        "centroid_count_under": sum(d < n for n, d in counts),
        "centroid_count_over": sum(d > n for n, d in counts),
        "centroid_count_exact_share_on_objects": (sum(n == c for n, c, _ in checks) / len(checks)
                                                  if checks else None),
        "centroid_count_exact_share_majority_foreground": (sum(n == c for n, _, c in checks) / len(checks)
                                                           if checks else None),
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


if __name__ == "__main__":
    main()
