"""IRNet's training mapper: relation labels and instance regions stay aligned with the image."""
import numpy as np
import pytest
from PIL import Image

from irnet_wsis.data.weak_mappers import IRNetDatasetMapper
from irnet_wsis.errors import BadInputError


def _files(tmp_path, h=40, w=56):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "im.png")
    label = rng.choice(np.array([0, 3, 255], np.uint8), size=(h // 4, w // 4))  # asymmetric pattern
    regions = np.where(label == 3, 7, 0).astype(np.uint8)  # a region exactly where the class is
    Image.fromarray(label).save(tmp_path / "rel.png")
    Image.fromarray(regions).save(tmp_path / "rel.regions.png")
    return {"file_name": str(tmp_path / "im.png"), "image_id": "im", "height": h, "width": w,
            "relation_file_name": str(tmp_path / "rel.png"), "relation_region_file_name": str(tmp_path / "rel.regions.png")}


def test_regions_follow_the_labels_through_resize_flip_and_crop(tmp_path):
    record = _files(tmp_path)
    mapper = IRNetDatasetMapper(True, image_format="RGB", resize_long=(40, 72), crop_size=48, flip=True,
                                pad_pixel=(0, 0, 0))
    np.random.seed(0)
    for _ in range(8):
        out = mapper(record)
        label, region = out["relation_label"], out["relation_region"]
        assert label.shape == region.shape == (12, 12) and out["image"].shape == (3, 48, 48)
        assert bool(((region == 7) == (label == 3)).all())  # same transform on both maps
        assert bool((region[label == 255] != 7).all())


def test_missing_region_file_is_a_one_line_error(tmp_path):
    record = _files(tmp_path)
    record["relation_region_file_name"] = str(tmp_path / "missing.regions.png")
    mapper = IRNetDatasetMapper(True, image_format="RGB", resize_long=(56, 56), crop_size=56, flip=False,
                                pad_pixel=(0, 0, 0))
    with pytest.raises(BadInputError, match="instance region file not found"):
        mapper(record)


def test_pasted_regions_follow_the_labels_too(tmp_path):
    from irnet_wsis.data.copy_paste import RegionPaster

    record = _files(tmp_path)
    paster = RegionPaster([record], "RGB", stride=4, prob=1.0, min_cells=1, max_cells=1000)
    mapper = IRNetDatasetMapper(True, image_format="RGB", resize_long=(40, 72), crop_size=48, flip=True,
                                pad_pixel=(0, 0, 0), copy_paste=paster)
    np.random.seed(0)
    new_ids = set()
    for _ in range(8):
        out = mapper(record)
        label, region = out["relation_label"], out["relation_region"]
        in_region = (region > 0) & (region != 255)
        assert bool((in_region == (label == 3)).all())
        new_ids |= set(region[in_region & (region != 7)].tolist())
    assert new_ids == {1}  # the pasted region takes the smallest free id


def test_copy_paste_needs_instance_regions():
    from detectron2.config import get_cfg

    from irnet_wsis.config import add_irnet_config

    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.INPUT.IRNET.COPY_PASTE_PROB = 0.5
    with pytest.raises(ValueError, match="COPY_PASTE_PROB"):
        IRNetDatasetMapper(cfg, is_train=True, donors=[{"image_id": "x"}])


def test_rescale_by_a_factor_as_the_authors_irnet_training(tmp_path):
    # RESIZE_TYPE "scale" with the range (0.5, 0.5): the 40 x 56 image becomes 20 x 28 (long-side resize to 40
    # would give 29 x 40), padded into the 32-px crop; labels follow (stride-4 grid 8 x 8, 255 where padded)
    record = _files(tmp_path)
    mapper = IRNetDatasetMapper(True, image_format="RGB", resize_long=(40, 40), crop_size=32, flip=False,
                                pad_pixel=(0, 0, 0), resize_type="scale", resize_scale=(0.5, 0.5))
    np.random.seed(0)
    out = mapper(record)
    label = out["relation_label"]
    assert out["image"].shape == (3, 32, 32) and label.shape == (8, 8)
    assert int((label != 255).sum()) <= 5 * 7 and int((label == 3).sum()) > 0
    image = out["image"].numpy()
    assert int((image.sum(axis=0) > 0).sum()) == 20 * 28  # the rescaled image's pixels (random noise, no zeros)
    with pytest.raises(ValueError, match="RESIZE_TYPE"):
        IRNetDatasetMapper(True, image_format="RGB", resize_long=(40, 40), crop_size=32, flip=False,
                           pad_pixel=(0, 0, 0), resize_type="factor")
