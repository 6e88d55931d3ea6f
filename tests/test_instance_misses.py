"""irnet_wsis.evaluation.instance_misses: the kinds of miss on hand-made masks."""

import numpy as np

from irnet_wsis.evaluation import instance_misses


def _module():
    return instance_misses


def _box(y0, y1, x0, x1, size=32):
    m = np.zeros((size, size), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_hits_merges_and_sizes():
    classify = _module().classify_misses
    left, right, far = _box(4, 12, 2, 10), _box(4, 12, 12, 20), _box(22, 30, 22, 30)
    gts = [(0, left), (0, right), (1, far)]  # two touching class-0 boxes (2 px apart), a lone class-1 box
    merged = [{"category_id": 0, "mask": left | right | _box(4, 12, 10, 12), "score": 1.0}]
    counts = classify(gts, merged + [{"category_id": 1, "mask": far, "score": 0.5}])
    assert counts == {"touching": 2, "touching_merged": 2, "alone": 1, "alone_hit": 1}
    big = {"category_id": 1, "mask": _box(18, 32, 18, 32), "score": 1.0}  # IoU 64 / 196 < 0.5
    assert classify([(1, far)], [big])["alone_big"] == 1
    assert classify([(1, far)], [dict(big, mask=_box(22, 25, 22, 30))])["alone_small"] == 1
    assert classify([(1, far)], [dict(big, score=0.0)])["alone_none"] == 1  # score 0 is not an instance
    assert classify(gts[:2], [{"category_id": 0, "mask": left, "score": 1.0}]) == {
        "touching": 2, "touching_hit": 1, "touching_none": 1}
