#!/usr/bin/env python
"""Summary of a main-job run: AP^r_50 / AP^r_70 of Mask R-CNN on pseudo labels (and the fully supervised
upper bound when it was trained), with the pseudo-label generation summary.

    python tools/report.py output/synthetic
"""
import json
import os
import sys

from tabulate import tabulate


def _load(path):
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    work = argv[0] if argv else "output/synthetic"
    rows = []
    for name, label in (("mask_rcnn_pseudo", "Mask R-CNN on pseudo labels (weak)"),
                        ("mask_rcnn_full", "Mask R-CNN on ground truth (full)")):
        results = _load(os.path.join(work, name, "metrics_table.json"))
        if not results:
            continue
        for dataset, res in results.items():
            apr, segm = res.get("segm_apr", {}), res.get("segm", {})
            rows.append([label, dataset, apr.get("AP50r"), apr.get("AP70r"), segm.get("AP")])
    if not rows:
        print(f"no results under {work} (expected {work}/mask_rcnn_pseudo/metrics_table.json)")
        return 1
    print(tabulate(rows, headers=["model", "test set", "AP^r_50", "AP^r_70", "COCO segm AP"], floatfmt=".1f",
                   tablefmt="pipe"))
    if len(rows) == 2 and rows[1][2]:
        print(f"\nweak / full AP^r_50: {rows[0][2] / rows[1][2]:.2f} (paper: 46.7 / 69.0 = 0.68)")
    summary = _load(os.path.join(work, "pseudo", "summary.json"))
    if summary:
        export = summary.get("export", {})
        print(f"\npseudo labels: {export.get('instances', '?')} instances in {export.get('images', '?')} images "
              f"({export.get('empty_images', '?')} without any); seconds per stage of the last run: "
              + ", ".join(f"{k} {v.get('wall_seconds', '?')}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
