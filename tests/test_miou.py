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


def test_plane_sweep_confusions_by_hand():
    """Scores [0.2, 0.3, 0.5, 0.7, 0.9] of labels [1, 2, 1, 2, 1], ground truth [0, 2, 1, 2, 255]; thresholds given
    unsorted. A score equal to the threshold goes to the background (the plane wins a tie)."""
    from irnet_wsis.evaluation.miou import plane_sweep_confusions

    best = np.array([[0.2, 0.3, 0.5, 0.7, 0.9]], np.float32)
    label = np.array([[1, 2, 1, 2, 1]])
    gt = np.array([[0, 2, 1, 2, 255]])
    conf = plane_sweep_confusions(best, label, gt, [0.5, 0.1, 0.3], num_classes=2)
    # t 0.5: prediction [0, 0, 0, 2, -]: gt0->0, gt2->0, gt1->0, gt2->2
    assert conf[0].tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 1]]
    # t 0.1: prediction [1, 2, 1, 2, -]
    assert conf[1].tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 2]]
    # t 0.3: prediction [0, 0, 1, 2, -]
    assert conf[2].tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]


def test_plane_sweep_matches_one_map_per_threshold():
    """The one-pass sweep gives the matrices of the per-threshold argmax maps (ties and an empty CAM included)."""
    from irnet_wsis.evaluation.miou import plane_sweep_confusions
    from irnet_wsis.evaluation.pseudo_quality import best_class, cam_label_map

    rng = np.random.default_rng(0)
    thresholds = [0.05, 0.25, 0.3, 0.5, 0.7]
    for k in (0, 1, 3):
        cams = rng.choice(np.array([0.0, 0.25, 0.3, 0.6, 0.9], np.float32), size=(k, 9, 11))
        classes = rng.choice(5, size=k, replace=False)
        gt = rng.integers(0, 6, size=(9, 11))
        gt[0, :3] = 255
        swept = plane_sweep_confusions(*best_class(cams, classes), gt, thresholds, num_classes=5)
        for i, t in enumerate(thresholds):
            one = SemanticConfusion(num_classes=5)
            one.update(cam_label_map(cams, classes, t), gt)
            assert np.array_equal(swept[i], one.matrix), (k, t)
