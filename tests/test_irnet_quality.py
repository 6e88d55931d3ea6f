"""irnet_wsis.evaluation.irnet_quality: centroid counts of the landing rule and class boundaries, hand-made."""
from types import SimpleNamespace

import numpy as np
import torch

from irnet_wsis.evaluation import irnet_quality


def _module():
    return irnet_quality


def _square(cy, cx, r, size=24):
    m = np.zeros((size, size), bool)
    m[cy - r:cy + r + 1, cx - r:cx + r + 1] = True
    return m


def test_landing_count_takes_every_group_and_checks_them_against_objects():
    q = _module()
    cfg = SimpleNamespace(SYNTHESIS=SimpleNamespace(CENTROID_RULE="landing", REFINE_ITERATIONS=10,
                                                    REFINE_MIN_NORM=0.5, CENTROID_MIN_MASS=2.0))
    objects = [_square(5, 5, 1), _square(17, 17, 1), _square(4, 18, 1)]  # three 3x3 objects
    # the field points at each object's centre from a 9x9 halo (a smooth D beyond the object) where the
    # blurred CAM is 1, so most of the mass landing on those two centres comes from outside the object;
    # the third object has no halo, and the last group lies on no object
    halos = [_square(5, 5, 4), _square(17, 17, 4), _square(4, 18, 1), _square(15, 4, 1)]
    d = torch.from_numpy(q.oracle_displacement(halos, (24, 24)))
    cam_max = torch.from_numpy(np.logical_or.reduce(halos).astype(np.float32))
    union = np.logical_or.reduce(objects)
    found = q.count_centroids(cfg, d, cam_max, torch.from_numpy(union), union)
    assert found == {"detected": 4, "on_objects": 3, "majority_foreground": 1}


def test_boundary_band_of_a_coco_record_is_where_the_instance_map_changes():
    from pycocotools import mask as mask_util

    from irnet_wsis.evaluation.pseudo_quality import gt_label_map

    q = _module()
    square = np.zeros((10, 10), np.uint8)
    square[3:7, 3:7] = 1
    rle = mask_util.encode(np.asfortranarray(square))
    record = {"height": 10, "width": 10, "annotations": [{"category_id": 0, "segmentation": rle, "iscrowd": 0}]}
    band = q.boundary_band(record, gt_label_map(record), np.ones((3, 3), np.uint8))
    # the id map changes across rows/cols 2-7 (a 3x3 window meets both 0 and 1), dilated once more: rows/cols 1-8
    want = np.zeros((10, 10), bool)
    want[1:9, 1:9] = True
    assert np.array_equal(band, want)


def test_masks_decoded_once_give_the_same_label_map_crowd_on_top():
    from pycocotools import mask as mask_util

    from irnet_wsis.evaluation.pseudo_quality import gt_label_map

    q = _module()
    crowd, person = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    crowd[0:4, 0:4], person[2:6, 2:6] = 1, 1
    record = {"height": 8, "width": 8, "annotations": [  # the crowd first: it must still be drawn last
        {"category_id": 3, "segmentation": mask_util.encode(np.asfortranarray(crowd)), "iscrowd": 1},
        {"category_id": 14, "segmentation": mask_util.encode(np.asfortranarray(person)), "iscrowd": 0}]}
    want = np.zeros((8, 8), np.uint8)
    want[2:6, 2:6] = 15
    want[0:4, 0:4] = 255
    assert np.array_equal(gt_label_map(record), want)
    assert np.array_equal(gt_label_map(record, q.instance_masks(record)), want)


def test_centroid_groups_counts_the_instances_a_field_can_make():
    q = _module()
    cfg = SimpleNamespace(SYNTHESIS=SimpleNamespace(CENTROID_RULE="magnitude", REFINE_ITERATIONS=20,
                                                    REFINE_MIN_NORM=0.0, CENTROID_THRESHOLD=2.5,
                                                    CENTROID_MIN_MASS=2.0))
    two = torch.from_numpy(q.oracle_displacement([_square(6, 6, 4), _square(17, 17, 4)], (24, 24)))
    one = torch.from_numpy(q.oracle_displacement([_square(11, 11, 9)], (24, 24)))  # one object, one centre
    # the background (D = 0 there) is a group of its own under the paper's magnitude rule
    assert q.centroid_groups(cfg, two) == 3
    assert q.centroid_groups(cfg, one) == 2
    assert q.centroid_groups(cfg, torch.zeros(2, 24, 24)) == 1
    # a field offset by a constant (the bias the mean displacement measures) counts the same once it is given
    shift = torch.tensor([3.0, -4.0])
    assert q.centroid_groups(cfg, two + shift.view(2, 1, 1), mean_displacement=shift) == 3
