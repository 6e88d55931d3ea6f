#!/usr/bin/env python
"""Instance regions cut from a finished run's relation labels and CAMs, at several peak windows, against the truth.

For every PEAK_WINDOW, cuts the class regions of ``PIPELINE.WORK_DIR``'s relation labels among their CAM peaks
(``relations.split_by_peaks``, the relations stage's ``RELATIONS.INSTANCE_REGIONS``) and scores the regions against
the ground-truth instances of the training images (stride-4 grid): instances with no region, instances sharing
their main region with another (merges), regions per instance (fragments), the mean best IoU of one region with
each instance's cells inside the regions, and the centroid target error: the mean distance (stride-4 cells) from
the centroid of a cell's region (the region-centroid loss's target) to the centroid of its ground-truth instance,
with the distance from the cell itself (D = 0) beside it. The relation labels are read, not mined again (no CRF),
so a row costs seconds.

--write-to W2 (one window) writes those regions beside a copy of the relation labels into W2's relations folder,
for ``--stages train_irnet`` with ``MODEL.IRNET.DISP_PAIRS_WITHIN instance`` (W's cam and cams linked into W2).

    python benchmarks/region_sweep.py --config-file configs/coco/lite2_pseudo.yaml --windows 7,15,31 PIPELINE.WORK_DIR W
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv=None):
    from PIL import Image

    import irnet_wsis
    from irnet_wsis.config import setup_cfg
    from irnet_wsis.engine.per_image import atomic_save_png, output_path
    from irnet_wsis.engine.work_dir import gt_records, load_npz, region_path, work_paths
    from irnet_wsis.errors import bad_input
    from irnet_wsis.evaluation.relation_quality import region_counts, region_table, stride4_truth
    from irnet_wsis.pseudo.relations import split_by_peaks

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--windows", type=lambda t: [int(v) for v in t.split(",") if v], default=None,
                        help="PEAK_WINDOW values, comma-separated (default: the config's)")
    parser.add_argument("--num-images", type=int, default=0, help="first N images (0: all)")
    parser.add_argument("--write-to", default="", metavar="WORK_DIR2", help="write the regions (one window) there")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    windows = args.windows or [cfg.RELATIONS.PEAK_WINDOW]
    if args.write_to and len(windows) != 1:
        parser.error("--write-to takes one window")
    paths, s = work_paths(cfg), cfg.RELATIONS.OUTPUT_STRIDE
    target = os.path.join(args.write_to, "relations") if args.write_to else ""
    if target and os.path.realpath(target) == os.path.realpath(paths["relations"]):
        raise SystemExit(f"error: {target} is the source's own relations folder; give --write-to a new directory")
    totals = {window: {} for window in windows}
    for record in tqdm(gt_records(cfg, args.num_images), desc="regions vs truth", mininterval=2.0):
        image_id = record["image_id"]
        relation_file = output_path(paths["relations"], image_id, ".png")
        if not os.path.isfile(relation_file):
            raise bad_input(relation_file, "missing relation labels; run --stages relations", image_id)
        relation = np.array(Image.open(relation_file))
        cams = load_npz(output_path(paths["cams"], image_id, ".npz"), image_id, "CAMs")
        cam = cams["cam_full"].astype(np.float32)[:, ::s, ::s]
        _, ids = stride4_truth(record, s)
        if cam.shape[1:] != relation.shape or ids.shape != relation.shape:
            raise bad_input(relation_file, f"relation labels {relation.shape}, CAMs {cam.shape[1:]} and stride-{s} "
                            f"truth {ids.shape} differ; rerun --stages relations", image_id)
        for window in windows:
            regions = split_by_peaks(relation, cam, cams["classes"], window, cfg.RELATIONS.PEAK_THRESHOLD)
            for k, v in region_counts(regions, ids).items():
                totals[window][k] = totals[window].get(k, 0) + v
            if target:
                out = output_path(target, image_id, ".png")
                os.makedirs(os.path.dirname(out), exist_ok=True)
                atomic_save_png(region_path(out), regions)
                shutil.copyfile(relation_file, out)
    rows, table = region_table(totals, "window", "PEAK_WINDOW")
    print(table)
    if target:
        print(f"regions written to {target}")
    print(json.dumps(rows))
    return rows


if __name__ == "__main__":
    main()
