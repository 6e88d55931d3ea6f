"""Resumable per-image loop: skip finished images, atomic writes, bad input."""
import os

import numpy as np
import pytest

from irnet_wsis.engine.per_image import atomic_save_npz, output_path, run_per_image
from irnet_wsis.errors import BadInputError, bad_input


def _records(n):
    return [{"image_id": f"img_{i}", "file_name": f"/nonexistent/img_{i}.jpg"} for i in range(n)]


def test_resume_does_not_recompute(tmp_path):
    calls = []

    def process(record, out):
        calls.append(record["image_id"])
        atomic_save_npz(out, value=np.array([int(record["image_id"].split("_")[1])]))

    first = run_per_image(_records(5), str(tmp_path), ".npz", process, "test")
    assert first["done"] == 5 and first["skipped_existing"] == 0
    assert sorted(calls) == [f"img_{i}" for i in range(5)]
    os.remove(output_path(str(tmp_path), "img_3", ".npz"))
    calls.clear()
    second = run_per_image(_records(5), str(tmp_path), ".npz", process, "test")
    assert calls == ["img_3"]
    assert second["done"] == 1 and second["skipped_existing"] == 4
    with np.load(output_path(str(tmp_path), "img_3", ".npz")) as data:
        assert data["value"].tolist() == [3]


def test_interrupted_write_leaves_no_file(tmp_path):
    def process(record, out):
        if record["image_id"] == "img_2":
            def broken(*_):
                raise KeyboardInterrupt  # killed while writing
            from irnet_wsis.engine import per_image

            per_image._atomic_write(out, broken, ".npz")
        atomic_save_npz(out, value=np.zeros(1))

    with pytest.raises(KeyboardInterrupt):
        run_per_image(_records(4), str(tmp_path), ".npz", process, "test")
    names = sorted(os.listdir(tmp_path))
    assert names == ["img_0.npz", "img_1.npz"]  # no temporary or partial file left


def test_bad_input_stops_or_is_counted(tmp_path):
    def process(record, out):
        if record["image_id"] == "img_1":
            raise bad_input(record["file_name"], "cannot read image", record["image_id"])
        atomic_save_npz(out, value=np.zeros(1))

    with pytest.raises(BadInputError, match=r"img_1\.jpg \(image img_1\): cannot read image"):
        run_per_image(_records(3), str(tmp_path / "a"), ".npz", process, "test")
    counts = run_per_image(_records(3), str(tmp_path / "b"), ".npz", process, "test", skip_bad=True)
    assert counts["bad"] == 1 and counts["done"] == 2


def _write_index(record, out):
    atomic_save_npz(out, value=np.array([int(record["image_id"].split("_")[1]), os.getpid()]))


def test_worker_pool_writes_every_image_once_in_other_processes(tmp_path):
    counts = run_per_image(_records(9), str(tmp_path), ".npz", _write_index, "test", workers=2)
    assert counts["done"] == 9 and counts["skipped_existing"] == 0 and counts["bad"] == 0
    pids = set()
    for i in range(9):
        with np.load(output_path(str(tmp_path), f"img_{i}", ".npz")) as data:
            assert data["value"][0] == i
            pids.add(int(data["value"][1]))
    assert os.getpid() not in pids  # the images were computed in the workers
    os.remove(output_path(str(tmp_path), "img_4", ".npz"))
    again = run_per_image(_records(9), str(tmp_path), ".npz", _write_index, "test", workers=2)
    assert again["done"] == 1 and again["skipped_existing"] == 8


def _fail_on_img_1(record, out):
    if record["image_id"] == "img_1":
        raise bad_input(record["file_name"], "cannot read image", record["image_id"])
    atomic_save_npz(out, value=np.zeros(1))


def test_worker_pool_bad_input_stops_or_is_counted(tmp_path):
    with pytest.raises(BadInputError, match=r"img_1\.jpg \(image img_1\): cannot read image"):
        run_per_image(_records(3), str(tmp_path / "a"), ".npz", _fail_on_img_1, "test", workers=2)
    counts = run_per_image(_records(5), str(tmp_path / "b"), ".npz", _fail_on_img_1, "test", skip_bad=True,
                           workers=2)
    assert counts["bad"] == 1 and counts["done"] == 4
    assert sorted(os.listdir(tmp_path / "b")) == [f"img_{i}.npz" for i in (0, 2, 3, 4)]
