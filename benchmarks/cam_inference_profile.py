#!/usr/bin/env python
"""Seconds per photo of the cams stage's inference (the config's scales and flip, its precision) and where they go
(``torch.profiler``, self CPU time by operator), with the backbone's frozen BNs folded into their convolutions and
not (``MODEL.EFFICIENTNET.FOLD_FROZEN_BN``). Random weights and random photos of one size: the time does not depend
on either.

    python benchmarks/cam_inference_profile.py --config-file configs/coco/lite2_pseudo.yaml [--size 480 640] [--photos 3]

Run it alone, after ``source tools/allocator.sh`` as the benchmark does: the times are the point.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402,F401  registers CAMNet
from irnet_wsis.config import setup_cfg  # noqa: E402
from irnet_wsis.engine.cam_trainer import cam_inference_cfg  # noqa: E402
from irnet_wsis.modeling.cam_inference import multiscale_cams_batch  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/coco/lite2_pseudo.yaml")
    parser.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    parser.add_argument("--photos", type=int, default=3, help="timed photos per variant (after one warm-up)")
    parser.add_argument("--top", type=int, default=6, help="operators shown per variant")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    from detectron2.modeling import build_model
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    image = torch.randint(0, 256, (1, 3, *args.size)).float()
    classes = [torch.tensor([0, 1])]
    print(f"{torch.get_num_threads()} threads, one {args.size[0]} x {args.size[1]} photo at a time")
    print("| FOLD_FROZEN_BN | s / photo | operators, share of self CPU time |\n|---|---|---|")
    for fold in (False, True):
        cfg = setup_cfg(args.config_file, args.opts + ["MODEL.EFFICIENTNET.FOLD_FROZEN_BN", str(fold),
                                                       "MODEL.EFFICIENTNET.PRETRAINED", "False",
                                                       "MODEL.CAM.HEAD_INIT_CLASS_MAP", ""])
        c = cam_inference_cfg(cfg)
        model = build_model(c).eval()
        scales, flip = tuple(cfg.CAM_INFERENCE.SCALES), cfg.CAM_INFERENCE.FLIP

        def run():
            multiscale_cams_batch(model, image, classes, scales, flip)

        run()
        start = time.perf_counter()
        for _ in range(args.photos):
            run()
        seconds = (time.perf_counter() - start) / args.photos
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        shares = ", ".join(f"{e.key} {100 * e.self_cpu_time_total / total:.0f}%" for e in events[:args.top])
        print(f"| {fold} | {seconds:.3f} | {shares} |", flush=True)


if __name__ == "__main__":
    main()
