"""COCO json as weak input: labels, class map, crowd, real-photo decoding, and every stage on coco_mini."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from irnet_wsis.data.coco_weak import VOC_FROM_COCO, load_class_map, load_coco_instances, load_coco_weak
from irnet_wsis.errors import BadInputError

from conftest import COCO_MINI


def _json(tmp_path):
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 10, "width": 10},
                   {"id": 2, "file_name": "b.jpg", "height": 10, "width": 10},
                   {"id": 3, "file_name": "c.jpg", "height": 10, "width": 10}],
        "categories": [{"id": 1, "name": "person"}, {"id": 5, "name": "airplane"}, {"id": 44, "name": "giraffe"},
                       {"id": 63, "name": "couch"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 5, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 4, 4], "area": 16, "iscrowd": 1,
             "segmentation": {"counts": [55, 4, 6, 4, 6, 4, 6, 4, 11], "size": [10, 10]}},
            {"id": 3, "image_id": 2, "category_id": 44, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]},
            {"id": 4, "image_id": 3, "category_id": 63, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]},
            {"id": 5, "image_id": 3, "category_id": 1, "bbox": [5, 5, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": [[5, 5, 9, 5, 9, 9, 5, 9]]},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return str(path)


VOC = ["aeroplane", "person", "sofa"]


def test_labels_and_class_map(tmp_path):
    path = _json(tmp_path)
    records = load_coco_weak(path, "/imgs", VOC, {"airplane": "aeroplane", "person": "person", "couch": "sofa"})
    # image 1: airplane (person is crowd only); image 2: giraffe is outside the map -> left out; image 3: couch, person
    assert [(r["image_id"], r["classes"]) for r in records] == [("1", [0]), ("3", [1, 2])]
    assert records[0]["file_name"] == "/imgs/a.jpg" and "annotations" not in records[0]
    unmapped = load_coco_weak(path, "/imgs", ["person", "airplane", "giraffe", "couch"])
    assert [r["classes"] for r in unmapped] == [[1], [2], [0, 3]]


def test_instances_keep_crowd_for_evaluation(tmp_path):
    records = load_coco_instances(_json(tmp_path), "/imgs", VOC, {"airplane": "aeroplane", "person": "person"})
    anns = records[0]["annotations"]
    assert [(a["category_id"], a["iscrowd"]) for a in anns] == [(0, 0), (1, 1)]
    assert isinstance(anns[0]["segmentation"]["counts"], str)
    assert records[0]["classes"] == [0]  # crowd does not label the image


def test_class_map_files(tmp_path):
    assert load_class_map("voc") == VOC_FROM_COCO
    yaml_path = tmp_path / "map.yaml"
    yaml_path.write_text("tv: tvmonitor\nmotorcycle: motorbike\n")
    assert load_class_map(str(yaml_path)) == {"tv": "tvmonitor", "motorcycle": "motorbike"}
    with pytest.raises(BadInputError, match="class map file not found"):
        load_class_map(str(tmp_path / "missing.yaml"))
    assert len(VOC_FROM_COCO) == 20 and VOC_FROM_COCO["dining table"] == "diningtable"


def test_grayscale_and_exif_rotated_photos_through_cam_mapper(tmp_path):
    from detectron2.config import get_cfg

    from irnet_wsis.config import add_irnet_config
    from irnet_wsis.data.weak_mappers import CAMDatasetMapper

    gray = tmp_path / "gray.jpg"
    Image.fromarray(np.full((20, 30), 100, np.uint8), mode="L").save(gray)
    rotated = tmp_path / "rotated.jpg"
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :10] = 255  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(rotated, exif=exif)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(pixels).convert("CMYK").save(cmyk)
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_file("configs/Base-IRNet.yaml")
    mapper = CAMDatasetMapper(cfg, is_train=False)
    out = mapper({"file_name": str(gray), "image_id": "g", "height": 20, "width": 30, "classes": [3]})
    assert out["image"].shape == (3, 20, 30) and out["labels"][3] == 1 and out["labels"].sum() == 1
    out = mapper({"file_name": str(rotated), "image_id": "r", "height": 30, "width": 20, "classes": [0]})
    assert out["image"].shape == (3, 30, 20)  # displayed orientation
    assert out["image"][:, :10].float().mean() > 200 and out["image"][:, -5:].float().mean() < 50  # white on top
    out = mapper({"file_name": str(cmyk), "image_id": "c", "height": 20, "width": 30, "classes": [0]})
    assert out["image"].shape == (3, 20, 30)
    train = CAMDatasetMapper(cfg, is_train=True)
    out = train({"file_name": str(rotated), "image_id": "r", "height": 30, "width": 20, "classes": [0]})
    assert out["image"].shape == (3, 512, 512)
    with pytest.raises(BadInputError, match=r"broken\.jpg \(image b\): cannot read image"):
        (tmp_path / "broken.jpg").write_bytes(b"xx")
        mapper({"file_name": str(tmp_path / "broken.jpg"), "image_id": "b", "height": 1, "width": 1, "classes": []})


@pytest.mark.skipif(not os.path.isdir(COCO_MINI), reason="../shared/data/coco_mini is absent (only on the dev machine)")
def test_every_stage_on_a_few_coco_mini_photos(tmp_path):
    from conftest import ROOT as root
    from conftest import load_script

    tool = load_script("tools", "generate_pseudo")
    args = tool.build_parser().parse_args([
        "--config-file", os.path.join(root, "configs/coco_mini/irnet_pseudo.yaml"),
        "DATASETS.COCO_MINI_ROOT", COCO_MINI, "PIPELINE.WORK_DIR", str(tmp_path / "work"),
        "PIPELINE.MAX_IMAGES", "3", "MODEL.DEVICE", "cpu", "DATALOADER.NUM_WORKERS", "0",
        "PIPELINE.CAM_SOLVER.MAX_ITER", "2", "PIPELINE.CAM_SOLVER.IMS_PER_BATCH", "2",
        "PIPELINE.IRNET_SOLVER.MAX_ITER", "2", "PIPELINE.IRNET_SOLVER.IMS_PER_BATCH", "2",
        "INPUT.CAM.RESIZE_LONG", "(96, 128)", "INPUT.CAM.CROP_SIZE", "96",
        "INPUT.IRNET.RESIZE_LONG", "(96, 128)", "INPUT.IRNET.CROP_SIZE", "96",
        "CAM_INFERENCE.SCALES", "(0.5,)", "CAM_INFERENCE.VAL_DATASET", "", "SYNTHESIS.BACKGROUND_THRESHOLD", "0.0",
    ])
    summaries = tool.main(args)
    assert summaries["export"]["images"] == 3 and summaries["export"]["instances"] > 0
    data = json.loads((tmp_path / "work" / "pseudo_coco.json").read_text())
    from pycocotools import mask as mask_util

    for ann in data["annotations"]:
        image = next(i for i in data["images"] if i["id"] == ann["image_id"])
        assert ann["segmentation"]["size"] == [image["height"], image["width"]]
        assert mask_util.area(dict(ann["segmentation"], counts=ann["segmentation"]["counts"].encode())) == ann["area"]
