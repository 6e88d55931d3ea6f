"""The exported pseudo-label json: pycocotools and Detectron2 read it, masks decode exactly, checks."""

import numpy as np
import pytest
from detectron2.data.datasets import load_coco_json
from pycocotools.coco import COCO

from irnet_wsis.errors import BadInputError
from irnet_wsis.export.coco_json import check_coco_json, instances_to_coco_json


def _records():
    return [
        {"file_name": "/data/a.jpg", "image_id": "a", "height": 6, "width": 8},
        {"file_name": "/data/b.jpg", "image_id": "b", "height": 5, "width": 5},
        {"file_name": "/data/c.jpg", "image_id": "c", "height": 4, "width": 4},
    ]


def _instances():
    m1 = np.zeros((6, 8), bool); m1[1:4, 2:7] = True
    m2 = np.zeros((6, 8), bool); m2[4:6, 0:2] = True; m2[0, 0] = True  # two pieces, one instance
    m3 = np.zeros((5, 5), bool); m3[2:5, 1:3] = True
    return [[{"category_id": 0, "mask": m1, "score": 0.9}, {"category_id": 2, "mask": m2, "score": 0.4}],
            [{"category_id": 1, "mask": m3, "score": 0.7}],
            []]


def test_json_loads_and_masks_decode_exactly(tmp_path):
    path = str(tmp_path / "pseudo.json")
    summary = instances_to_coco_json(_records(), _instances(), ["x", "y", "z"], path)
    assert summary == {"images": 3, "instances": 3, "empty_images": 1, "path": path}
    coco = COCO(path)
    assert [c["id"] for c in coco.loadCats(coco.getCatIds())] == [1, 2, 3]
    expected = _instances()
    for image_index, insts in enumerate(expected, start=1):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_index]))
        assert len(anns) == len(insts)
        for ann, inst in zip(anns, insts):
            assert np.array_equal(coco.annToMask(ann).astype(bool), inst["mask"])
            assert ann["category_id"] == inst["category_id"] + 1
            assert ann["area"] == inst["mask"].sum()
            assert ann["score"] == pytest.approx(inst["score"])
    assert coco.loadImgs([3])[0]["file_name"] == "/data/c.jpg"


def test_detectron2_reads_contiguous_ids(tmp_path):
    path = str(tmp_path / "pseudo.json")
    instances_to_coco_json(_records(), _instances(), ["x", "y", "z"], path)
    dicts = load_coco_json(path, "", "test_pseudo_export")
    assert len(dicts) == 3
    assert [a["category_id"] for a in dicts[0]["annotations"]] == [0, 2]
    assert dicts[2].get("annotations", []) == []


def test_checks(tmp_path):
    path = str(tmp_path / "pseudo.json")
    instances_to_coco_json(_records(), _instances(), ["x", "y", "z"], path)
    check_coco_json(path, _records())
    with pytest.raises(BadInputError, match="does not match the image set"):
        check_coco_json(path, _records()[:2])
    wrong = _records()
    wrong[1] = dict(wrong[1], height=7)
    with pytest.raises(BadInputError, match="has size"):
        check_coco_json(path, wrong)
    empty = str(tmp_path / "empty.json")
    instances_to_coco_json(_records(), [[], [], []], ["x", "y", "z"], empty)
    with pytest.raises(BadInputError, match="empty pseudo label set"):
        check_coco_json(empty)
    with pytest.raises(BadInputError, match="run tools/generate_pseudo.py first"):
        check_coco_json(str(tmp_path / "missing.json"))
