#!/usr/bin/env python
"""Statistics of the built-in synthetic set: generation time, instances an image, touching same-class pairs.

    python benchmarks/synthetic_stats.py --root /tmp/synthetic_voc

An image "has touching same-class instances" when two instances of one class
touch or overlap: one's mask dilated by 1 px meets the other (void band
excluded, as in SegmentationObject).
"""
import argparse
import os
import shutil
import sys
import time
from collections import Counter

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main():
    from irnet_wsis.data.synthetic import generate_synthetic_voc, render_image

    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="/tmp/synthetic_voc_stats")
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--num-val", type=int, default=300)
    args = parser.parse_args()
    shutil.rmtree(args.root, ignore_errors=True)
    start = time.perf_counter()
    meta = generate_synthetic_voc(args.root, args.num_train, args.num_val)
    seconds = time.perf_counter() - start
    counts = Counter(len(v) for v in meta["instances"].values())
    multi, touching = 0, 0
    kernel = np.ones((3, 3), np.uint8)
    for split, n in (("train", args.num_train), ("val", args.num_val)):
        for i in range(n):
            _, instances = render_image([0, {"train": 1, "val": 2}[split], i], 128)
            by_class = {}
            for c, m in instances:
                by_class.setdefault(c, []).append(m)
            groups = [ms for ms in by_class.values() if len(ms) >= 2]
            if not groups:
                continue
            multi += 1
            hit = any(
                (cv2.dilate(a.astype(np.uint8), kernel).astype(bool) & b).any()
                for ms in groups for k, a in enumerate(ms) for b in ms[k + 1:]
            )
            touching += hit
    total = sum(counts.values())
    mean = sum(k * v for k, v in counts.items()) / total
    print(f"generated {total} images in {seconds:.1f} s ({os.cpu_count()} cores)")
    print("instances per image:", dict(sorted(counts.items())), f"mean {mean:.2f}")
    print(f"images with >= 2 instances of a class: {multi}; of them with touching/overlapping same-class "
          f"instances: {touching} ({100.0 * touching / max(multi, 1):.1f}%)")


if __name__ == "__main__":
    main()
