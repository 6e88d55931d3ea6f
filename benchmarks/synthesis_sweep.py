#!/usr/bin/env python
"""Table 1's AP^r of one synthesis method under several sets of config options, on a finished work directory.

Reads ``PIPELINE.WORK_DIR``'s CAMs and IRNet outputs (as ``tools/eval_pseudo.py --tables table1``), synthesises
the pseudo instances of every ground-truth image of ``PIPELINE.GT_DATASET`` once per option set (two forked
processes, one torch thread each) and prints AP^r_50 / AP^r_70 and the instance count per set. Writes nothing.

    python benchmarks/synthesis_sweep.py --config-file configs/coco/lite0_pseudo.yaml --method full \\
        --sets "SYNTHESIS.CENTROID_THRESHOLD 2.5;SYNTHESIS.SUBTRACT_MEAN False SYNTHESIS.REFINE_ITERATIONS 300" \\
        PIPELINE.WORK_DIR W [more options shared by every set]
"""
import argparse
import multiprocessing as mp
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from eval_pseudo import class_names, setup  # noqa: E402

from irnet_wsis.engine.stages import encode_instances, synthesize_record  # noqa: E402
from irnet_wsis.engine.work_dir import gt_records, load_mean_displacement  # noqa: E402
from irnet_wsis.evaluation.pseudo_quality import evaluate_pseudo_instances  # noqa: E402

_STATE = {}


def _predict(record):
    torch.set_num_threads(1)
    cfg, method = _STATE["cfg"], _STATE["method"]
    mean_d = _STATE["mean_displacement"]
    return record["image_id"], encode_instances(synthesize_record(cfg, record, method=method, mean_displacement=mean_d))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--method", default="full", choices=("cam", "boundary", "full"))
    parser.add_argument("--sets", required=True, help="option sets separated by ';', each 'KEY VALUE ...'")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="options shared by every set")
    args = parser.parse_args(argv)
    base = setup(argparse.Namespace(config_file=args.config_file, opts=args.opts))
    records = gt_records(base, 0)
    num_classes = len(class_names(base))
    print(f"| options ({args.method}, {len(records)} images) | AP^r_50 | AP^r_70 | instances |")
    print("|---|---|---|---|")
    for option_set in args.sets.split(";"):
        cfg = base.clone()
        cfg.defrost()
        cfg.merge_from_list(option_set.split())
        cfg.freeze()
        _STATE.update(cfg=cfg, method=args.method,
                      mean_displacement=load_mean_displacement(cfg) if args.method == "full" else None)
        with mp.get_context("fork").Pool(args.workers) as pool:
            predictions = dict(pool.map(_predict, records, chunksize=4))
        result = evaluate_pseudo_instances(lambda record: predictions[record["image_id"]], records, num_classes)
        count = sum(map(len, predictions.values()))
        print(f"| {option_set.strip() or '(shared options only)'} | {result['AP50r']:.2f} | {result['AP70r']:.2f} "
              f"| {count} |", flush=True)


if __name__ == "__main__":
    main()
