#!/usr/bin/env python
"""Does pydensecrf release the GIL? 16 dense CRFs (the relation stage's settings, random 384 x 512 images and
3-label maps) one after another, then on a pool of two threads; prints both times and the speed-up.

    OMP_NUM_THREADS=1 python benchmarks/crf_threads.py
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from irnet_wsis.pseudo.relations import crf_refine  # noqa: E402

CRF = dict(gt_prob=0.7, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=50, bilateral_srgb=5, bilateral_compat=10,
           iterations=10)


def main():
    rng = np.random.default_rng(0)
    jobs = [(rng.integers(0, 255, (384, 512, 3), dtype=np.uint8), rng.integers(0, 3, (384, 512))) for _ in range(16)]
    start = time.perf_counter()
    for image, labels in jobs:
        crf_refine(image, labels, 3, CRF)
    one = time.perf_counter() - start
    with ThreadPoolExecutor(2) as pool:
        start = time.perf_counter()
        list(pool.map(lambda job: crf_refine(job[0], job[1], 3, CRF), jobs))
        two = time.perf_counter() - start
    print(f"16 CRFs of 384 x 512, 3 labels: one after another {one:.1f} s, two threads {two:.1f} s (x{one / two:.2f})")


if __name__ == "__main__":
    main()
