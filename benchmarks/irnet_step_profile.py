"""Where an IRNet training iteration spends its time: backbone, the two branches, each loss, backward, step.

    python benchmarks/irnet_step_profile.py --config-file configs/synthetic/irnet_pseudo.yaml --iters 5

Builds the config's IRNet (stage 3: its backbone frozen or not, MODEL.BFLOAT16 as set) with a random start and
runs ``--iters`` timed training iterations (after one untimed) on one batch of the config's size: random pixels
at INPUT.IRNET.CROP_SIZE and relation labels of random 8 x 8-cell blocks (background, two classes, ignored), so
that every pair set is populated. The losses are the paper's Eq. 5, 6 and 8 with unit weights, called one by one so
that each is timed: the region options (MODEL.IRNET.DISP_PAIRS_WITHIN instance, the region losses) are not run, so
a config that sets them spends a little more on its losses than shown. Prints seconds per iteration for each phase
(wall clock, the phases run one after the other) and torch.profiler's ten most expensive operators (self CPU
time) of one more iteration.
Nothing is read from or written to the work directory.
"""
import os
import sys
import time
from collections import defaultdict

import torch
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from detectron2.modeling import build_model  # noqa: E402

from irnet_wsis.cli import step_profile_args  # noqa: E402
from irnet_wsis.config import setup_cfg  # noqa: E402
from irnet_wsis.engine.irnet_trainer import irnet_stage_cfg  # noqa: E402
from irnet_wsis.layers.pixel_pairs import PixelPairs  # noqa: E402
from irnet_wsis.modeling.irnet_losses import boundary_losses, displacement_losses, pair_sets  # noqa: E402


def random_batch(cfg, generator):
    """(N, 3, S, S) uint8 pixels and (N, S/4, S/4) relation labels of random 8 x 8-cell blocks."""
    n, size = cfg.SOLVER.IMS_PER_BATCH, cfg.INPUT.IRNET.CROP_SIZE
    cells = -(-size // 4)
    images = torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)
    blocks = torch.tensor([0, 1, 2, 255])[torch.randint(0, 4, (n, -(-cells // 8), -(-cells // 8)),
                                                        generator=generator)]
    labels = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)[:, :cells, :cells]
    return images, labels


def timed_step(model, optimizer, images, labels, pairs, times):
    """One training iteration of Eq. 9, its phases' seconds added to ``times``."""
    def mark(name, start):
        now = time.perf_counter()
        times[name] += now - start
        return now

    t = time.perf_counter()
    levels = model.levels(images)
    t = mark("backbone", t)
    displacement = model.disp_head(levels)
    t = mark("displacement branch", t)
    boundary = model.boundary_head(levels)[:, 0]
    t = mark("boundary branch", t)
    pos_fg, pos_bg, neg = pair_sets(labels, pairs)
    t = mark("pair sets", t)
    aff = pairs.affinity(boundary)
    t = mark("affinities (path max, Eq. 7)", t)
    d_fg, d_bg = displacement_losses(displacement, pos_fg, pos_bg, pairs)
    t = mark("Eq. 5, 6", t)
    b_fg, b_bg, b_neg = boundary_losses(boundary, pos_fg, pos_bg, neg, pairs, aff=aff)
    t = mark("Eq. 8", t)
    loss = d_fg + d_bg + b_fg + b_bg + b_neg
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    t = mark("backward", t)
    optimizer.step()
    mark("optimizer step", t)


def main():
    args = step_profile_args(__doc__, default_iters=5)
    cfg = irnet_stage_cfg(setup_cfg(args.config_file, args.opts))
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images, labels = random_batch(cfg, torch.Generator().manual_seed(0))
    pairs = PixelPairs.get(model.train_radius)
    times = defaultdict(float)
    timed_step(model, optimizer, images, labels, pairs, defaultdict(float))  # warm-up, untimed
    for _ in range(args.iters):
        timed_step(model, optimizer, images, labels, pairs, times)
    total = sum(times.values())
    rows = [[name, f"{s / args.iters:.3f}", f"{100 * s / total:.0f}%"] for name, s in times.items()]
    rows.append(["iteration", f"{total / args.iters:.3f}", "100%"])
    print(f"IRNet training iteration: batch {images.shape[0]}, crop {images.shape[-1]} px, radius "
          f"{model.train_radius} ({len(pairs)} directions), {torch.get_num_threads()} threads, backbone "
          f"{'frozen' if model.freeze_backbone else 'trained'}")
    print(tabulate(rows, headers=["phase", "s / iteration", "share"], tablefmt="github"))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        timed_step(model, optimizer, images, labels, pairs, defaultdict(float))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


if __name__ == "__main__":
    main()
