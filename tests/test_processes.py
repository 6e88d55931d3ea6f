import os

import numpy as np
import pytest

from irnet_wsis.utils.processes import fork_map


def test_fork_map_runs_a_closure_in_workers_in_order():
    offset = 10
    results = list(fork_map(lambda x: (x + offset, os.getpid()), range(9), workers=2, chunksize=1))
    assert [r for r, _ in results] == list(range(10, 19))
    assert os.getpid() not in {pid for _, pid in results}
    assert sorted(fork_map(lambda x: x * x, range(5), workers=2, ordered=False)) == [0, 1, 4, 9, 16]


def test_fork_map_in_process_and_errors():
    assert list(fork_map(lambda x: (x, os.getpid()), [1], workers=1)) == [(1, os.getpid())]

    def fail(x):
        raise ValueError(f"bad {x}")

    with pytest.raises(ValueError, match="bad 0"):
        list(fork_map(fail, [0, 1], workers=2))


def test_semantic_mious_the_same_in_workers(monkeypatch):
    import irnet_wsis.evaluation.pseudo_quality as pseudo_quality

    gts = [np.array([[0, 1], [2, 2]], np.uint8), np.array([[1, 1], [0, 255]], np.uint8)]
    monkeypatch.setattr(pseudo_quality, "gt_label_map", lambda record: gts[record["image_id"]])
    records = [{"image_id": i} for i in range(2)]

    def predict(record):
        return {"a": np.array([[0, 1], [2, 0]], np.uint8), "b": np.full((2, 2), 1, np.uint8)}

    one = pseudo_quality.evaluate_semantic_labels(predict, records, num_classes=2)
    two = pseudo_quality.evaluate_semantic_labels(predict, records, num_classes=2, workers=2)
    # a over both images (the 255 pixel ignored): background tp 1, 2 in the ground truth, 3 predicted -> 1/4;
    # class 1 tp 2, 3 and 2 -> 2/3; class 2 tp 1, 2 and 2 -> 1/3
    assert one == two
    assert one["a"] == pytest.approx(100.0 * (1 / 4 + 2 / 3 + 1 / 3) / 3)
