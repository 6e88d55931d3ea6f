"""Several weak sets as one (DATASETS.TRAIN, PIPELINE.GT_DATASET), ground truth that follows the user's data,
bad input on the COCO-json path, and eval_pseudo.py --val."""
import json
import logging
import os
import re

import pytest
from detectron2.data import DatasetCatalog

from irnet_wsis.config import setup_cfg
from irnet_wsis.data.builtin import concat_dataset_dicts, dataset_names, register_from_cfg
from irnet_wsis.data.coco_weak import register_coco_weak, weak_summary
from irnet_wsis.engine.work_dir import gt_dataset_names, gt_records, stage_records
from irnet_wsis.errors import BadInputError

from conftest import COCO_MINI, ROOT, load_script
from test_coco_weak import _json

COCO_EXTRA = os.path.join(os.path.dirname(COCO_MINI), "coco_extra")
LITE0_BASE = os.path.join(ROOT, "configs", "coco", "Base-IRNet-Lite0.yaml")


def _coco_set(tmp_path, folder):
    """The 3-image json of test_coco_weak (ids 1, 2, 3; image 2 only a giraffe) in ``tmp_path/folder``, with its
    images on disk. Returns (json path, image root)."""
    root = tmp_path / folder
    root.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (root / name).write_bytes(b"")  # only their presence is checked here
    return _json(root), str(root)


def _cfg(*opts):
    return setup_cfg(os.path.join(ROOT, "configs", "Base-IRNet.yaml"), list(opts))


def _own_data_config(tmp_path, extra=""):
    """A config with only the README's own-data keys on top of the shared Lite0 base."""
    train_json, train_root = _coco_set(tmp_path, "train")
    val_json, val_root = _coco_set(tmp_path, "val")
    path = tmp_path / "mydata.yaml"
    path.write_text(f'''_BASE_: "{LITE0_BASE}"
DATASETS:
  COCO_WEAK_NAMES: ("mydata_train", "mydata_val")
  COCO_WEAK_JSONS: ("{train_json}", "{val_json}")
  COCO_WEAK_IMAGE_ROOTS: ("{train_root}", "{val_root}")
  COCO_WEAK_CLASS_MAP: "voc"
  TRAIN: ("mydata_train_cls",)
{extra}''')
    return str(path)


def test_two_weak_sets_concatenate_with_unique_ids(tmp_path):
    for name in ("cat_a", "cat_b"):
        register_coco_weak(name, *_coco_set(tmp_path, name), class_map="voc")
    records = stage_records(_cfg("DATASETS.TRAIN", "('cat_a_cls', 'cat_b_cls')"))
    # both jsons use ids 1, 2, 3; image 2 (a giraffe only) carries no VOC label in either
    assert [r["image_id"] for r in records] == ["cat_a_cls/1", "cat_a_cls/3", "cat_b_cls/1", "cat_b_cls/3"]
    assert [r["classes"] for r in records] == [[0], [14, 17]] * 2  # aeroplane; person, sofa (VOC order)
    assert records[0]["file_name"] == str(tmp_path / "cat_a" / "a.jpg")
    assert [r["image_id"] for r in stage_records(_cfg("DATASETS.TRAIN", "('cat_a_cls',)"))] == ["1", "3"]  # one set
    assert len(concat_dataset_dicts("cat_a_instance,cat_b_instance")) == 6
    with pytest.raises(BadInputError, match="cat_a_cls is named twice"):
        concat_dataset_dicts(("cat_a_cls", "cat_a_cls"))
    assert dataset_names(" a, b ,") == ("a", "b") and dataset_names(("a",)) == ("a",) and dataset_names("") == ()


def test_sets_with_different_class_lists_are_one_line_error(tmp_path):
    register_coco_weak("classes_voc", *_coco_set(tmp_path, "voc"), class_map="voc")
    register_coco_weak("classes_all", *_coco_set(tmp_path, "all"))  # the json's 4 categories
    with pytest.raises(BadInputError) as error:
        stage_records(_cfg("DATASETS.TRAIN", "('classes_voc_cls', 'classes_all_cls')"))
    message = str(error.value)
    assert "classes_voc_cls and classes_all_cls have different class lists (20 and 4 classes" in message
    assert "\n" not in message


def test_unknown_category_counted_and_reported_once(tmp_path):
    register_coco_weak("unknown_cat", *_coco_set(tmp_path, "u"), class_map="voc")
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("irnet_wsis.data.coco_weak")
    logger.addHandler(handler)
    try:
        for _ in range(2):
            DatasetCatalog.get("unknown_cat_cls")
        DatasetCatalog.get("unknown_cat_instance")
    finally:
        logger.removeHandler(handler)
    assert weak_summary("unknown_cat_cls") == {"images": 2, "left_out_no_label_in_class_map": 1,
                                               "ignored_annotations_outside_class_map": 1}
    assert messages == [f"{tmp_path / 'u' / 'instances.json'}: 1 annotation(s) of 1 category(ies) outside the "
                        "class map ignored: giraffe (1)"]


def test_image_missing_on_disk_names_file_and_id(tmp_path):
    json_file, root = _coco_set(tmp_path, "m")
    os.remove(os.path.join(root, "c.jpg"))
    register_coco_weak("missing_img", json_file, root, class_map="voc")
    for name in ("missing_img_cls", "missing_img_instance"):
        expected = f"{root}/c.jpg (image 3): listed in {json_file} but not on disk"
        with pytest.raises(BadInputError, match=f"^{re.escape(expected)}$"):
            DatasetCatalog.get(name)
    register_coco_weak("missing_img", json_file, root, class_map="voc", skip_bad=True)
    assert [r["image_id"] for r in DatasetCatalog.get("missing_img_cls")] == ["1"]


def test_own_data_config_names_no_coco_mini_dataset(tmp_path):
    cfg = setup_cfg(_own_data_config(tmp_path), [])
    named = list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST) + [cfg.CAM_INFERENCE.VAL_DATASET,
                                                                   cfg.PIPELINE.GT_DATASET]
    assert not [n for n in named if "coco" in n], named
    register_from_cfg(cfg)
    assert gt_dataset_names(cfg) == ("mydata_train_instance",)  # the *_instance twin of DATASETS.TRAIN
    records = gt_records(cfg)
    assert [(r["image_id"], len(r["annotations"])) for r in records] == [("1", 2), ("3", 2)]


def test_eval_over_no_matching_image_is_exit_2(tmp_path, capsys):
    config = _own_data_config(tmp_path, 'PIPELINE:\n  GT_DATASET: "mydata_val_instance"\n')
    tool = load_script("tools", "eval_pseudo")
    argv = ["--config-file", config, "PIPELINE.WORK_DIR", str(tmp_path / "work")]
    with pytest.raises(BadInputError, match="none of the 3 images of mydata_val_instance"):
        tool.main(argv)
    with pytest.raises(SystemExit) as stop:
        tool.exit_on_bad_input(tool.main, argv)  # as run from the command line
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: none of the 3 images of mydata_val_instance (PIPELINE.GT_DATASET) is among "
                              "the 2 of mydata_train_cls (DATASETS.TRAIN)")


def test_eval_val_computes_cams_and_sweeps(tiny_synthetic_root, tmp_path):
    """--val: CAMs of the val images by the run's CAM network (0 iterations here), then the sweep."""
    from irnet_wsis.engine.stages import run_stage

    opts = ["DATASETS.TRAIN", "('tiny_synthetic_train_cls',)", "CAM_INFERENCE.VAL_DATASET", "",
            "PIPELINE.GT_DATASET", "", "PIPELINE.WORK_DIR", str(tmp_path / "work"), "PIPELINE.CAM_SOLVER.MAX_ITER", "0",
            "CAM_INFERENCE.SCALES", "(1.0,)", "CAM_INFERENCE.FLIP", "False", "DATALOADER.NUM_WORKERS", "0",
            "MODEL.DEVICE", "cpu"]
    config = os.path.join(ROOT, "configs", "synthetic", "irnet_pseudo.yaml")
    run_stage(setup_cfg(config, opts), "train_cam")
    tool = load_script("tools", "eval_pseudo")
    results = tool.main(["--config-file", config, "--val", "tiny_synthetic_val_cls"] + opts)
    assert set(results) == {"cam"}
    val = tmp_path / "work" / "val"
    sweep = json.loads((val / "eval" / "cam_threshold_sweep.json").read_text())
    assert sweep["images"] == len(DatasetCatalog.get("tiny_synthetic_val_cls")) == len(os.listdir(val / "cams")) == 4
    stamps = {n: os.path.getmtime(val / "cams" / n) for n in os.listdir(val / "cams")}
    tool.main(["--config-file", config, "--val", "tiny_synthetic_val_cls"] + opts)  # same network: CAMs kept
    assert {n: os.path.getmtime(val / "cams" / n) for n in os.listdir(val / "cams")} == stamps
    with open(val / "cam" / "model_final.pth", "ab") as f:  # a copy of another network: CAMs recomputed
        f.write(b"x")
    tool.main(["--config-file", config, "--val", "tiny_synthetic_val_cls"] + opts)
    assert sorted(os.listdir(val / "cams")) == sorted(stamps)
    assert all(os.path.getmtime(val / "cams" / n) > t for n, t in stamps.items())
    with pytest.raises(SystemExit):  # argparse: Tables 1 and 2 need IRNet outputs of the val images
        tool.main(["--config-file", config, "--val", "tiny_synthetic_val_cls", "--tables", "table1"] + opts)


@pytest.mark.skipif(not (os.path.isdir(COCO_MINI) and os.path.isdir(COCO_EXTRA)),
                    reason="../shared/data/coco_mini or coco_extra is absent (only on the dev machine)")
def test_coco_mini_and_extra_configs_list_their_photos():
    cfg = setup_cfg(os.path.join(ROOT, "configs", "coco", "lite0_pseudo.yaml"), [])
    register_from_cfg(cfg)
    train = stage_records(cfg)
    assert len(train) == 63 + 139 == 202
    assert len({r["image_id"] for r in train}) == 202 and train[0]["image_id"].startswith("coco_mini_train_cls/")
    assert len(concat_dataset_dicts(gt_dataset_names(cfg))) == 80 + 173 == 253
    assert len(gt_records(cfg)) == 202
    assert len(concat_dataset_dicts(cfg.CAM_INFERENCE.VAL_DATASET)) == 64 + 71 == 135
    mask_rcnn = setup_cfg(os.path.join(ROOT, "configs", "coco", "lite0_mask_rcnn.yaml"), [])
    assert [len(DatasetCatalog.get(n)) for n in mask_rcnn.DATASETS.TEST] == [79, 86]  # 165 val photos
