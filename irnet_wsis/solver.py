"""Optimiser pieces of the CAM and IRNet stages: parameter groups and the polynomial LR decay."""
from typing import Dict

import torch
from detectron2.solver import LRMultiplier
from fvcore.common.param_scheduler import PolynomialDecayParamScheduler

__all__ = ["build_param_groups", "build_poly_lr_scheduler", "build_optimizer"]


def build_param_groups(model: torch.nn.Module, base_lr: float, weight_decay: float,
                       lr_multipliers: Dict[str, float] = None):
    """Trainable parameters grouped by learning rate.

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
    """SGD (the paper's; MOMENTUM) or Adam over ``build_param_groups`` (``solver_cfg.OPTIMIZER``)."""
    groups = build_param_groups(model, solver_cfg.BASE_LR, solver_cfg.WEIGHT_DECAY, lr_multipliers)
    if not groups:
        raise ValueError("no trainable parameters")
    name = solver_cfg.get("OPTIMIZER", "SGD").upper()
    if name == "SGD":
        return torch.optim.SGD(groups, lr=solver_cfg.BASE_LR, momentum=solver_cfg.MOMENTUM)
    if name == "ADAM":
        return torch.optim.Adam(groups, lr=solver_cfg.BASE_LR)
    raise ValueError(f"unknown optimizer {name!r} (SGD or ADAM)")


def build_poly_lr_scheduler(optimizer, max_iter: int, power: float = 0.9):
    """lr(it) = lr0 * (1 - it / max_iter) ** power, per parameter group (Detectron2 LRMultiplier)."""
    return LRMultiplier(optimizer, PolynomialDecayParamScheduler(1.0, power), max_iter)
