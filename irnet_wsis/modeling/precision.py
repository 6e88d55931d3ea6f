"""bfloat16 autocast for the convolution-heavy parts of a model (``MODEL.BFLOAT16``).

A module passed to :func:`bfloat16_forward` keeps float32 weights in the channels-last memory format and runs
its forward under ``torch.autocast(dtype=torch.bfloat16)`` on the device of its input; whatever it returns
(a tensor, or a dict / list / tuple of them) comes back in float32, so losses, CAM normalisation, the random
walk and every saved output stay float32. On the 2-core development machine (Xeon with AMX and AVX512-BF16)
a training step of the synthetic CAM network takes 0.23 s instead of 1.02 s and its multi-scale inference
0.41 s instead of 2.47 s (``benchmarks/cpu_precision.py``, benchmarks/RESULTS.md). On a CPU without bfloat16
units oneDNN emulates it, slower than float32: :func:`resolve_bfloat16` turns the option off there.
In float32 the CAM network and IRNet keep the channels-last weights (:func:`channels_last`).
"""
import functools
import logging

import torch
from torch import nn

__all__ = ["bfloat16_supported", "resolve_bfloat16", "bfloat16_forward", "float32_forward", "channels_last",
           "bfloat16_backbone", "bfloat16_heads", "to_float32"]

logger = logging.getLogger(__name__)


def bfloat16_supported(device: str) -> bool:
    """Whether ``device`` ("cpu", "cuda", "cuda:1", ...) computes bfloat16 convolutions natively: a CPU with
    AVX512-BF16 or AMX, a CUDA GPU that ``torch.cuda.is_bf16_supported`` accepts."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_bfloat16(cfg):
    """``MODEL.BFLOAT16`` and ``CAM_INFERENCE.BFLOAT16`` True on a device without native bfloat16 -> False, with a
    warning (cfg must be mutable; ``setup_cfg``'s, which has both keys). Returns cfg."""
    for node, key in ((cfg.MODEL, "MODEL.BFLOAT16"), (cfg.CAM_INFERENCE, "CAM_INFERENCE.BFLOAT16")):
        if node.BFLOAT16 and not bfloat16_supported(cfg.MODEL.DEVICE):
            logger.warning("%s: %s has no bfloat16 units (AVX512-BF16 / AMX on a CPU); running in float32", key,
                           cfg.MODEL.DEVICE)
            node.BFLOAT16 = False
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


def _autocast_method(obj, name: str, bfloat16: bool = True):
    """Wrap ``obj.<name>`` (a bound method) so that it runs in bfloat16 autocast on its input's device, or with
    ``bfloat16`` False with autocast off and its floating inputs in float32; either way it returns float32
    (:func:`to_float32`)."""
    method = getattr(obj, name)

    @functools.wraps(method)
    def autocast_method(*args, **kwargs):
        x = _first_tensor(args)
        device_type = x.device.type if x is not None else "cpu"
        if not bfloat16:
            args, kwargs = to_float32(args), to_float32(kwargs)
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=bfloat16):
            outputs = method(*args, **kwargs)
        return to_float32(outputs)

    setattr(obj, name, autocast_method)


def bfloat16_forward(module: nn.Module, method: str = "forward") -> nn.Module:
    """Make ``module`` run in bfloat16 autocast with channels-last weights; its outputs come back in float32.

    The module's class, parameters and state-dict keys are unchanged (checkpoints load either way); only this
    instance's ``method`` (``forward``, or another method that runs its layers) is wrapped. Returns ``module``.
    """
    channels_last(module)
    _autocast_method(module, method)
    return module


def channels_last(module: nn.Module) -> nn.Module:
    """``module`` with its 4-d weights in the channels-last memory format, computing in float32 (what
    :func:`bfloat16_forward` does without the autocast). A convolution with channels-last weights runs channels-last
    whatever its input's layout (oneDNN on a CPU), so the whole module does. EfficientNet-Lite2's depthwise
    convolutions gain most: a CAM training step 1.835 s against 2.624 and its four-scale inference 8.49 s against
    11.54 on an AMD EPYC (``benchmarks/cpu_precision.py --config-file configs/coco/lite2_pseudo.yaml``,
    benchmarks/RESULTS.md); ResNet-18 0.904 against 1.021 on a Xeon. Returns ``module``."""
    return module.to(memory_format=torch.channels_last)


def float32_forward(module: nn.Module) -> nn.Module:
    """Make ``module``'s forward run in float32 inside an enclosing bfloat16 autocast (autocast off, floating
    inputs cast to float32), so that one part of a :func:`bfloat16_forward` module keeps float32 arithmetic.
    Weights, class and state dict are unchanged. Returns ``module``."""
    _autocast_method(module, "forward", bfloat16=False)
    return module


def bfloat16_backbone(model: nn.Module, cfg) -> nn.Module:
    """A Detectron2 model (Mask R-CNN, PointRend, DeepLab, ...) with its ``backbone`` in bfloat16 autocast when
    ``MODEL.BFLOAT16`` (with ``MODEL.BFLOAT16_BOTTOM_UP`` False, an FPN's bottom-up network stays float32:
    :func:`float32_forward`), and with ``MODEL.BFLOAT16_HEADS`` also the R-CNN heads' layers
    (:func:`bfloat16_heads`); losses and outputs stay float32. Returns ``model``."""
    if cfg.MODEL.BFLOAT16:
        bfloat16_forward(model.backbone)
        parts = ["backbone"]
        bottom_up = getattr(model.backbone, "bottom_up", None)
        if not cfg.MODEL.BFLOAT16_BOTTOM_UP and isinstance(bottom_up, nn.Module):
            float32_forward(bottom_up)
            parts = ["backbone (bottom-up network in float32)"]
        heads = bfloat16_heads(model) if cfg.MODEL.BFLOAT16_HEADS else []
        logger.info("bfloat16 autocast (MODEL.BFLOAT16): %s", ", ".join(parts + heads))
    return model


def bfloat16_heads(model: nn.Module) -> list:
    """The convolution and fc layers of a Detectron2 R-CNN's heads in bfloat16 autocast: the RPN head, the box
    head, and the mask head's layers (``layers``: convs, deconvolution, predictor; its loss and its inference
    read float32 logits). Heads a model does not have are left alone. Returns the names of the wrapped heads."""
    wrapped = []
    rpn_head = getattr(getattr(model, "proposal_generator", None), "rpn_head", None)
    roi_heads = getattr(model, "roi_heads", None)
    for name, head in (("rpn_head", rpn_head), ("box_head", getattr(roi_heads, "box_head", None))):
        if isinstance(head, nn.Module):
            bfloat16_forward(head)
            wrapped.append(name)
    mask_head = getattr(roi_heads, "mask_head", None)
    if isinstance(mask_head, nn.Module) and callable(getattr(mask_head, "layers", None)):
        bfloat16_forward(mask_head, "layers")
        wrapped.append("mask_head")
    return wrapped
