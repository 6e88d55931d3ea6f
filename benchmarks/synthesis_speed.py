#!/usr/bin/env python
"""Time of synthesising the pseudo instances of one 512x384 image (stride-4 grid 96x128) on the CPU.

3 classes, 4 instances (a displacement field pointing at 4 centroids), radius 5, beta 10,
t = 256 steps, 100 refinement iterations (the paper's settings).

    python benchmarks/synthesis_speed.py --threads 2 --repeat 5
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main():
    import torch

    from irnet_wsis.pseudo.synthesis import synthesize_instances

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    h, w = 96, 128
    g = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    d = torch.zeros(2, h, w)
    for cy, cx in ((24, 32), (24, 96), (72, 32), (72, 96)):
        region = ((ys // 48) == cy // 48) & ((xs // 64) == cx // 64)
        d[0][region], d[1][region] = (cy - ys)[region], (cx - xs)[region]
    cams = torch.rand(3, h, w, generator=g)
    boundary = torch.rand(h, w, generator=g) * 0.2
    boundary[47:49, :] = 1.0
    boundary[:, 63:65] = 1.0
    times = []
    for _ in range(args.repeat + 1):
        start = time.perf_counter()
        out = synthesize_instances(cams, torch.tensor([0, 3, 5]), d, boundary, (384, 512), steps=256,
                                   refine_iterations=100)
        times.append(time.perf_counter() - start)
    times = times[1:]  # the first run builds the cached pair tables
    print(f"512x384 image, {len(out)} instances: median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f} s over {args.repeat} runs, {args.threads} threads")


if __name__ == "__main__":
    main()
