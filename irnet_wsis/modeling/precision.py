"""bfloat16 autocast for the convolution-heavy parts of a model (``MODEL.BFLOAT16``).

A module passed to :func:`bfloat16_forward` keeps float32 weights in the channels-last memory format and runs
its forward under ``torch.autocast(dtype=torch.bfloat16)`` on the device of its input; whatever it returns
(a tensor, or a dict / list / tuple of them) comes back in float32, so losses, CAM normalisation, the random
walk and every saved output stay float32. On the 2-core development machine (Xeon with AMX and AVX512-BF16)
a training step of the synthetic CAM network takes 0.23 s instead of 1.02 s and its multi-scale inference
0.41 s instead of 2.47 s (``benchmarks/cpu_precision.py``, benchmarks/RESULTS.md). On a CPU without bfloat16
units oneDNN emulates it, slower than float32: :func:`resolve_bfloat16` turns the option off there.
"""
import functools
import logging

import torch
from torch import nn

__all__ = ["bfloat16_supported", "resolve_bfloat16", "bfloat16_forward", "bfloat16_backbone", "to_float32"]

logger = logging.getLogger(__name__)


def bfloat16_supported(device: str) -> bool:
    """Whether ``device`` ("cpu", "cuda", "cuda:1", ...) computes bfloat16 convolutions natively: a CPU with
    AVX512-BF16 or AMX, a CUDA GPU that ``torch.cuda.is_bf16_supported`` accepts."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_bfloat16(cfg):
    """``MODEL.BFLOAT16`` True on a device without native bfloat16 -> False, with a warning (cfg must be
    mutable). Returns cfg."""
    if cfg.MODEL.BFLOAT16 and not bfloat16_supported(cfg.MODEL.DEVICE):
        logger.warning("MODEL.BFLOAT16: %s has no bfloat16 units (AVX512-BF16 / AMX on a CPU); running in float32",
                       cfg.MODEL.DEVICE)
        cfg.MODEL.BFLOAT16 = False
    return cfg


def to_float32(outputs):
    """A tensor, or a dict / list / tuple of them (nested), with every floating tensor in float32."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.is_floating_point() else outputs
    if isinstance(outputs, dict):
        return type(outputs)((k, to_float32(v)) for k, v in outputs.items())
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(to_float32(v) for v in outputs)
    return outputs


def _first_tensor(args):
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
        if isinstance(a, (list, tuple)):
            t = _first_tensor(a)
            if t is not None:
                return t
    return None


def bfloat16_forward(module: nn.Module) -> nn.Module:
    """Make ``module`` run in bfloat16 autocast with channels-last weights; its outputs come back in float32.

    The module's class, parameters and state-dict keys are unchanged (checkpoints load either way); only this
    instance's ``forward`` is wrapped. Returns ``module``.
    """
    module.to(memory_format=torch.channels_last)
    forward = module.forward

    @functools.wraps(forward)
    def autocast_forward(*args, **kwargs):
        x = _first_tensor(args)
        device_type = x.device.type if x is not None else "cpu"
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            outputs = forward(*args, **kwargs)
        return to_float32(outputs)

    module.forward = autocast_forward
    return module


def bfloat16_backbone(model: nn.Module, cfg) -> nn.Module:
    """A Detectron2 model (Mask R-CNN, PointRend, DeepLab, ...) with its ``backbone`` in bfloat16 autocast when
    ``MODEL.BFLOAT16`` (the heads, losses and outputs stay float32). Returns ``model``."""
    if cfg.MODEL.BFLOAT16:
        bfloat16_forward(model.backbone)
    return model
