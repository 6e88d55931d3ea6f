"""The per-stage table of tools/generate_pseudo.py: seconds, images per second, a total row."""
from conftest import load_script

tool = load_script("tools", "generate_pseudo")


def test_images_per_second_counts_training_and_per_image_stages():
    assert tool.images_per_second({"iterations": 100, "images_seen": 800, "wall_seconds": 200.0}) == 4.0
    assert tool.images_per_second({"images": 10, "done": 6, "skipped_existing": 4, "wall_seconds": 3.0}) == 2.0
    assert tool.images_per_second({"skipped": "cam/model_final.pth exists", "wall_seconds": 0.1}) is None
    assert tool.images_per_second({"done": 5, "wall_seconds": 0.0}) is None


def test_summary_table_has_a_rate_column_and_a_total_row():
    table = tool.format_summary({
        "train_cam": {"iterations": 10, "images_seen": 80, "wall_seconds": 40.0},
        "cams": {"images": 20, "done": 20, "wall_seconds": 10.0},
    })
    lines = table.splitlines()
    assert "images/s" in lines[0]
    assert [c.strip() for c in lines[2].split("|")[1:4]] == ["train_cam", "40", "2"]
    assert [c.strip() for c in lines[3].split("|")[1:4]] == ["cams", "10", "2"]
    assert [c.strip() for c in lines[4].split("|")[1:3]] == ["total", "50"]


def test_cuda_benchmark_says_no_device_in_one_line_and_runs_nothing(monkeypatch, capsys, tmp_path):
    bench = load_script("benchmarks", "main_job_cuda")
    monkeypatch.setattr(bench, "cuda_device_name", lambda: None)
    monkeypatch.setattr(bench, "timed", lambda cmd: (_ for _ in ()).throw(AssertionError("ran " + cmd[1])))
    assert bench.main(["--work", str(tmp_path)]) == bench.NO_CUDA_EXIT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no CUDA device" in err
    assert not any(tmp_path.iterdir())


def test_stage_times_figure_reads_stage_seconds_and_the_detector_log(tmp_path):
    import json

    bench = load_script("benchmarks", "stage_times_figure")
    (tmp_path / "pseudo").mkdir()
    (tmp_path / "mask_rcnn_pseudo").mkdir()
    with open(tmp_path / "pseudo" / "summary.json", "w") as f:
        json.dump({"train_cam": {"wall_seconds": 12.5}, "cams": {"wall_seconds": 3}}, f)
    (tmp_path / "mask_rcnn_pseudo" / "log.txt").write_text(
        "[12/01 23:59:30] detectron2 INFO: start\nno time here\n"
        "[12/02 00:01:00 d2.engine.hooks]: console format\n[12/02 00:02:05] d2 INFO: last\n")
    seconds = bench.stage_seconds(str(tmp_path))
    assert seconds == {"train_cam": 12.5, "cams": 3.0, "Mask R-CNN": 155.0}  # across midnight
