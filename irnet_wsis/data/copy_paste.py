"""Copy-paste of pseudo instance regions for IRNet training (our option, not the paper).

IRNet learns D from the relation stage's instance regions, and two touching
objects of one class seldom come out of that stage as two regions: one of them
lacks confident CAM, or both fall in one region. D then learns to give such a
pair one centroid. ``RegionPaster`` pastes an instance region of another
training image, with its pixels, so that it overlaps or touches a region of the
same class: the pasted object gets its own region id and covers part of the
other, so Eq. 5, the region losses and Eq. 8 (region boundaries) see two
touching instances of one class with two centroids.

Everything here is at full image resolution, before the mapper's resize, flip
and crop. Region maps come from the stride-4 files (``split_by_peaks``); a
donor's mask is the bilinear upsampling of its stride-4 region, thresholded at
one half.
"""
import numpy as np
from PIL import Image
from scipy import ndimage

from .io import read_image_or_fail, read_stride_map

__all__ = ["RegionPaster", "paste_region", "upsample_region", "touching_offset"]


def upsample_region(region4, stride, image_hw):
    """bool (h, w) stride-4 mask (cell (i, j) is pixel (stride * i, stride * j)) -> bool (H, W) mask."""
    ys = np.arange(image_hw[0]) / stride
    xs = np.arange(image_hw[1]) / stride
    grid = np.stack(np.meshgrid(ys, xs, indexing="ij"))
    return ndimage.map_coordinates(region4.astype(np.float32), grid, order=1, mode="nearest") > 0.5


def paste_region(image, label, region, donor_image, donor_mask, label_value, region_id, offset):
    """Paste ``donor_image`` under ``donor_mask`` at ``offset``; returns new (image, label, region).

    Args:
        image: (H, W, 3); label, region: (H, W) uint8 full-resolution relation labels and region ids.
        donor_image: (h, w, 3); donor_mask: bool (h, w).
        label_value: relation label of the pasted pixels (class + 1); region_id: their region id.
        offset: (dy, dx) int, where donor pixel (y, x) lands: (y + dy, x + dx). Pixels off the image are dropped.
    """
    image, label, region = image.copy(), label.copy(), region.copy()
    ys, xs = np.nonzero(donor_mask)
    ty, tx = ys + offset[0], xs + offset[1]
    inside = (ty >= 0) & (ty < image.shape[0]) & (tx >= 0) & (tx < image.shape[1])
    ys, xs, ty, tx = ys[inside], xs[inside], ty[inside], tx[inside]
    image[ty, tx] = donor_image[ys, xs]
    label[ty, tx] = label_value
    region[ty, tx] = region_id
    return image, label, region


def touching_offset(target_mask, donor_mask, distance, angle):
    """Offset (dy, dx) that puts the donor's centroid ``distance`` x (r_target + r_donor) from the target's
    centroid in direction ``angle`` (radians); r = sqrt(area / pi). distance < 1 overlaps, 1 about touches."""
    ty, tx = np.nonzero(target_mask)
    dy, dx = np.nonzero(donor_mask)
    reach = distance * (np.sqrt(len(ty) / np.pi) + np.sqrt(len(dy) / np.pi))
    return (int(round(ty.mean() + reach * np.sin(angle) - dy.mean())),
            int(round(tx.mean() + reach * np.cos(angle) - dx.mean())))


class RegionPaster:
    """Pastes one instance region of a donor image next to a same-class region of the target.

    Args:
        records: training records with "file_name", "relation_file_name" and "relation_region_file_name".
        image_format: the mapper's INPUT.FORMAT. stride: stride of the relation files.
        prob: chance that an image gets a paste.
        min_cells, max_cells: sizes (stride-4 cells) of the donor regions that may be pasted.
        distance: (lo, hi) range of the centroid distance in units of r_target + r_donor.
    """

    def __init__(self, records, image_format, stride=4, prob=0.5, min_cells=8, max_cells=400, distance=(0.7, 1.0)):
        self.records = records
        self.image_format = image_format
        self.stride = stride
        self.prob = prob
        self.distance = distance
        self.bank = self._index(records, min_cells, max_cells)

    @staticmethod
    def _index(records, min_cells, max_cells):
        """class value (label c + 1) -> list of (record index, region id) of pasteable regions."""
        bank = {}
        for i, r in enumerate(records):
            label = np.asarray(Image.open(r["relation_file_name"]))
            region = np.asarray(Image.open(r["relation_region_file_name"]))
            ids, sizes = np.unique(region, return_counts=True)
            for rid, size in zip(ids, sizes):
                if rid in (0, 255) or not min_cells <= size <= max_cells:
                    continue
                value = int(np.bincount(label[region == rid]).argmax())
                if value not in (0, 255):
                    bank.setdefault(value, []).append((i, int(rid)))
        return bank

    def __call__(self, image, label, region, rng=np.random):
        """Full-resolution (image, label, region) of the target -> the same, maybe with one pasted region."""
        if rng.rand() >= self.prob:
            return image, label, region
        present = np.unique(region)
        values = {rid: int(label[region == rid][0]) for rid in present if rid not in (0, 255)}  # region -> class + 1
        ids = [rid for rid, value in values.items() if value in self.bank]
        free = set(range(1, 255)) - set(present.tolist())
        if not ids or not free:
            return image, label, region
        target_id = ids[rng.randint(len(ids))]
        target, value = region == target_id, values[target_id]
        donor_index, donor_id = self.bank[value][rng.randint(len(self.bank[value]))]
        donor = self.records[donor_index]
        donor_image = read_image_or_fail(donor, self.image_format)
        cells = read_stride_map(donor, donor_image.shape[:2], self.stride, "relation_region_file_name",
                                "instance region")
        donor_mask = upsample_region(cells == donor_id, self.stride, donor_image.shape[:2])
        if not donor_mask.any():
            return image, label, region
        offset = touching_offset(target, donor_mask, rng.uniform(*self.distance), rng.uniform(0, 2 * np.pi))
        return paste_region(image, label, region, donor_image, donor_mask, value, min(free), offset)
