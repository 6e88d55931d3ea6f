#!/usr/bin/env python
"""Seconds per training iteration and per inference batch of a config's CAM network (random weights, random
128-px images) in float32, channels-last float32, and bfloat16 autocast (with and without channels-last):
what the convolution-bound stages of the main job could gain from the CPU's bfloat16 units (AMX, AVX512-BF16).
Each row also gives the rate in GFLOP/s (convolution FLOPs counted by ``torch.utils.flop_counter``), against the
peak of one large convolution (256 -> 256 channels, 3x3, 16 x 32 x 32) in the same precision: a stage whose
rate is near that peak is at this CPU's floor, and only fewer FLOPs make it faster.

    python benchmarks/cpu_precision.py --config-file configs/synthetic/irnet_pseudo.yaml [--iters 5] [opts]

Run it alone on the machine: the times are the point.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import irnet_wsis  # noqa: E402,F401  registers CAMNet
from irnet_wsis.config import setup_cfg  # noqa: E402

VARIANTS = (("float32", False, None), ("float32 channels-last", True, None),
            ("bfloat16 autocast", False, torch.bfloat16), ("bfloat16 autocast channels-last", True, torch.bfloat16))


def timed(fn, iters):
    fn()  # warm-up: oneDNN picks its kernels on the first call
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def counted_flops(fn):
    """Floating-point operations of one call of ``fn`` (convolutions and matrix products, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def convolution_peak(channels_last, dtype, iters):
    """GFLOP/s of one 3x3 convolution, 256 -> 256 channels, on a (16, 256, 32, 32) input: about the best this CPU
    does on a convolution of the CAM network's kind in that precision."""
    conv = torch.nn.Conv2d(256, 256, 3, padding=1)
    x = torch.randn(16, 256, 32, 32)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)

    def forward():
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            conv(x)

    return 2 * x.numel() * 256 * 9 / timed(forward, iters) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/synthetic/irnet_pseudo.yaml")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    from detectron2.modeling import build_model

    cfg = setup_cfg(args.config_file, args.opts, freeze=False)
    cfg.MODEL.META_ARCHITECTURE = "CAMNet"
    # the variants set the precision themselves: a model built with MODEL.BFLOAT16 (the synthetic config's
    # default) would run every variant in bfloat16
    cfg.MODEL.BFLOAT16 = False
    batch, size = cfg.PIPELINE.CAM_SOLVER.IMS_PER_BATCH, cfg.INPUT.CAM.CROP_SIZE
    scales = tuple(cfg.CAM_INFERENCE.SCALES)
    torch.manual_seed(0)
    images = torch.randint(0, 255, (batch, 3, size, size), dtype=torch.uint8)
    labels = (torch.rand(batch, cfg.MODEL.CAM.NUM_CLASSES) < 0.3).float()
    print(f"{torch.get_num_threads()} threads, batch {batch}, {size} px, inference scales {scales} + flip, "
          f"bf16 CPU support: {torch.backends.mkldnn.is_available()}")
    print("| variant | train s / iteration (GFLOP/s) | inference s / batch of 8 images (GFLOP/s) | one-convolution "
          "peak GFLOP/s |\n|---|---|---|---|")
    train_flops = infer_flops = None
    for name, channels_last, dtype in VARIANTS:
        model = build_model(cfg)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        inputs = [{"image": im, "labels": lb} for im, lb in zip(images, labels)]

        def step():
            with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = model(inputs)["loss_cls"]
            opt.zero_grad()
            loss.backward()
            opt.step()

        def infer():
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                x = model.normalize(images[:8])
                for s in scales:
                    xs = torch.nn.functional.interpolate(x, scale_factor=s, mode="bilinear") if s != 1 else x
                    xs = torch.cat([xs, xs.flip(-1)])
                    if channels_last:
                        xs = xs.contiguous(memory_format=torch.channels_last)
                    model.cam_logits(xs)

        model.train()
        if train_flops is None:
            train_flops = counted_flops(step)
        train_s = timed(step, args.iters)
        model.eval()
        if infer_flops is None:
            infer_flops = counted_flops(infer)
        infer_s = timed(infer, args.iters)
        print(f"| {name} | {train_s:.3f} ({train_flops / train_s / 1e9:.0f}) | {infer_s:.3f} "
              f"({infer_flops / infer_s / 1e9:.0f}) | {convolution_peak(channels_last, dtype, args.iters):.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
