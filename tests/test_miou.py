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
