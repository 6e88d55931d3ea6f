"""VOC-style AP^r on hand-made predictions with known answers."""
import math

import numpy as np
import pytest
from pycocotools import mask as mask_util

from irnet_wsis.evaluation.apr import average_precision, evaluate_apr


def rle(mask):
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    r["counts"] = r["counts"].decode("ascii")
    return r


def box(y0, y1, x0, x1, size=20):
    m = np.zeros((size, size), bool)
    m[y0:y1, x0:x1] = True
    return m


def gt(c, m, crowd=0):
    return {"category_id": c, "segmentation": rle(m), "iscrowd": crowd}


def pred(c, m, s):
    return {"category_id": c, "segmentation": rle(m), "score": s}


def test_perfect_predictions_give_100():
    g = {"a": [gt(0, box(0, 5, 0, 5)), gt(1, box(10, 20, 10, 20))], "b": [gt(0, box(5, 10, 5, 10))]}
    p = {k: [pred(x["category_id"], mask_util.decode(x["segmentation"]), 0.9) for x in v] for k, v in g.items()}
    res = evaluate_apr(p, g, num_classes=2)
    assert res["AP50r"] == pytest.approx(100.0) and res["AP70r"] == pytest.approx(100.0)


def test_false_positive_ranked_first_halves_ap():
    m = box(0, 10, 0, 10)
    g = {"a": [gt(0, m)]}
    p = {"a": [pred(0, box(12, 20, 12, 20), 0.9), pred(0, m, 0.5)]}
    # ranked: FP then TP -> precision at recall 1 is 1/2, envelope 0.5
    assert evaluate_apr(p, g, num_classes=1)["AP50r"] == pytest.approx(50.0)


def test_iou_just_under_07_counts_at_05_only():
    m = box(0, 10, 0, 10)  # 100 px
    p_mask = box(0, 10, 0, 7)  # IoU 0.70 exactly? 70/100 -> use 6.9 equivalent below
    p_mask = box(0, 10, 0, 7)
    p_mask[9, 6] = False  # 69 px inside: IoU 0.69
    g = {"a": [gt(0, m)]}
    res = evaluate_apr({"a": [pred(0, p_mask, 0.8)]}, g, num_classes=1)
    assert res["AP50r"] == pytest.approx(100.0)
    assert res["AP70r"] == pytest.approx(0.0)


def test_second_match_of_one_instance_is_a_false_positive():
    m = box(0, 10, 0, 10)
    g = {"a": [gt(0, m), gt(0, box(12, 20, 12, 20))]}
    p = {"a": [pred(0, m, 0.9), pred(0, m, 0.8)]}
    # TP, FP; recall reaches 0.5 with precision 1 -> AP 50
    assert evaluate_apr(p, g, num_classes=1)["AP50r"] == pytest.approx(50.0)


def test_crowd_region_is_ignored():
    person = box(0, 8, 0, 8)
    crowd = box(10, 20, 0, 20)
    g = {"a": [gt(0, person), gt(0, crowd, crowd=1)]}
    p = {"a": [pred(0, box(12, 18, 2, 10), 0.95), pred(0, person, 0.9)]}
    res = evaluate_apr(p, g, num_classes=1)
    assert res["AP50r"] == pytest.approx(100.0)  # the detection on the crowd neither helps nor hurts
    assert res["num_gt"] == [1]


def test_classes_without_ground_truth_are_not_averaged():
    g = {"a": [gt(0, box(0, 5, 0, 5))]}
    res = evaluate_apr({"a": [pred(0, box(0, 5, 0, 5), 0.5)]}, g, num_classes=3)
    assert res["AP50r"] == pytest.approx(100.0)
    assert math.isnan(res["per_class"]["AP50r"][1])


def test_average_precision_envelope():
    # TP FP TP with 2 positives: precisions 1, .5, .667 -> envelope 1 until r=.5, .667 until r=1
    assert average_precision(np.array([1, 0, 1]), 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_all_point_interpolation_as_the_authors_evaluated_not_11_point():
    # two objects; ranked detections TP (0.9), FP (0.8), TP (0.7): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    # All-point (VOC 2010+, chainercv's eval_instance_segmentation_voc as the authors ran it): area under the
    # envelope = 1/2 * 1 + 1/2 * 2/3 = 83.33. 11-point (VOC 2007): recall 0..0.5 -> 1 (6 points),
    # 0.6..1.0 -> 2/3 (5 points): (6 + 5 * 2/3) / 11 = 84.85. The evaluation reports the first.
    a, b = box(0, 6, 0, 6), box(10, 16, 10, 16)
    g = {"im": [gt(0, a), gt(0, b)]}
    p = {"im": [pred(0, a, 0.9), pred(0, box(0, 6, 12, 18), 0.8), pred(0, b, 0.7)]}
    res = evaluate_apr(p, g, num_classes=1)
    assert res["AP50r"] == pytest.approx(100 * (0.5 + 0.5 * 2 / 3))
    assert res["AP50r"] != pytest.approx(100 * (6 + 5 * 2 / 3) / 11, abs=0.1)
