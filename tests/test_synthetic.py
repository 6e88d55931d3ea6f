"""The synthetic generator and its round trip through the VOC reader."""
import json
import os

import numpy as np
from PIL import Image

from irnet_wsis.data.synthetic import SYNTHETIC_CLASSES, generate_synthetic_voc, render_image
from irnet_wsis.data.voc import load_voc_cls, load_voc_instances
from pycocotools import mask as mask_util


def test_round_trip_through_voc_reader(tiny_synthetic_root):
    root = tiny_synthetic_root
    with open(os.path.join(root, "meta.json")) as f:
        meta = json.load(f)
    for split, n in (("train", 6), ("val", 4)):
        records = load_voc_instances(root, split)
        assert len(records) == n
        for r in records:
            drawn = meta["instances"][r["image_id"]]
            # classes and counts identical to what the generator drew (SegmentationObject order)
            assert [a["category_id"] for a in r["annotations"]] == drawn
            assert r["classes"] == sorted(set(drawn))
            # masks identical to the generator's visible masks minus the void band
            seed_index = int(r["image_id"].split("_")[1])
            _, instances = render_image([3, {"train": 1, "val": 2}[split], seed_index], 64)
            obj = np.asarray(Image.open(os.path.join(root, "SegmentationObject", r["image_id"] + ".png")))
            for a, (c, visible) in zip(r["annotations"], instances):
                decoded = mask_util.decode(a["segmentation"]).astype(bool)
                assert a["category_id"] == c
                assert np.array_equal(decoded, visible & (obj != 255))
                assert decoded.sum() > 0
        weak = load_voc_cls(root, os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt"), SYNTHETIC_CLASSES)
        assert [w["classes"] for w in weak] == [r["classes"] for r in records]
        assert all("annotations" not in w for w in weak)


def test_generation_is_deterministic(tmp_path):
    a = generate_synthetic_voc(str(tmp_path / "a"), 3, 1, 48, seed=7, num_workers=1)
    b = generate_synthetic_voc(str(tmp_path / "b"), 3, 1, 48, seed=7, num_workers=1)
    assert a["instances"] == b["instances"]
    for folder, ext in (("JPEGImages", ".jpg"), ("SegmentationObject", ".png"), ("SegmentationClass", ".png")):
        for image_id in a["instances"]:
            fa = (tmp_path / "a" / folder / (image_id + ext)).read_bytes()
            fb = (tmp_path / "b" / folder / (image_id + ext)).read_bytes()
            assert fa == fb


def test_void_band_and_value_ranges(tiny_synthetic_root):
    cls_map = np.asarray(Image.open(os.path.join(tiny_synthetic_root, "SegmentationClass", "train_00000.png")))
    values = set(np.unique(cls_map).tolist())
    assert 255 in values and 0 in values
    assert values <= {0, 255} | set(range(1, len(SYNTHETIC_CLASSES) + 1))


def test_instances_per_image_in_range():
    counts = [len(render_image([0, 1, i], 128)[1]) for i in range(40)]
    assert min(counts) >= 1 and max(counts) <= 6
    assert len(set(counts)) >= 4
