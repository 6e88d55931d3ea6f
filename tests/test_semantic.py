"""tools/train_semantic.py on the tiny synthetic set: DeepLabV3+ trained 2 iterations on pseudo semantic labels
(written here from the ground truth) and on the ground truth, mIoU on val; ground truth drawn from COCO-json
instances; bad label maps as one-line errors."""
import json
import os
import shutil

import numpy as np
import pytest
from detectron2.data import DatasetCatalog
from PIL import Image

from conftest import ROOT, load_script
from irnet_wsis.data.coco_weak import register_coco_weak
from irnet_wsis.data.sem_seg import load_pseudo_sem_seg, register_sem_seg_from_cfg
from irnet_wsis.data.sem_seg_mapper import SemSegDatasetMapper
from irnet_wsis.errors import BadInputError
from irnet_wsis.evaluation.pseudo_quality import read_label_png
from irnet_wsis.cli import load_cfg
from irnet_wsis.semantic import add_semantic_config
from test_coco_weak import _json

SYNTHETIC = os.path.join(ROOT, "configs", "synthetic")


@pytest.fixture(scope="module")
def tool():
    return load_script("tools", "train_semantic")


@pytest.fixture(scope="module")
def pseudo_dir(tiny_synthetic_root, tmp_path_factory):
    """``semantic/<image_id>.png`` of the tiny train images as the semantic stage writes them (grey PNGs,
    0 / c + 1, no void): the ground-truth class maps with their void band as background."""
    out = tmp_path_factory.mktemp("semantic")
    for r in DatasetCatalog.get("tiny_synthetic_train_instance"):
        label = read_label_png(r["sem_seg_file_name"])
        Image.fromarray(np.where(label == 255, 0, label).astype(np.uint8)).save(out / f"{r['image_id']}.png")
    return out


def _semantic_cfg(config_file, opts=()):
    return load_cfg(config_file, opts, add_configs=(add_semantic_config,))


def _opts(out, pseudo_dir, *extra):
    return ["DATASETS.SEMANTIC_PSEUDO_DIR", str(pseudo_dir), "DATASETS.SEMANTIC_SOURCE", "tiny_synthetic_train_cls",
            "DATASETS.TEST", "('tiny_synthetic_val_sem_seg',)", "MODEL.CAM_BACKBONE_INIT", "", "MODEL.DEVICE", "cpu",
            "DATALOADER.NUM_WORKERS", "0", "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "2",
            "SOLVER.WARMUP_ITERS", "0", "INPUT.MIN_SIZE_TRAIN", "(48, 64)", "INPUT.MAX_SIZE_TRAIN", "64",
            "INPUT.CROP.SIZE", "(64, 64)", "OUTPUT_DIR", str(out), *extra]


def _run(tool, config, opts):
    args = tool.tool_parser().parse_args(["--config-file", os.path.join(SYNTHETIC, config)] + opts)
    return tool.main(args)


@pytest.mark.parametrize("config,train", [("deeplabv3plus_pseudo.yaml", None),
                                          ("deeplabv3plus_full.yaml", "('tiny_synthetic_train_sem_seg',)")])
def test_train_semantic_two_iterations_and_miou(tool, pseudo_dir, tmp_path, capsys, config, train):
    extra = ["DATASETS.TRAIN", train] if train else []
    _run(tool, config, _opts(tmp_path, pseudo_dir, *extra))
    assert (tmp_path / "model_final.pth").exists()
    table = json.loads((tmp_path / "metrics_table.json").read_text())
    assert list(table) == ["tiny_synthetic_val_sem_seg"]
    metrics = table["tiny_synthetic_val_sem_seg"]["sem_seg"]
    assert 0.0 <= metrics["mIoU"] <= 100.0 and {"IoU-background", "IoU-disc", "fwIoU", "pACC"} <= set(metrics)
    printed = capsys.readouterr().out
    assert "| dataset                    | mIoU" in printed and "| tiny_synthetic_val_sem_seg |" in printed
    assert (tmp_path / "metrics_table.md").read_text().splitlines()[0].startswith("| dataset")


def _broken(pseudo_dir, tmp_path, image_id, write):
    """A copy of ``pseudo_dir`` whose ``<image_id>.png`` is rewritten by ``write(path)``; returns (dir, path)."""
    bad = tmp_path / "semantic"
    shutil.copytree(pseudo_dir, bad)
    path = bad / f"{image_id}.png"
    write(path)
    return bad, str(path)


def test_pseudo_label_map_of_another_size(tool, pseudo_dir, tmp_path):
    bad, path = _broken(pseudo_dir, tmp_path, "train_00001", lambda p: Image.new("L", (64, 32)).save(p))
    with pytest.raises(BadInputError) as e:
        _run(tool, "deeplabv3plus_pseudo.yaml", _opts(tmp_path / "out", bad))
    assert str(e.value) == f"{path} (image train_00001): label map size 64x32 differs from image size 64x64"


def test_pseudo_label_value_above_the_classes(tool, pseudo_dir, tmp_path):
    def write(p):
        label = np.asarray(Image.open(p)).copy()
        label[0, :3] = (9, 255, 6)  # 255 (ignore) and 6 (the last class) are fine, 9 is not
        Image.fromarray(label).save(p)

    bad, path = _broken(pseudo_dir, tmp_path, "train_00000", write)
    cfg = _semantic_cfg(os.path.join(SYNTHETIC, "deeplabv3plus_pseudo.yaml"), _opts(tmp_path / "out", bad))
    record = next(r for r in load_pseudo_sem_seg(bad, "tiny_synthetic_train_cls") if r["image_id"] == "train_00000")
    message = (f"{path} (image train_00000): label value 9 outside 0..6 (background and 6 classes) and not the "
               "ignore value 255")
    with pytest.raises(BadInputError) as e:
        SemSegDatasetMapper(cfg, is_train=True)(record)
    assert str(e.value) == message
    for name in os.listdir(bad):  # every map bad: the first one the training loader reads stops the run
        write(bad / name)
    with pytest.raises(BadInputError, match=r"\(image train_0000\d\): label value 9 outside 0..6"):
        _run(tool, "deeplabv3plus_pseudo.yaml", _opts(tmp_path / "out", bad))


def test_pseudo_label_map_missing(tool, pseudo_dir, tmp_path):
    bad, path = _broken(pseudo_dir, tmp_path, "train_00002", os.remove)
    with pytest.raises(BadInputError) as e:
        _run(tool, "deeplabv3plus_pseudo.yaml", _opts(tmp_path / "out", bad))
    assert str(e.value) == (f"{path} (image train_00002): no pseudo label map for this image of "
                            "tiny_synthetic_train_cls; run the semantic stage of tools/generate_pseudo.py on the same "
                            "DATASETS.TRAIN (and PIPELINE.MAX_IMAGES 0)")


def test_pseudo_dir_missing_stops_before_anything_is_written(tool, tmp_path):
    args = tool.tool_parser().parse_args(["--config-file", os.path.join(SYNTHETIC, "deeplabv3plus_pseudo.yaml")]
                                          + _opts(tmp_path / "out", tmp_path / "nowhere"))
    with pytest.raises(BadInputError, match="DATASETS.SEMANTIC_PSEUDO_DIR is not a folder"):
        tool.checked_cfg(args)
    assert not (tmp_path / "out").exists()


def test_coco_ground_truth_drawn_from_instances(tmp_path):
    """COCO-json sets have no class PNGs: classes as c + 1, crowd as 255, written once to the cache."""
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).write_bytes(b"")  # only their presence is checked: the maps come from the json
    register_coco_weak("semtest", _json(tmp_path), str(tmp_path), class_map="voc")
    cfg = _semantic_cfg(os.path.join(SYNTHETIC, "deeplabv3plus_full.yaml"),
                            ["DATASETS.TRAIN", "('semtest_sem_seg',)", "DATASETS.TEST", "()",
                             "OUTPUT_DIR", str(tmp_path / "out")])
    assert register_sem_seg_from_cfg(cfg) == ["semtest_sem_seg"]
    records = DatasetCatalog.get("semtest_sem_seg")
    assert [r["image_id"] for r in records] == ["1", "2", "3"]
    cache = tmp_path / "out" / "sem_seg_gt" / "semtest_instance"  # <OUTPUT_DIR>/sem_seg_gt/<instance set>
    assert [r["sem_seg_file_name"] for r in records] == [str(cache / f"{i}.png") for i in ("1", "2", "3")]
    first, giraffe, third = (read_label_png(r["sem_seg_file_name"]) for r in records)
    # aeroplane (class 0 -> 1), the crowd person 255, nothing else
    assert (first[:4, :4] == 1).all() and (first[5:9, 5:9] == 255).all() and first.sum() == 16 + 16 * 255
    assert not giraffe.any()  # outside the VOC classes: background
    assert (third[:4, :4] == 18).all() and (third[5:9, 5:9] == 15).all()  # sofa (couch), person
    stamps = [os.path.getmtime(r["sem_seg_file_name"]) for r in records]
    assert [os.path.getmtime(r["sem_seg_file_name"]) for r in DatasetCatalog.get("semtest_sem_seg")] == stamps
    with pytest.raises(BadInputError, match="no registered nothing_instance set"):
        register_sem_seg_from_cfg(_semantic_cfg(os.path.join(SYNTHETIC, "deeplabv3plus_full.yaml"),
                                                    ["DATASETS.TRAIN", "('nothing_sem_seg',)"]))
