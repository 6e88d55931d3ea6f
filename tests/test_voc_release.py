"""PASCAL VOC 2012 + SBD as released, end to end as a user runs it, on a tiny tree in the release layout:
datasets/prepare_voc.py, tools/generate_pseudo.py (configs/VOC/irnet_pseudo.yaml), tools/train_net.py with
each configs/VOC Mask R-CNN config; the irnet_wsis log lines in log.txt; and the tools' one-line errors."""
import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from conftest import ROOT, write_palette_png, write_sbd_cls, write_sbd_inst
from irnet_wsis.data.voc import VOC_CLASSES

CAT, CAR, DOG, PERSON = (VOC_CLASSES.index(n) for n in ("cat", "car", "dog", "person"))
COLOURS = {CAT: (230, 120, 30), CAR: (30, 60, 220), DOG: (140, 90, 40), PERSON: (220, 200, 170)}
# image id -> (height, width), objects (class index, "rect" | "ellipse", (x0, y0, x1, y1)); odd sizes under 100 px
IMAGES = {
    "2007_000032": ((53, 67), [(CAT, "rect", (5, 6, 28, 30)), (DOG, "ellipse", (34, 18, 62, 46))]),
    "2007_000039": ((64, 81), [(PERSON, "ellipse", (10, 4, 34, 58)), (PERSON, "ellipse", (44, 8, 70, 60))]),
    "2007_000063": ((71, 59), [(CAR, "rect", (6, 30, 52, 62))]),
    "2007_000033": ((57, 77), [(DOG, "ellipse", (8, 8, 40, 48)), (CAT, "rect", (46, 20, 70, 50))]),
    "2007_000042": ((66, 53), [(CAR, "rect", (4, 10, 48, 40)), (PERSON, "ellipse", (20, 42, 40, 63))]),
    "2007_000061": ((49, 91), [(CAT, "ellipse", (6, 6, 40, 44)), (CAT, "ellipse", (50, 4, 86, 42))]),
    "2008_000002": ((75, 61), [(DOG, "rect", (8, 12, 50, 60))]),
    "2008_000003": ((59, 83), [(PERSON, "ellipse", (30, 4, 56, 55)), (CAR, "rect", (60, 30, 80, 55))]),
    "2008_000008": ((69, 69), [(CAT, "ellipse", (10, 10, 58, 58))]),
}
VOC_TRAIN = ["2007_000032", "2007_000039", "2007_000063"]
VOC_VAL = ["2007_000033", "2007_000042", "2007_000061"]
# SBD train lists VOC val images (left out of train_aug) and a VOC train image; the 2008 ids are SBD-only
SBD_TRAIN = ["2008_000002", "2007_000033", "2008_000003", "2007_000039"]
SBD_VAL = ["2008_000008", "2007_000042"]
TRAIN_AUG = sorted(set(VOC_TRAIN + SBD_TRAIN + SBD_VAL) - set(VOC_VAL))

CPU = ["MODEL.DEVICE", "cpu", "DATALOADER.NUM_WORKERS", "0"]
# no ImageNet weights offline: trainable BN, nothing frozen (as configs/synthetic/*.yaml)
FROM_SCRATCH = ["MODEL.RESNETS.NORM", "BN", "MODEL.BACKBONE.FREEZE_AT", "0"]
MASK_RCNN_CONFIGS = ["mask_rcnn_pseudo", "cascade_mask_rcnn_pseudo", "mask_rcnn_R101_pseudo", "mask_rcnn_full"]
IRNET = ["tools/generate_pseudo.py", "--config-file", "configs/VOC/irnet_pseudo.yaml"]
MASK_RCNN = ["tools/train_net.py", "--config-file", "configs/VOC/mask_rcnn_pseudo.yaml"]


def _masks(image_id):
    """(class index, bool mask) of each object of ``image_id``, later objects on top."""
    (h, w), objects = IMAGES[image_id]
    out = []
    for cls, shape, box in objects:
        canvas = Image.new("L", (w, h))
        draw = ImageDraw.Draw(canvas)
        (draw.rectangle if shape == "rect" else draw.ellipse)(box, fill=1)
        out.append((cls, np.asarray(canvas, bool)))
    return out


def _label_maps(image_id, void=True):
    """Class map (0 bg, c + 1) and instance map (0 bg, 1..N); with ``void`` a 255 ring around each object."""
    (h, w), _ = IMAGES[image_id]
    cls_map, obj_map = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    for i, (cls, mask) in enumerate(_masks(image_id), 1):
        cls_map[mask], obj_map[mask] = cls + 1, i
    if void:
        ring = ndimage.binary_dilation(obj_map > 0, iterations=2) & (obj_map == 0)
        cls_map[ring] = obj_map[ring] = 255
    return cls_map, obj_map


def _write_image(path, image_id):
    (h, w), _ = IMAGES[image_id]
    rgb = np.random.default_rng(int(image_id.replace("_", ""))).integers(60, 110, (h, w, 3)).astype(np.uint8)
    for cls, mask in _masks(image_id):
        rgb[mask] = COLOURS[cls]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(rgb).save(path, quality=95)


def _write_xml(path, image_id):
    (h, w), objects = IMAGES[image_id]
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "VOC2012"
    ET.SubElement(root, "filename").text = image_id + ".jpg"
    size = ET.SubElement(root, "size")
    for key, value in (("width", w), ("height", h), ("depth", 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(root, "segmented").text = "1"
    for cls, _, (x0, y0, x1, y1) in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = VOC_CLASSES[cls]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        for key, value in (("xmin", x0 + 1), ("ymin", y0 + 1), ("xmax", x1 + 1), ("ymax", y1 + 1)):  # 1-based
            ET.SubElement(box, key).text = str(value)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ET.ElementTree(root).write(path)


def _write_list(path, ids):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("".join(i + "\n" for i in ids))


@pytest.fixture(scope="module")
def voc_release(tmp_path_factory):
    """``$DETECTRON2_DATASETS`` with VOC2012/ (every image, XML, palette masks of the seg splits) and SBD/
    (img, cls/inst .mat structs, train/val lists), as the two releases unpack."""
    root = tmp_path_factory.mktemp("voc_release")
    voc, sbd = root / "VOC2012", root / "SBD"
    for image_id in IMAGES:  # VOC2012 holds every JPEG and XML, SBD's images included
        _write_image(str(voc / "JPEGImages" / f"{image_id}.jpg"), image_id)
        _write_xml(str(voc / "Annotations" / f"{image_id}.xml"), image_id)
    for image_id in VOC_TRAIN + VOC_VAL:
        cls_map, obj_map = _label_maps(image_id)
        write_palette_png(str(voc / "SegmentationClass" / f"{image_id}.png"), cls_map)
        write_palette_png(str(voc / "SegmentationObject" / f"{image_id}.png"), obj_map)
    _write_list(str(voc / "ImageSets" / "Segmentation" / "train.txt"), VOC_TRAIN)
    _write_list(str(voc / "ImageSets" / "Segmentation" / "val.txt"), VOC_VAL)
    _write_list(str(voc / "ImageSets" / "Segmentation" / "trainval.txt"), VOC_TRAIN + VOC_VAL)
    for image_id in SBD_TRAIN + SBD_VAL:
        _write_image(str(sbd / "img" / f"{image_id}.jpg"), image_id)
        cls_map, obj_map = _label_maps(image_id, void=False)  # SBD has no void label
        write_sbd_cls(str(sbd / "cls" / f"{image_id}.mat"), cls_map)
        write_sbd_inst(str(sbd / "inst" / f"{image_id}.mat"), obj_map, [c + 1 for c, _, _ in IMAGES[image_id][1]])
    _write_list(str(sbd / "train.txt"), SBD_TRAIN)
    _write_list(str(sbd / "val.txt"), SBD_VAL)
    return root


def _run_tool(script, argv, datasets_root):
    """``python <script> <argv>`` from the repository root with ``$DETECTRON2_DATASETS``, as a user runs it."""
    env = dict(os.environ, DETECTRON2_DATASETS=str(datasets_root), OMP_NUM_THREADS="1",
               PYTHONWARNINGS="ignore::FutureWarning")  # fvcore's import-time torch.jit.script warning is not ours
    return subprocess.run([sys.executable, os.path.join(ROOT, script)] + [str(a) for a in argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _succeeds(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def train_aug_labels(voc_release):
    _succeeds(_run_tool("datasets/prepare_voc.py", [], voc_release))  # --root defaults to $DETECTRON2_DATASETS
    with open(voc_release / "VOC2012" / "cls_labels_train_aug.json") as f:
        return json.load(f)


def test_prepare_voc_labels_train_aug(train_aug_labels):
    expected = {i: sorted({c for c, _, _ in IMAGES[i][1]}) for i in TRAIN_AUG}
    assert train_aug_labels == expected  # VOC val ids listed by SBD train / val are left out


@pytest.fixture(scope="module")
def pseudo_run(voc_release, train_aug_labels):
    """configs/VOC/irnet_pseudo.yaml, every stage, shrunk: ResNet-18 from scratch, 2 iterations a stage."""
    work = voc_release / "work"
    result = _succeeds(_run_tool(IRNET[0], IRNET[1:] + CPU + FROM_SCRATCH + [
        "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64", "PIPELINE.WORK_DIR", work,
        "PIPELINE.CAM_SOLVER.BASE_LR", "0.02", "PIPELINE.CAM_SOLVER.MAX_ITER", "2",
        "PIPELINE.CAM_SOLVER.IMS_PER_BATCH", "2", "PIPELINE.IRNET_SOLVER.MAX_ITER", "2",
        "PIPELINE.IRNET_SOLVER.IMS_PER_BATCH", "2", "INPUT.CAM.RESIZE_LONG", "(48, 64)", "INPUT.CAM.CROP_SIZE", "64",
        "INPUT.IRNET.RESIZE_LONG", "(48, 64)", "INPUT.IRNET.CROP_SIZE", "64", "MODEL.IRNET.DISP_CHANNELS", "64",
        "CAM_INFERENCE.SCALES", "(1.0,)", "CAM_INFERENCE.FLIP", "False", "RELATIONS.CRF.ITERATIONS", "2",
        "SYNTHESIS.REFINE_ITERATIONS", "10", "SYNTHESIS.RANDOM_WALK_STEPS", "16",
        "SYNTHESIS.BACKGROUND_THRESHOLD", "0.0",  # untrained nets: keep every pixel so the json is not empty
        "SEED", "0",  # a random start can leave every class's CAM at 0 (tests/test_pipeline.py, _tiny_opts)
    ], voc_release))
    return work, result


def test_generate_pseudo_on_voc_release(train_aug_labels, pseudo_run):
    work, result = pseudo_run
    data = json.loads((work / "pseudo_coco.json").read_text())
    images = {os.path.basename(i["file_name"]): (i["height"], i["width"]) for i in data["images"]}
    assert images == {f"{i}.jpg": IMAGES[i][0] for i in TRAIN_AUG}  # odd sizes kept, VOC val images left out
    keys = {i["id"]: i["image_key"] for i in data["images"]}
    assert data["annotations"]  # each of the image's own classes (COCO ids are class index + 1)
    assert all(a["category_id"] - 1 in train_aug_labels[keys[a["image_id"]]] for a in data["annotations"])
    assert "| export" in result.stdout  # the summary table
    assert result.stdout.count("stage train_cam") == 1  # on the console once
    log = (work / "log.txt").read_text()  # OUTPUT_DIR defaults to WORK_DIR: irnet_wsis lines reach its log.txt
    assert "irnet_wsis.generate_pseudo INFO: stage train_cam" in log
    assert "backbone starts from scratch (no MODEL.IMAGENET_WEIGHTS given)" in log


@pytest.mark.parametrize("name", MASK_RCNN_CONFIGS)
def test_train_net_voc_configs_report_apr(voc_release, pseudo_run, name):
    work, _ = pseudo_run
    out = voc_release / name
    result = _succeeds(_run_tool(MASK_RCNN[0], [
        "--config-file", f"configs/VOC/{name}.yaml", *CPU, *FROM_SCRATCH, "MODEL.WEIGHTS", "",
        "DATASETS.PSEUDO_JSON", work / "pseudo_coco.json", "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "2",
        "SOLVER.WARMUP_ITERS", "0", "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "96",
        "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "200",
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "64", "TEST.DETECTIONS_PER_IMAGE", "20", "OUTPUT_DIR", out,
    ], voc_release))
    table = (out / "metrics_table.md").read_text()
    assert "AP^r_50" in table and "AP^r_70" in table and "voc_2012_val_instance" in table
    assert table.strip() in result.stdout  # printed as well
    res = json.loads((out / "metrics_table.json").read_text())["voc_2012_val_instance"]
    for value in (res["segm_apr"]["AP50r"], res["segm_apr"]["AP70r"]):
        assert math.isfinite(value) and 0.0 <= value <= 100.0
    assert "irnet_wsis.train_net INFO: evaluation:" in (out / "log.txt").read_text()


@pytest.mark.parametrize("command, message", [
    (MASK_RCNN + ["DATASETS.PSEUDO_JSON", "nowhere.json"],
     "nowhere.json: pseudo-label json not found; run tools/generate_pseudo.py first"),
    (MASK_RCNN + ["DATASETS.PSEUDO_JSON", "{json}", "MODEL.WEIGHTS", ""],
     "MODEL.RESNETS.NORM FrozenBN needs pretrained weights: pass MODEL.WEIGHTS"),
    (MASK_RCNN + ["SOLVER.MAX_ITR", "2"], "Non-existent key: SOLVER.MAX_ITR"),
    (IRNET + ["--stages", "cams,train_irnt"], "--stages: unknown stage(s) train_irnt"),
    (IRNET, "MODEL.RESNETS.NORM FrozenBN needs ImageNet weights: pass MODEL.IMAGENET_WEIGHTS"),
], ids=["missing_json", "train_net_frozen_bn", "unknown_key", "unknown_stage", "generate_pseudo_frozen_bn"])
def test_bad_input_is_one_line_before_setup(voc_release, pseudo_run, command, message):
    """A user error: exit code 2, ``error: <message>`` as the one line on stderr (on a machine without a GPU
    too), and no OUTPUT_DIR: it stops before Detectron2's setup dumps the environment and config."""
    _assert_one_line_error([a.format(json=pseudo_run[0] / "pseudo_coco.json") for a in command], voc_release, message)


def test_unprepared_voc_is_one_line_before_setup(tmp_path):
    (tmp_path / "VOC2012" / "JPEGImages").mkdir(parents=True)  # datasets/prepare_voc.py not run yet
    message = "VOC2012/cls_labels_train_aug.json: label file not found; run python datasets/prepare_voc.py"
    _assert_one_line_error(IRNET + FROM_SCRATCH, tmp_path, message)


def _assert_one_line_error(command, datasets_root, message):
    out = datasets_root / "out_bad_input"
    result = _run_tool(command[0], command[1:] + ["OUTPUT_DIR", out, "PIPELINE.WORK_DIR", out], datasets_root)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Environment info" not in result.stdout and not os.path.exists(out)
