"""Optimiser pieces of the CAM and IRNet stages: parameter groups, SGD and the polynomial LR decay.

The authors' code trains both networks with ``PolyOptimizer(params, lr, weight_decay, max_step)``, a
``torch.optim.SGD`` subclass that calls ``SGD.__init__(params, lr, weight_decay)``: SGD's third
positional argument is ``momentum``, so their networks were trained with momentum equal to the weight
decay (1e-4), i.e. plain SGD; each parameter group carries its own weight decay (1e-4), and the 0.9
stored as ``momentum`` is only the poly power. Past ``max_step`` their lr stays at its last value.
"""
from typing import Dict

import torch
from detectron2.solver import LRMultiplier
from fvcore.common.param_scheduler import ParamScheduler

__all__ = ["build_param_groups", "build_poly_lr_scheduler", "build_optimizer", "HeldPolynomialDecay"]


def build_param_groups(model: torch.nn.Module, base_lr: float, weight_decay: float,
                       lr_multipliers: Dict[str, float] = None):
    """Trainable parameters grouped by learning rate, each group with its own ``weight_decay``.

    ``lr_multipliers`` maps a parameter-name prefix (e.g. ``"classifier."``) to a
    multiplier of ``base_lr``; the first matching prefix wins. Frozen parameters
    are left out.
    """
    lr_multipliers = lr_multipliers or {}
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        mult = next((m for prefix, m in lr_multipliers.items() if name.startswith(prefix)), 1.0)
        groups.setdefault(mult, []).append(p)
    return [{"params": ps, "lr": base_lr * m, "weight_decay": weight_decay} for m, ps in sorted(groups.items())]


def build_optimizer(model, solver_cfg, lr_multipliers=None):
    """SGD (``solver_cfg.MOMENTUM``; the authors ran 1e-4, see the module docstring) or Adam over
    ``build_param_groups`` (``solver_cfg.OPTIMIZER``)."""
    groups = build_param_groups(model, solver_cfg.BASE_LR, solver_cfg.WEIGHT_DECAY, lr_multipliers)
    if not groups:
        raise ValueError("no trainable parameters")
    name = solver_cfg.get("OPTIMIZER", "SGD").upper()
    if name == "SGD":
        return torch.optim.SGD(groups, lr=solver_cfg.BASE_LR, momentum=solver_cfg.MOMENTUM)
    if name == "ADAM":
        return torch.optim.Adam(groups, lr=solver_cfg.BASE_LR)
    raise ValueError(f"unknown optimizer {name!r} (SGD or ADAM)")


class HeldPolynomialDecay(ParamScheduler):
    """Multiplier (1 - where) ** power for where = it / num_steps up to the schedule's last step
    (num_steps - 1) / num_steps, then held there: a resumed or extended run keeps the last lr, as the
    authors' PolyOptimizer does, instead of raising a negative base to a fractional power."""

    def __init__(self, power: float, num_steps: int):
        self._power = power
        self._last = (max(num_steps, 1) - 1) / max(num_steps, 1)

    def __call__(self, where: float) -> float:
        return (1.0 - min(where, self._last)) ** self._power


def build_poly_lr_scheduler(optimizer, max_iter: int, power: float = 0.9):
    """Step k (0-based) runs at lr0 * (1 - k / max_iter) ** power per parameter group; from step max_iter on,
    at the value of step max_iter - 1 (Detectron2 LRMultiplier over ``HeldPolynomialDecay``)."""
    return LRMultiplier(optimizer, HeldPolynomialDecay(power, max_iter), max(max_iter, 1))
