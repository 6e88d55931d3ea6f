"""Copy-paste of pseudo instance regions (irnet_wsis/data/copy_paste.py), on hand-made maps."""
import numpy as np
from PIL import Image

from irnet_wsis.data.copy_paste import RegionPaster, paste_region, touching_offset, upsample_region


def test_upsample_region_is_the_bilinear_half_level():
    cells = np.zeros((4, 4), bool)
    cells[1:3, 1:3] = True  # pixels 4..8 at stride 4; bilinear value 0.75 at 3 and 9, 0.5 at 2 and 10
    mask = upsample_region(cells, 4, (16, 16))
    expected = np.zeros((16, 16), bool)
    expected[3:10, 3:10] = True
    assert np.array_equal(mask, expected)


def test_paste_region_copies_pixels_labels_and_id_and_drops_what_falls_off():
    image = np.zeros((6, 6, 3), np.uint8)
    label = np.zeros((6, 6), np.uint8)
    region = np.zeros((6, 6), np.uint8)
    donor = np.full((3, 3, 3), 7, np.uint8)
    mask = np.zeros((3, 3), bool)
    mask[0, 0] = mask[2, 2] = mask[1, 2] = True
    out_image, out_label, out_region = paste_region(image, label, region, donor, mask, 3, 5, (4, 3))
    # (0, 0) -> (4, 3); (1, 2) -> (5, 5); (2, 2) -> (6, 5) is off the image
    expected = np.zeros((6, 6), bool)
    expected[4, 3] = expected[5, 5] = True
    assert np.array_equal(out_region == 5, expected)
    assert np.array_equal(out_label == 3, expected)
    assert np.array_equal(out_image[..., 0] == 7, expected)
    assert not region.any() and not image.any()  # inputs untouched


def test_touching_offset_puts_centroids_at_the_drawn_distance():
    square = np.zeros((8, 8), bool)
    square[0:4, 0:4] = True  # centroid (1.5, 1.5), r = sqrt(16 / pi) = 2.2568
    assert touching_offset(square, square, 1.0, 0.0) == (0, 5)  # 2 r = 4.51 to the right
    assert touching_offset(square, square, 1.0, np.pi / 2) == (5, 0)  # downwards
    assert touching_offset(square, square, 0.5, np.pi) == (0, -2)


def _write_record(tmp_path, name, value, cells, pixel, region_id):
    """A 16x16 image of one colour with one instance region of label ``value`` on the given stride-4 cells."""
    image_path = tmp_path / f"{name}.png"
    Image.fromarray(np.full((16, 16, 3), pixel, np.uint8)).save(image_path)
    label = np.zeros((4, 4), np.uint8)
    region = np.zeros((4, 4), np.uint8)
    label[cells] = value
    region[cells] = region_id
    Image.fromarray(label).save(tmp_path / f"{name}.label.png")
    Image.fromarray(region).save(tmp_path / f"{name}.regions.png")
    return {"file_name": str(image_path), "image_id": name, "relation_file_name": str(tmp_path / f"{name}.label.png"),
            "relation_region_file_name": str(tmp_path / f"{name}.regions.png")}


def test_region_paster_pastes_a_same_class_region_with_a_new_id(tmp_path):
    target = _write_record(tmp_path, "target", 2, (slice(0, 2), slice(0, 2)), 0, 1)
    donor = _write_record(tmp_path, "donor", 2, (slice(2, 4), slice(2, 4)), 200, 1)
    other = _write_record(tmp_path, "other", 3, (slice(0, 2), slice(0, 2)), 100, 1)
    paster = RegionPaster([target, donor, other], "RGB", stride=4, prob=1.0, min_cells=4, max_cells=4,
                          distance=(1.0, 1.0))
    assert paster.bank == {2: [(0, 1), (1, 1)], 3: [(2, 1)]}
    image = np.zeros((16, 16, 3), np.uint8)
    label = np.zeros((16, 16), np.uint8)
    region = np.zeros((16, 16), np.uint8)
    label[0:8, 0:8] = 2
    region[0:8, 0:8] = 1

    class Draws:  # region 1 of the target, bank entry 1 (the donor), distance 1, angle 0
        def rand(self):
            return 0.0

        def randint(self, n):
            return n - 1

        def uniform(self, lo, hi):
            return lo

    out_image, out_label, out_region = paster(image, label, region, rng=Draws())
    pasted = out_region == 2
    # donor mask: rows / cols 7..15 (centroid 11, r = 5.08); target centroid 3.5, r = 4.51: offset
    # (round(3.5 - 11), round(3.5 + 9.59 - 11)) = (-8, 2), so rows 0..7 (-1 is off) and cols 9..15 (17 is off)
    expected = np.zeros((16, 16), bool)
    expected[0:8, 9:16] = True
    assert np.array_equal(pasted, expected)
    assert np.array_equal(out_image[..., 0] == 200, pasted)  # donor pixels exactly where the new region is
    assert np.all(out_label[pasted] == 2)
    assert np.array_equal(out_region == 1, region.astype(bool) & ~pasted)

    never = RegionPaster([target, donor], "RGB", stride=4, prob=0.0, min_cells=4, max_cells=4)
    unchanged = never(image, label, region)
    assert all(a is b for a, b in zip(unchanged, (image, label, region)))


def test_region_paster_leaves_images_without_a_class_in_the_bank(tmp_path):
    donor = _write_record(tmp_path, "donor", 3, (slice(0, 2), slice(0, 2)), 200, 1)
    paster = RegionPaster([donor], "RGB", stride=4, prob=1.0, min_cells=1, max_cells=16)
    label = np.full((16, 16), 2, np.uint8)
    region = np.ones((16, 16), np.uint8)
    image = np.zeros((16, 16, 3), np.uint8)
    out = paster(image, label, region)
    assert all(a is b for a, b in zip(out, (image, label, region)))
