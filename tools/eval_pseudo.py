#!/usr/bin/env python
"""Quality of the pseudo labels on the training split (the paper's Tables 1 and 2), and of the CAMs on a val set.

    python tools/eval_pseudo.py --config-file configs/synthetic/irnet_pseudo.yaml
    python tools/eval_pseudo.py --config-file ... --tables cam,table1,table2 --max-images 500
    python tools/eval_pseudo.py --config-file ... --val coco_mini_val_cls

Reads the work directory of tools/generate_pseudo.py (CAMs, IRNet outputs) and
the ground truth of the training images: PIPELINE.GT_DATASET (*_instance
set(s), comma-separated), or when empty the *_instance twin of each *_cls set
of DATASETS.TRAIN. Images are matched by file name. Writes to <WORK_DIR>/eval/:

- cam_threshold_sweep.{md,json,png}: CAM mIoU for each background threshold;
- table1.{md,json}: AP^r_50 (and AP^r_70) of pseudo instances: CAM + connected
  components, CAM + class boundary, CAM + displacement field + class boundary;
- table2.{md,json}: mIoU of CAM vs propagated semantic labels (and, with
  SYNTHESIS.SEMANTIC_CRF.ENABLED, of the CRF-refined labels the semantic stage writes).

``--val NAMES`` (weak *_cls set(s), comma-separated) measures the CAM network
of <WORK_DIR>/cam on other images instead: it computes their CAMs into
<WORK_DIR>/val/cams (the checkpoint copied to <WORK_DIR>/val/cam; CAMs of an
older checkpoint are recomputed) and sweeps the background threshold against
``--val-gt`` (default: the *_instance twins), writing <WORK_DIR>/val/eval/.

Bad input (e.g. ground truth that matches none of the images) is one line on
stderr (``error: ...``) and exit status 2.
"""
import argparse
import filecmp
import json
import logging
import os
import shutil
import sys

import numpy as np
from detectron2.data import MetadataCatalog
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402
from irnet_wsis.cli import exit_on_bad_input, load_cfg, setup_package_logger  # noqa: E402
from irnet_wsis.data.builtin import dataset_names, instance_twins  # noqa: E402
from irnet_wsis.engine.per_image import output_path  # noqa: E402
from irnet_wsis.engine.stages import (  # noqa: E402
    encode_instances, refine_semantic_label, run_stage, semantic_record, synthesize_record)
from irnet_wsis.engine.work_dir import gt_dataset_names, gt_records, load_mean_displacement, work_paths  # noqa: E402
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
    setup_package_logger()
    cfg = load_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    return cfg


def val_cfg(cfg, val_names, gt_names):
    """The cfg of a CAM sweep on a val set: DATASETS.TRAIN ``val_names``, PIPELINE.GT_DATASET ``gt_names``,
    PIPELINE.WORK_DIR <WORK_DIR>/val."""
    c = cfg.clone()
    c.defrost()
    c.DATASETS.TRAIN = tuple(val_names)
    c.PIPELINE.GT_DATASET = ",".join(gt_names)
    c.PIPELINE.WORK_DIR = os.path.join(cfg.PIPELINE.WORK_DIR, "val")
    c.freeze()
    return c


def compute_val_cams(cfg, vcfg):
    """CAMs of the images of ``vcfg`` (``val_cfg``) by the CAM network of ``cfg``'s work directory.

    The checkpoint is copied to <WORK_DIR>/val/cam; when the copy there differs (the network was
    retrained), the val CAMs it made are deleted first. Returns the cams stage's summary.
    """
    source, target = work_paths(cfg)["cam_model"], work_paths(vcfg)["cam_model"]
    if not os.path.isfile(source):
        raise BadInputError(f"{source}: CAM checkpoint not found; run tools/generate_pseudo.py --stages train_cam")
    if not (os.path.isfile(target) and filecmp.cmp(source, target, shallow=False)):
        shutil.rmtree(work_paths(vcfg)["cams"], ignore_errors=True)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)
    return run_stage(vcfg, "cams")


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


def class_names(cfg):
    """Names of classes 0..C-1 of the ground truth (the same as the training sets', ``gt_records``)."""
    return list(MetadataCatalog.get(gt_dataset_names(cfg)[0]).thing_classes)


def cam_sweep(cfg, records, out_dir, num_classes):
    thresholds = [float(t) for t in cfg.CAM_INFERENCE.EVAL_THRESHOLDS]
    results, ious = sweep_cam_thresholds(lambda r: load_cams(cfg, r), records, thresholds, num_classes,
                                         per_class=True)
    best = max(results, key=results.get)
    rows = [[f"{t:.2f}", results[t]] for t in thresholds]
    names = ["background"] + class_names(cfg)
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

        results[method] = evaluate_pseudo_instances(predict, records, num_classes,
                                                    workers=cfg.SYNTHESIS.NUM_WORKERS)
    rows = [[label, results[m]["AP50r"], results[m]["AP70r"]] for m, label in TABLE1_ROWS]
    payload = {m: {"AP50r": results[m]["AP50r"], "AP70r": results[m]["AP70r"]} for m, _ in TABLE1_ROWS}
    payload["images"] = len(records)
    write_table(out_dir, "table1", ["Method", "AP^r_50", "AP^r_70"], rows, payload)
    return payload


def table2(cfg, records, out_dir, num_classes, cam_results=None):
    if cam_results is None:
        cam_results, _ = cam_sweep(cfg, records, out_dir, num_classes)
    best = max(cam_results, key=cam_results.get)
    def predict(record):  # the paper's labels and, with the CRF on, the ones the semantic stage writes, one walk
        walk = semantic_record(cfg, record, refine=False)
        if not cfg.SYNTHESIS.SEMANTIC_CRF.ENABLED:
            return {"irnet": walk}
        return {"irnet": walk, "irnet_crf": refine_semantic_label(cfg, record, walk)}

    propagated = evaluate_semantic_labels(predict, records, num_classes, workers=cfg.SYNTHESIS.NUM_WORKERS)
    plane = cfg.SYNTHESIS.SEMANTIC_BACKGROUND_THRESHOLD
    rows = [[f"CAM (background {best:.2f})", cam_results[best]],
            [f"Prop. w/ IRNet (Ours, background {plane:.2f})", propagated["irnet"]]]
    payload = {"cam": cam_results[best], "cam_threshold": best, "irnet": propagated["irnet"],
               "irnet_threshold": plane, "images": len(records)}
    if "irnet_crf" in propagated:  # not the paper
        payload["irnet_crf"] = propagated["irnet_crf"]
        rows.append(["Prop. w/ IRNet + dense CRF (SYNTHESIS.SEMANTIC_CRF)", payload["irnet_crf"]])
    write_table(out_dir, "table2", ["Method", "mIoU"], rows, payload)
    return payload


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--tables", default="",
                        help="comma-separated subset of cam,table1,table2 (default: all; with --val: cam)")
    parser.add_argument("--max-images", type=int, default=0,
                        help="evaluate the first N images only (0: PIPELINE.MAX_IMAGES, else all)")
    parser.add_argument("--val", default="", metavar="NAMES",
                        help="CAM sweep on these weak (*_cls) set(s), comma-separated, with the CAM network of "
                             "<WORK_DIR>/cam; writes <WORK_DIR>/val/{cam,cams,eval}")
    parser.add_argument("--val-gt", default="", metavar="NAMES",
                        help="ground truth of --val, *_instance set(s) (default: the *_instance twin of each)")
    parser.add_argument("--output", default="", help="default: <WORK_DIR>/eval (with --val: <WORK_DIR>/val/eval)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    tables = args.tables.split(",") if args.tables else (["cam"] if args.val else ["cam", "table1", "table2"])
    unknown = set(tables) - {"cam", "table1", "table2"}
    if unknown:
        parser.error(f"unknown table(s) {sorted(unknown)}")
    if args.val and tables != ["cam"]:
        parser.error("--val measures the CAMs only (--tables cam): Tables 1 and 2 need IRNet outputs of its images")
    if args.val_gt and not args.val:
        parser.error("--val-gt goes with --val")
    cfg = setup(args)
    if args.val:
        train_cfg, val_names = cfg, dataset_names(args.val)
        cfg = val_cfg(train_cfg, val_names, dataset_names(args.val_gt) or instance_twins(val_names))
        records = gt_records(cfg, args.max_images)  # checks the ground truth before computing CAMs
        compute_val_cams(train_cfg, cfg)
    else:
        records = gt_records(cfg, args.max_images)
    num_classes = len(class_names(cfg))
    out_dir = args.output or os.path.join(cfg.PIPELINE.WORK_DIR, "eval")
    results = {}
    cam_results = None
    if "cam" in tables:
        cam_results, _ = cam_sweep(cfg, records, out_dir, num_classes)
        results["cam"] = cam_results
    if "table1" in tables:
        results["table1"] = table1(cfg, records, out_dir, num_classes)
    if "table2" in tables:
        results["table2"] = table2(cfg, records, out_dir, num_classes, cam_results)
    return results


if __name__ == "__main__":
    exit_on_bad_input(main)
