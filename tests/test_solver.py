"""Stage solvers: the authors' effective SGD (momentum 1e-4, weight decay per group) and the poly schedule."""
import os

import pytest
import torch
from detectron2.config import CfgNode as CN

from irnet_wsis.solver import build_optimizer, build_poly_lr_scheduler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def _solver(momentum, lr=0.1, weight_decay=0.0):
    return CN({"BASE_LR": lr, "WEIGHT_DECAY": weight_decay, "MOMENTUM": momentum, "OPTIMIZER": "SGD"})


class _TwoParts(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Parameter(torch.tensor([1.0]))
        self.classifier = torch.nn.Parameter(torch.tensor([1.0]))


def test_poly_lr_at_every_step_of_a_10_step_schedule_and_held_after_it():
    model = _TwoParts()
    opt = build_optimizer(model, _solver(1e-4), {"classifier": 10.0})
    sched = build_poly_lr_scheduler(opt, max_iter=10, power=0.9)
    seen = []
    for _ in range(13):  # 3 steps past the end: a resumed or extended run
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    # step k runs at lr0 * (1 - k / 10) ** 0.9; from step 10 on, at step 9's value 0.1 ** 0.9
    expected = [(1 - k / 10) ** 0.9 for k in range(10)] + [0.1 ** 0.9] * 3
    assert [s[0] for s in seen] == pytest.approx([0.1 * e for e in expected], rel=1e-12)
    assert [s[1] for s in seen] == pytest.approx([1.0 * e for e in expected], rel=1e-12)  # the x10 group
    assert all(isinstance(s[0], float) for s in seen)  # never complex


def _two_steps(momentum, weight_decay):
    """p = 1, gradients 2 then 3 (loss g * p), lr 0.1 -> the parameter after each step."""
    p = torch.nn.Parameter(torch.tensor([1.0]))
    model = torch.nn.Module()
    model.p = p
    opt = build_optimizer(model, _solver(momentum, lr=0.1, weight_decay=weight_decay))
    after = []
    for g in (2.0, 3.0):
        opt.zero_grad()
        (g * p).sum().backward()
        opt.step()
        after.append(p.item())
    return after, opt.param_groups[0]


def test_one_sgd_step_on_a_known_gradient_momentum_and_weight_decay_per_group():
    # weight decay 1e-4 is carried by the group; step 1: buf = g + wd p = 2 + 1e-4; p = 1 - 0.1 buf
    (p1, p2), group = _two_steps(momentum=1e-4, weight_decay=1e-4)
    assert group["weight_decay"] == 1e-4 and group["momentum"] == 1e-4
    assert p1 == pytest.approx(1 - 0.1 * 2.0001, abs=1e-7)
    # step 2: buf = 1e-4 * 2.0001 + (3 + 1e-4 p1): the first gradient is all but forgotten
    assert p2 == pytest.approx(p1 - 0.1 * (1e-4 * 2.0001 + 3 + 1e-4 * p1), abs=1e-7)
    # momentum 0.9: the first gradient still moves the second step by 0.9 * 2.0001
    (q1, q2), _ = _two_steps(momentum=0.9, weight_decay=1e-4)
    assert q1 == pytest.approx(p1, abs=1e-7)
    assert q2 == pytest.approx(q1 - 0.1 * (0.9 * 2.0001 + 3 + 1e-4 * q1), abs=1e-7)


def test_paper_configs_train_as_the_authors_ran():
    from irnet_wsis.config import setup_cfg

    cfg = setup_cfg(os.path.join(ROOT, "configs", "VOC", "irnet_pseudo.yaml"))
    for solver in (cfg.PIPELINE.CAM_SOLVER, cfg.PIPELINE.IRNET_SOLVER):
        assert solver.OPTIMIZER == "SGD" and solver.MOMENTUM == 1e-4 and solver.WEIGHT_DECAY == 1e-4
        assert solver.POLY_POWER == 0.9 and solver.BASE_LR == 0.1
    assert cfg.MODEL.CAM.HEAD_LR_MULTIPLIER == 10 and cfg.MODEL.IRNET.DISP_GRAD_MULTIPLIER == 10
    # the authors' loss scale: (B terms) / 2 + (D terms, each a mean over D's two channels) / 2
    irnet = cfg.MODEL.IRNET
    assert (irnet.LOSS_WEIGHT_DISP_FG, irnet.LOSS_WEIGHT_DISP_BG, irnet.LOSS_WEIGHT_BOUNDARY) == (0.25, 0.25, 0.5)
    assert cfg.INPUT.IRNET.RESIZE_TYPE == "scale" and tuple(cfg.INPUT.IRNET.RESIZE_SCALE) == (0.5, 1.5)
