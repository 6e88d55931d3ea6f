#!/usr/bin/env python
"""Quality of the pseudo labels on the training split (the paper's Tables 1 and 2).

    python tools/eval_pseudo.py --config-file configs/synthetic/irnet_pseudo.yaml
    python tools/eval_pseudo.py --config-file ... --tables cam,table1,table2 --max-images 500

Reads the work directory of tools/generate_pseudo.py (CAMs, IRNet outputs) and
the ground truth named by PIPELINE.GT_DATASET (a *_instance dataset of the same
images), and writes to <WORK_DIR>/eval/:

- cam_threshold_sweep.{md,json,png}: CAM mIoU for each background threshold;
- table1.{md,json}: AP^r_50 (and AP^r_70) of pseudo instances: CAM + connected
  components, CAM + class boundary, CAM + displacement field + class boundary;
- table2.{md,json}: mIoU of CAM vs propagated semantic labels.
"""
import argparse
import json
import logging
import os
import sys

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils.logger import setup_logger
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402
from irnet_wsis.config import setup_cfg  # noqa: E402
from irnet_wsis.engine.per_image import output_path  # noqa: E402
from irnet_wsis.engine.stages import (  # noqa: E402
    encode_instances,
    load_mean_displacement,
    semantic_record,
    stage_records,
    synthesize_record,
    work_paths,
)
from irnet_wsis.errors import BadInputError, bad_input  # noqa: E402
from irnet_wsis.evaluation.pseudo_quality import (  # noqa: E402
    evaluate_pseudo_instances,
    evaluate_semantic_labels,
    plot_threshold_sweep,
    sweep_cam_thresholds,
)

logger = logging.getLogger("irnet_wsis.eval_pseudo")

TABLE1_ROWS = [
    ("cam", "CAM"),
    ("boundary", "CAM + Class Boundary"),
    ("full", "CAM + Displacement Field + Class Boundary (Ours)"),
]


def setup(args):
    cfg = setup_cfg(args.config_file, args.opts)
    setup_logger(name="irnet_wsis")
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    return cfg


def gt_records(cfg, max_images):
    if not cfg.PIPELINE.GT_DATASET:
        raise BadInputError("PIPELINE.GT_DATASET is empty: name the *_instance dataset of the training images")
    records = DatasetCatalog.get(cfg.PIPELINE.GT_DATASET)
    # only the images the pipeline labelled (a weak set leaves out images without a label in the class map)
    labelled = {r["image_id"] for r in stage_records(cfg, limit=False)}
    records = [r for r in records if r["image_id"] in labelled]
    max_images = max_images or cfg.PIPELINE.MAX_IMAGES
    if max_images:
        records = records[:max_images]
    return records


def load_cams(cfg, record, key="cam_full"):
    path = output_path(work_paths(cfg)["cams"], record["image_id"], ".npz")
    if not os.path.isfile(path):
        raise bad_input(path, "missing CAMs; run tools/generate_pseudo.py --stages cams", record["image_id"])
    with np.load(path) as data:
        return data[key].astype(np.float32), data["classes"]


def write_table(out_dir, name, headers, rows, payload):
    os.makedirs(out_dir, exist_ok=True)
    rows = [[f"{v:.1f}" if isinstance(v, float) else v for v in row] for row in rows]
    md = tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True)
    with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(payload, f, indent=2)
    print(f"\n{name}\n{md}")
    return md


def cam_sweep(cfg, records, out_dir, num_classes):
    thresholds = [float(t) for t in cfg.CAM_INFERENCE.EVAL_THRESHOLDS]
    results, ious = sweep_cam_thresholds(lambda r: load_cams(cfg, r), records, thresholds, num_classes,
                                         per_class=True)
    best = max(results, key=results.get)
    rows = [[f"{t:.2f}", results[t]] for t in thresholds]
    names = ["background"] + list(MetadataCatalog.get(cfg.PIPELINE.GT_DATASET).thing_classes)
    write_table(out_dir, "cam_threshold_sweep", ["background threshold", "CAM mIoU"], rows,
                {"miou": {str(t): v for t, v in results.items()}, "best_threshold": best,
                 "best_miou": results[best], "images": len(records),
                 "iou_at_best": {n: (None if np.isnan(v) else round(float(v), 2)) for n, v in zip(names, ious[best])}})
    plot_threshold_sweep(results, os.path.join(out_dir, "cam_threshold_sweep.png"))
    return results, best


def table1(cfg, records, out_dir, num_classes):
    mean_d = load_mean_displacement(cfg)
    results = {}
    for method, _ in TABLE1_ROWS:
        def predict(record, method=method):
            return encode_instances(synthesize_record(cfg, record, method=method, mean_displacement=mean_d))

        results[method] = evaluate_pseudo_instances(predict, records, num_classes)
    rows = [[label, results[m]["AP50r"], results[m]["AP70r"]] for m, label in TABLE1_ROWS]
    payload = {m: {"AP50r": results[m]["AP50r"], "AP70r": results[m]["AP70r"]} for m, _ in TABLE1_ROWS}
    payload["images"] = len(records)
    write_table(out_dir, "table1", ["Method", "AP^r_50", "AP^r_70"], rows, payload)
    return payload


def table2(cfg, records, out_dir, num_classes, cam_results=None):
    if cam_results is None:
        cam_results, _ = cam_sweep(cfg, records, out_dir, num_classes)
    best = max(cam_results, key=cam_results.get)
    propagated = evaluate_semantic_labels(lambda record: semantic_record(cfg, record), records, num_classes)
    plane = cfg.SYNTHESIS.SEMANTIC_BACKGROUND_THRESHOLD
    rows = [[f"CAM (background {best:.2f})", cam_results[best]],
            [f"Prop. w/ IRNet (Ours, background {plane:.2f})", propagated]]
    payload = {"cam": cam_results[best], "cam_threshold": best, "irnet": propagated, "irnet_threshold": plane,
               "images": len(records)}
    write_table(out_dir, "table2", ["Method", "mIoU"], rows, payload)
    return payload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--tables", default="cam,table1,table2", help="comma-separated subset of cam,table1,table2")
    parser.add_argument("--max-images", type=int, default=0,
                        help="evaluate the first N images only (0: PIPELINE.MAX_IMAGES, else all)")
    parser.add_argument("--output", default="", help="default: <WORK_DIR>/eval")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    args = parser.parse_args(argv)
    args.tables = args.tables.split(",")
    unknown = set(args.tables) - {"cam", "table1", "table2"}
    if unknown:
        parser.error(f"unknown table(s) {sorted(unknown)}")
    cfg = setup(args)
    records = gt_records(cfg, args.max_images)
    num_classes = len(MetadataCatalog.get(cfg.PIPELINE.GT_DATASET).thing_classes)
    out_dir = args.output or os.path.join(cfg.PIPELINE.WORK_DIR, "eval")
    results = {}
    cam_results = None
    if "cam" in args.tables:
        cam_results, _ = cam_sweep(cfg, records, out_dir, num_classes)
        results["cam"] = cam_results
    if "table1" in args.tables:
        results["table1"] = table1(cfg, records, out_dir, num_classes)
    if "table2" in args.tables:
        results["table2"] = table2(cfg, records, out_dir, num_classes, cam_results)
    return results


if __name__ == "__main__":
    main()
