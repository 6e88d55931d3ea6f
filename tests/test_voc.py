"""VOC + SBD readers on a tiny hand-made tree: labels, instances, and every bad input."""
import os

import numpy as np
import pytest
from PIL import Image

from conftest import write_palette_png as _png
from conftest import write_sbd_cls as _sbd_mat
from irnet_wsis.data.voc import (
    VOC_CLASSES,
    build_train_aug_labels,
    instances_from_masks,
    load_voc_cls,
    load_voc_instances,
)
from irnet_wsis.errors import BadInputError


def _jpg(path, h=8, w=10):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)


@pytest.fixture()
def voc_tree(tmp_path):
    voc, sbd = tmp_path / "VOC2012", tmp_path / "SBD"
    seg = voc / "ImageSets" / "Segmentation"
    seg.mkdir(parents=True)
    (seg / "train.txt").write_text("a\nb\n")
    (seg / "val.txt").write_text("v\n")
    (sbd / "cls").mkdir(parents=True)
    (sbd / "train.txt").write_text("c\nv\n")
    (sbd / "val.txt").write_text("d\n")
    for image_id in "abcdv":
        _jpg(str(voc / "JPEGImages" / f"{image_id}.jpg"))
    # VOC train "a": a cat (class 7 -> 8) and a dog (11 -> 12) with a void border
    cls_a = np.zeros((8, 10), np.uint8)
    obj_a = np.zeros((8, 10), np.uint8)
    cls_a[1:4, 1:4], obj_a[1:4, 1:4] = 8, 1
    cls_a[4:7, 5:9], obj_a[4:7, 5:9] = 12, 2
    cls_a[0, :], obj_a[0, :] = 255, 255
    _png(str(voc / "SegmentationClass" / "a.png"), cls_a)
    _png(str(voc / "SegmentationObject" / "a.png"), obj_a)
    cls_b = np.zeros((8, 10), np.uint8)
    cls_b[2:5, 2:5] = 15  # person
    _png(str(voc / "SegmentationClass" / "b.png"), cls_b)
    _png(str(voc / "SegmentationObject" / "b.png"), (cls_b > 0).astype(np.uint8))
    cls_v = np.zeros((8, 10), np.uint8)
    cls_v[1:3, 1:3] = 1
    _png(str(voc / "SegmentationClass" / "v.png"), cls_v)
    _png(str(voc / "SegmentationObject" / "v.png"), (cls_v > 0).astype(np.uint8))
    seg_c = np.zeros((8, 10)); seg_c[1:3, 1:3] = 3; seg_c[5, 5] = 20; seg_c[0, 0] = 255
    _sbd_mat(str(sbd / "cls" / "c.mat"), seg_c)
    seg_d = np.zeros((8, 10)); seg_d[2:4, 2:4] = 6
    _sbd_mat(str(sbd / "cls" / "d.mat"), seg_d)
    return voc, sbd


def test_train_aug_labels_from_voc_and_sbd(voc_tree):
    voc, sbd = voc_tree
    labels = build_train_aug_labels(str(voc), str(sbd))
    # train_aug = (VOC train a, b + SBD c, v, d) minus VOC val v
    assert labels == {"a": [7, 11], "b": [14], "c": [2, 19], "d": [5]}


def test_instances_and_void(voc_tree):
    voc, _ = voc_tree
    records = load_voc_instances(str(voc), "train")
    assert [r["image_id"] for r in records] == ["a", "b"]
    a = records[0]
    assert (a["height"], a["width"]) == (8, 10)
    assert [ann["category_id"] for ann in a["annotations"]] == [7, 11]
    assert a["annotations"][0]["bbox"] == [1.0, 1.0, 3.0, 3.0]
    assert a["classes"] == [7, 11]
    cls_map = np.array([[255, 8, 8], [0, 8, 3]], np.uint8)
    obj_map = np.array([[255, 1, 1], [0, 1, 1]], np.uint8)
    (c, mask), = instances_from_masks(obj_map, cls_map)
    assert c == 7 and mask.tolist() == [[False, True, True], [False, True, True]]


def test_cls_records_from_label_file(voc_tree, tmp_path):
    voc, sbd = voc_tree
    import json

    label_file = tmp_path / "labels.json"
    label_file.write_text(json.dumps(build_train_aug_labels(str(voc), str(sbd))))
    records = load_voc_cls(str(voc), None, VOC_CLASSES, label_file=str(label_file))
    assert [(r["image_id"], r["classes"]) for r in records] == [("a", [7, 11]), ("b", [14]), ("c", [2, 19]), ("d", [5])]
    assert all((r["height"], r["width"]) == (8, 10) for r in records)


def test_missing_folder(tmp_path):
    with pytest.raises(BadInputError, match=r"JPEGImages: folder not found"):
        load_voc_instances(str(tmp_path / "nowhere"), "train")


def test_id_without_image(voc_tree):
    voc, _ = voc_tree
    os.remove(voc / "JPEGImages" / "b.jpg")
    with pytest.raises(BadInputError, match=r"b\.jpg \(image b\): image listed in the split file does not exist"):
        load_voc_instances(str(voc), "train")
    records = load_voc_instances(str(voc), "train", skip_bad=True)  # logged and counted, the rest kept
    assert [r["image_id"] for r in records] == ["a"]


def test_unreadable_image(voc_tree):
    voc, _ = voc_tree
    (voc / "JPEGImages" / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(BadInputError, match=r"a\.jpg \(image a\): cannot read image"):
        load_voc_instances(str(voc), "train")


def test_mask_size_mismatch(voc_tree):
    voc, _ = voc_tree
    _png(str(voc / "SegmentationObject" / "b.png"), np.zeros((5, 5), np.uint8))
    with pytest.raises(BadInputError, match=r"SegmentationObject/b\.png \(image b\): mask size 5x5 differs"):
        load_voc_instances(str(voc), "train")


def test_one_line_messages(voc_tree):
    voc, _ = voc_tree
    os.remove(voc / "JPEGImages" / "a.jpg")
    with pytest.raises(BadInputError) as e:
        load_voc_instances(str(voc), "train")
    assert "\n" not in str(e.value)
