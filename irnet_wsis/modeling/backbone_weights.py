"""Loading weights into a Detectron2 ResNet backbone: ImageNet files, or the CAM stage's backbone.

Accepted files (``MODEL.IMAGENET_WEIGHTS``):
- torchvision ``.pth`` state dicts (``resnet50-*.pth`` etc.): names are mapped
  to Detectron2's (``layer1.0.conv1`` -> ``res2.0.conv1``, ``bn1`` -> ``conv1.norm``,
  ``downsample`` -> ``shortcut``); ``fc`` is dropped;
- Detectron2 / Detectron ``.pkl`` (e.g. ``R-50.pkl`` of the model zoo): loaded
  through ``DetectionCheckpointer`` and its name-matching heuristics.
"""
import logging
import os
import re

import torch
from detectron2.checkpoint import DetectionCheckpointer

from ..errors import BadInputError

__all__ = ["torchvision_to_detectron2", "load_imagenet_weights", "load_cam_backbone", "log_scratch_once"]

logger = logging.getLogger(__name__)
_SCRATCH_LOGGED = False


def torchvision_to_detectron2(state_dict):
    """Rename a torchvision ResNet state dict to Detectron2 ResNet names (``fc`` dropped)."""
    out = {}
    for name, value in state_dict.items():
        if name.startswith("fc.") or name.endswith("num_batches_tracked"):
            continue
        new = name
        if new.startswith("conv1.") or new.startswith("bn1."):
            new = "stem." + new
        new = re.sub(r"^layer(\d)", lambda m: f"res{int(m.group(1)) + 1}", new)
        new = re.sub(r"\.downsample\.0\.", ".shortcut.", new)
        new = re.sub(r"\.downsample\.1\.", ".shortcut.norm.", new)
        new = re.sub(r"(^|\.)bn(\d)\.", lambda m: f"{m.group(1)}conv{m.group(2)}.norm.", new)
        out[new] = value
    return out


def load_imagenet_weights(backbone, path):
    """Load ``path`` (.pth torchvision or .pkl Detectron2) into ``backbone``.

    Returns:
        (missing, unexpected): lists of parameter names, also logged.
    """
    if not os.path.isfile(path):
        raise BadInputError(f"{path}: ImageNet weights not found (MODEL.IMAGENET_WEIGHTS)")
    if path.endswith(".pkl"):
        incompatible = DetectionCheckpointer(backbone).load(path)
        logger.info("loaded ImageNet weights from %s", path)
        return list(getattr(incompatible, "missing_keys", []) or []), list(
            getattr(incompatible, "unexpected_keys", []) or []
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in state:
        state = state["state_dict"]
    state = torchvision_to_detectron2(state)
    own = backbone.state_dict()
    loadable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = sorted(k for k in own if k not in loadable and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in loadable)
    backbone.load_state_dict(loadable, strict=False)
    logger.info("loaded %d ImageNet tensors from %s (%d missing, %d unexpected)", len(loadable), path,
                len(missing), len(unexpected))
    if missing:
        logger.warning("not in %s: %s", path, ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    if unexpected:
        logger.warning("unused from %s: %s", path, ", ".join(unexpected[:10]) + (" ..." if len(unexpected) > 10 else ""))
    return missing, unexpected


def log_scratch_once():
    """Say once per process that the backbone starts from scratch."""
    global _SCRATCH_LOGGED
    if not _SCRATCH_LOGGED:
        logger.warning("backbone starts from scratch (no MODEL.IMAGENET_WEIGHTS given)")
        _SCRATCH_LOGGED = True


def load_cam_backbone(backbone, path):
    """Copy the ``backbone.*`` weights of a CAMNet checkpoint into ``backbone`` (strict).

    Used by IRNet (its frozen backbone is the CAM network's) and, as an
    ImageNet-free start, by Mask R-CNN (pass its FPN's ``bottom_up``).
    """
    if not os.path.isfile(path):
        raise BadInputError(f"{path}: CAM checkpoint not found; run the train_cam stage first")
    state = torch.load(path, map_location="cpu", weights_only=False)
    state = state.get("model", state)
    weights = {k[len("backbone."):]: torch.as_tensor(v) for k, v in state.items() if k.startswith("backbone.")}
    if not weights:
        raise BadInputError(f"{path}: no backbone.* weights in this checkpoint (is it a CAMNet checkpoint?)")
    backbone.load_state_dict(weights, strict=True)
    logger.info("backbone loaded from the CAM checkpoint %s (%d tensors)", path, len(weights))
