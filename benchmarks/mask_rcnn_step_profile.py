"""Where a Mask R-CNN training iteration spends its time: backbone (bottom-up, FPN), RPN, box head, mask head,
backward, optimizer step.

    python benchmarks/mask_rcnn_step_profile.py --config-file configs/synthetic/mask_rcnn_full.yaml --iters 10
    python benchmarks/mask_rcnn_step_profile.py --config-file configs/synthetic/mask_rcnn_full.yaml --iters 10 \
        MODEL.ROI_MASK_HEAD.CONV_DIM 128

Builds the config's model with tools/train_net.py's Trainer.build_model (MODEL.BFLOAT16 and
MODEL.SEPARABLE_ROI_ALIGN as set; random start: MODEL.CAM_BACKBONE_INIT and MODEL.WEIGHTS are ignored, which does
not change the time) and the config's training loader, then runs ``--iters`` timed iterations (after two untimed) on
the first batches of DATASETS.TRAIN, with the config's optimizer. Forward time is split by forward hooks on the
model's modules (the FPN's share is the backbone's minus the bottom-up network's), backward is one figure. Prints
seconds per iteration for each phase and torch.profiler's ten most expensive operators (self CPU time) of one more
iteration. Nothing is written.
"""
import os
import sys
import time
from collections import defaultdict

import torch
from tabulate import tabulate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

from detectron2.data import build_detection_train_loader  # noqa: E402
from detectron2.solver import build_optimizer  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

import irnet_wsis  # noqa: E402,F401  registers datasets, backbones
from irnet_wsis.cli import step_profile_args  # noqa: E402
from irnet_wsis.config import setup_cfg  # noqa: E402
from train_net import Trainer  # noqa: E402  (tools/train_net.py: its model, built the same way)

#: timed modules: phase name -> attribute path from the model (missing ones are skipped)
PHASES = {
    "backbone": "backbone",
    "bottom-up network": "backbone.bottom_up",
    "RPN": "proposal_generator",
    "box head": "roi_heads.box_head",
    "box pooler": "roi_heads.box_pooler",
    "box predictor": "roi_heads.box_predictor",
    "mask pooler": "roi_heads.mask_pooler",
    "mask head": "roi_heads.mask_head",
}


def add_timers(model, times):
    """Forward hooks that add each PHASES module's forward seconds to ``times``."""
    for phase, path in PHASES.items():
        try:
            module = model.get_submodule(path)
        except AttributeError:  # e.g. a model without an FPN's bottom_up
            continue
        start = {}
        module.register_forward_pre_hook(lambda m, i, start=start: start.__setitem__("t", time.perf_counter()))
        module.register_forward_hook(
            lambda m, i, o, start=start, phase=phase: times.__setitem__(
                phase, times[phase] + time.perf_counter() - start["t"]))


def timed_step(model, optimizer, batch, times):
    t = time.perf_counter()
    losses = model(batch)
    loss = sum(losses.values())
    now = time.perf_counter()
    times["forward"] += now - t
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    t, now = now, time.perf_counter()
    times["backward"] += now - t
    optimizer.step()
    times["optimizer step"] += time.perf_counter() - now


def main():
    with EventStorage(0):  # the RPN and ROI heads log to it
        run()


def run():
    args = step_profile_args(__doc__, default_iters=10)
    cfg = setup_cfg(args.config_file, args.opts)
    cfg.defrost()
    cfg.MODEL.DEVICE = "cpu"
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.MODEL.CAM_BACKBONE_INIT = ""  # a random start: the same time
    cfg.freeze()
    torch.manual_seed(0)
    model = Trainer.build_model(cfg)
    model.train()
    optimizer = build_optimizer(cfg, model)
    batches = iter(build_detection_train_loader(cfg))
    data = [next(batches) for _ in range(args.iters + 3)]
    for batch in data[:2]:  # warm-up, untimed
        timed_step(model, optimizer, batch, defaultdict(float))
    times = defaultdict(float)
    add_timers(model, times)
    for batch in data[2:2 + args.iters]:
        timed_step(model, optimizer, batch, times)
    per_it = {k: v / args.iters for k, v in times.items()}
    rows = [
        ["backbone: bottom-up network", per_it.get("bottom-up network", 0.0)],
        ["backbone: FPN", per_it.get("backbone", 0.0) - per_it.get("bottom-up network", 0.0)],
        ["RPN (head, anchors, losses, proposals)", per_it.get("RPN", 0.0)],
        ["box pooler", per_it.get("box pooler", 0.0)],
        ["box head (convs / fcs)", per_it.get("box head", 0.0)],
        ["box predictor", per_it.get("box predictor", 0.0)],
        ["mask pooler", per_it.get("mask pooler", 0.0)],
        ["mask head (convs, upsampling, loss)", per_it.get("mask head", 0.0)],
        ["forward, all", per_it["forward"]],
        ["backward", per_it["backward"]],
        ["optimizer step", per_it["optimizer step"]],
        ["iteration", per_it["forward"] + per_it["backward"] + per_it["optimizer step"]],
    ]
    print(f"{args.config_file} {' '.join(args.opts)}: batch {cfg.SOLVER.IMS_PER_BATCH}, "
          f"{args.iters} iterations, {torch.get_num_threads()} threads")
    print(tabulate(rows, headers=["phase", "s / iteration"], floatfmt=".3f", tablefmt="pipe"))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        timed_step(model, optimizer, data[-1], defaultdict(float))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


if __name__ == "__main__":
    main()
