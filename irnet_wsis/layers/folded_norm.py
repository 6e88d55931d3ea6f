"""A frozen batch norm folded into the convolution before it.

A frozen BN computes ``y = x * s + t`` per channel with ``s = weight / sqrt(running_var + eps)`` and
``t = bias - running_mean * s``; after a convolution with weight ``W`` and bias ``c`` that is one convolution with
weight ``W * s`` and bias ``c * s + t``. :func:`fold_frozen_norm` makes a convolution compute that way and its norm
only its activation, so the two memory passes of the affine over every activation map (and, in bfloat16 autocast,
the float32 copy of it that the next convolution casts back) are gone. The four-scale, flipped bfloat16 CAM
inference of EfficientNet-Lite2 spent half its CPU time there and takes 0.91 s a 480 x 640 photo folded against 1.91
unfolded on 2 AMD EPYC cores (``benchmarks/cam_inference_profile.py``, benchmarks/RESULTS.md).

The folded weight is computed on every forward from the module's own tensors: parameters, buffers and state-dict
keys are unchanged (checkpoints load either way), a convolution that trains gets its gradient through ``W * s``,
and the result is the unfolded module's up to floating-point rounding. PyTorch's
``torch.nn.utils.fusion.fuse_conv_bn_weights`` computes the same ``W * s`` and bias but returns them as new leaf
``Parameter``s: a snapshot that no gradient reaches ``W`` through, which suits a network folded once for inference,
not the CAM network and IRNet that train on top of their frozen BNs.
"""
import types

import torch
from torch import nn

__all__ = ["fold_frozen_norm", "frozen_norm_affine", "is_folded"]


def frozen_norm_affine(norm: nn.Module):
    """Per-channel scale ``s`` and shift ``t`` (C,) of a frozen batch norm (``weight``, ``bias``, ``running_mean``,
    ``running_var``, ``eps``): ``norm(x) = x * s + t`` before any activation."""
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    return scale, norm.bias - norm.running_mean * scale


def _folded_conv_forward(self, x):
    """A convolution's forward with its frozen norm's affine in its weight and bias."""
    scale, shift = frozen_norm_affine(self._folded_norm)
    if self.bias is not None:
        shift = shift + self.bias * scale
    weight = self.weight * scale.reshape(-1, *([1] * (self.weight.dim() - 1)))
    if self._folded_same_padding:  # timm's Conv2dSame: TF "same" padding from the input's size
        from timm.layers.conv2d_same import conv2d_same

        return conv2d_same(x, weight, shift, self.stride, self.padding, self.dilation, self.groups)
    return self._conv_forward(x, weight, shift)


def _activation_only_forward(self, x):
    """A folded norm's forward: what follows its affine (timm's ``drop`` and ``act``; identity if absent)."""
    for name in ("drop", "act"):
        layer = getattr(self, name, None)
        if layer is not None:
            x = layer(x)
    return x


def _is_same_padding_conv(conv: nn.Module) -> bool:
    """Whether ``conv`` is timm's ``Conv2dSame``; a plain ``nn.Conv2d`` gives False, anything else ``TypeError``."""
    if type(conv) is nn.Conv2d:
        return False
    try:
        from timm.layers.conv2d_same import Conv2dSame
    except ImportError:
        Conv2dSame = ()
    if isinstance(conv, Conv2dSame):
        return True
    raise TypeError(f"fold_frozen_norm: {type(conv).__name__} is not an nn.Conv2d or timm Conv2dSame")


def is_folded(module: nn.Module) -> bool:
    """Whether ``module`` is a convolution or norm that :func:`fold_frozen_norm` changed."""
    return "_folded_norm" in module.__dict__ or module.__dict__.get("_folded_into") is True


def fold_frozen_norm(conv: nn.Module, norm: nn.Module) -> None:
    """Make ``conv`` (whose output goes only to ``norm``) compute ``norm``'s affine, and ``norm`` only its
    activation. ``norm`` must be frozen (its statistics and affine fixed: timm's ``FrozenBatchNormAct2d``,
    Detectron2's ``FrozenBatchNorm2d``); the modules are changed in place, their tensors are not.

    The new forwards are methods bound to the modules (not closures), so a ``copy.deepcopy`` of the model folds
    its own copies."""
    if is_folded(conv) or is_folded(norm):
        raise ValueError("fold_frozen_norm: this convolution or norm is already folded")
    if isinstance(norm, nn.modules.batchnorm._BatchNorm) or any(p.requires_grad for p in norm.parameters()):
        raise ValueError(f"fold_frozen_norm: {type(norm).__name__} is not a frozen norm (its statistics or affine "
                         f"can change); only frozen ones fold")
    object.__setattr__(conv, "_folded_same_padding", _is_same_padding_conv(conv))
    object.__setattr__(conv, "_folded_norm", norm)  # not a submodule: state-dict keys unchanged
    conv.forward = types.MethodType(_folded_conv_forward, conv)
    object.__setattr__(norm, "_folded_into", True)
    norm.forward = types.MethodType(_activation_only_forward, norm)
