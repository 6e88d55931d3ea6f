import numpy as np
import pytest

from irnet_wsis.evaluation.miou import SemanticConfusion


def test_miou_exact():
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [255, 255, 2, 2]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [2, 2, 2, 0]])
    conf = SemanticConfusion(num_classes=2)
    conf.update(pred, gt)
    # bg: tp 3, union 3 + 1 (pred 0 at gt 2) + 1 (gt 0 pred 1) = 5 ; cls1: tp 4, union 5 ; cls2: tp 1, union 2
    assert np.allclose(conf.iou(), [3 / 5, 4 / 5, 1 / 2])
    assert conf.miou() == pytest.approx((3 / 5 + 4 / 5 + 1 / 2) / 3)


def test_perfect_and_absent_classes():
    gt = np.array([[0, 3], [3, 255]])
    conf = SemanticConfusion(num_classes=4)
    conf.update(gt.copy(), gt)
    assert conf.miou() == 1.0  # classes 1, 2, 4 absent everywhere are not averaged
    with pytest.raises(ValueError):
        conf.update(np.zeros((3, 3)), np.zeros((2, 2)))


def test_cam_threshold_sweep_per_class():
    """One 1x4 image, ground truth [bg, bg, c0, c0]; CAM of class 0 = [0.1, 0.4, 0.6, 0.9]."""
    import numpy as np

    from pycocotools import mask as mask_utils

    from irnet_wsis.evaluation.pseudo_quality import sweep_cam_thresholds

    rle = mask_utils.encode(np.asfortranarray(np.array([[0, 0, 1, 1]], np.uint8)))
    record = {"image_id": 1, "height": 1, "width": 4,
              "annotations": [{"segmentation": rle, "category_id": 0, "iscrowd": 0}]}
    cams = np.array([[[0.1, 0.4, 0.6, 0.9]]], np.float32)
    mious, ious = sweep_cam_thresholds(lambda r: (cams, np.array([0])), [record], [0.3, 0.5], num_classes=2,
                                       per_class=True)
    # 0.3: prediction [bg, c0, c0, c0] -> background 1/2, class 0 2/3; class 1 absent (nan, left out)
    assert np.allclose(ious[0.3][:2], [50.0, 200.0 / 3]) and np.isnan(ious[0.3][2])
    assert np.isclose(mious[0.3], (50.0 + 200.0 / 3) / 2)
    assert np.allclose(ious[0.5][:2], [100.0, 100.0]) and mious[0.5] == 100.0
    assert sweep_cam_thresholds(lambda r: (cams, np.array([0])), [record], [0.5], num_classes=2) == {0.5: 100.0}
