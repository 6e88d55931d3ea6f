"""PASCAL VOC 2012 (+ SBD) readers returning Detectron2 dataset dicts.

Record fields follow ``docs/INTERFACES.md``: ``file_name``, ``image_id``,
``height``, ``width``, ``classes`` (sorted class indices present); instance
records add ``annotations`` (RLE masks) and ``sem_seg_file_name``. The same
readers read the synthetic set, which is written in VOC layout.
"""
import json
import logging
import os
import xml.etree.ElementTree as ET

import numpy as np
from detectron2.structures import BoxMode
from PIL import Image
from pycocotools import mask as mask_util

from ..errors import BadInputError, bad_input, require_file

__all__ = [
    "VOC_CLASSES",
    "TRAIN_AUG_LABEL_FILE",
    "check_voc_root",
    "read_split",
    "load_voc_cls",
    "load_voc_instances",
    "instances_from_masks",
    "build_train_aug_labels",
]

logger = logging.getLogger(__name__)

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


# Image-level labels of train_aug under VOC2012/, written by datasets/prepare_voc.py.
TRAIN_AUG_LABEL_FILE = "cls_labels_train_aug.json"
_INSTANCE_FOLDERS = ("JPEGImages", "SegmentationClass", "SegmentationObject")


def _require_dir(path, hint):
    if not os.path.isdir(path):
        raise BadInputError(f"{path}: folder not found; {hint}")


def check_voc_root(voc_root, instances=False, label_file=None):
    """Cheap check that ``voc_root`` holds what a reader needs (BadInputError otherwise).

    JPEGImages; with ``instances`` also SegmentationClass and SegmentationObject; ``label_file`` when given.
    """
    for folder in _INSTANCE_FOLDERS if instances else _INSTANCE_FOLDERS[:1]:
        _require_dir(os.path.join(voc_root, folder), "download/prepare the dataset (see datasets/README.md)")
    if label_file:
        require_file(label_file, "label file not found; run python datasets/prepare_voc.py")


def read_split(split_file):
    """Image ids listed one per line in ``split_file``."""
    if not os.path.isfile(split_file):
        raise BadInputError(f"{split_file}: split file not found")
    with open(split_file) as f:
        return [line.split()[0] for line in f if line.strip()]


def _image_size(path, image_id):
    try:
        with Image.open(path) as im:
            return im.height, im.width
    except Exception as e:
        raise bad_input(path, f"cannot read image ({e.__class__.__name__}: {e})", image_id) from e


def _check_image(voc_root, image_id, skip_bad, bad):
    path = os.path.join(voc_root, "JPEGImages", image_id + ".jpg")
    if not os.path.isfile(path):
        err = bad_input(path, "image listed in the split file does not exist", image_id)
        if not skip_bad:
            raise err
        logger.warning("skipped: %s", err)
        bad.append(image_id)
        return None
    return path


def _xml_classes(xml_path, image_id, class_names):
    if not os.path.isfile(xml_path):
        raise bad_input(xml_path, "annotation file not found", image_id)
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise bad_input(xml_path, f"cannot parse XML ({e})", image_id) from e
    names = [o.findtext("name", "").strip() for o in root.findall("object")]
    unknown = sorted({n for n in names if n not in class_names})
    if unknown:
        raise bad_input(xml_path, f"unknown class name(s) {unknown}", image_id)
    size = root.find("size")
    hw = None
    if size is not None and size.findtext("height"):
        hw = (int(size.findtext("height")), int(size.findtext("width")))
    return sorted({class_names.index(n) for n in names}), hw


def load_voc_cls(voc_root, split_file=None, class_names=VOC_CLASSES, label_file=None, skip_bad=False):
    """Weak records (image-level labels only) of the images in ``split_file``.

    Labels come from ``label_file`` (json {image_id: [class indices]}, written by
    datasets/prepare_voc.py) when given, else from the VOC XML annotations.
    Without ``split_file`` the images are the keys of ``label_file``.
    """
    check_voc_root(voc_root, label_file=label_file)
    labels = None
    if label_file:
        with open(label_file) as f:
            labels = json.load(f)
    image_ids = read_split(split_file) if split_file else sorted(labels)
    records, bad = [], []
    for image_id in image_ids:
        path = _check_image(voc_root, image_id, skip_bad, bad)
        if path is None:
            continue
        if labels is not None:
            if image_id not in labels:
                raise bad_input(label_file, "image has no entry in the label file", image_id)
            classes, hw = sorted(labels[image_id]), None
        else:
            classes, hw = _xml_classes(os.path.join(voc_root, "Annotations", image_id + ".xml"), image_id, class_names)
        if hw is None:
            hw = _image_size(path, image_id)
        records.append({"file_name": path, "image_id": image_id, "height": hw[0], "width": hw[1], "classes": classes})
    if bad:
        logger.warning("%d image(s) of %s skipped as bad input", len(bad), split_file)
    return records


def _read_png(path, image_id):
    if not os.path.isfile(path):
        raise bad_input(path, "mask file not found", image_id)
    try:
        with Image.open(path) as im:
            return np.asarray(im, dtype=np.uint8)
    except Exception as e:
        raise bad_input(path, f"cannot read mask ({e.__class__.__name__}: {e})", image_id) from e


def instances_from_masks(obj_map, cls_map):
    """Instances of a VOC image.

    Args:
        obj_map: uint8 (H, W) SegmentationObject: 0 bg, 1..N instance, 255 void.
        cls_map: uint8 (H, W) SegmentationClass: 0 bg, c+1 class, 255 void.
    Returns:
        list of (class index, bool (H, W) mask); the class of an instance is the
        majority class of its pixels; void pixels are not in any mask.
    """
    out = []
    for inst_id in np.unique(obj_map):
        if inst_id in (0, 255):
            continue
        mask = obj_map == inst_id
        cls = cls_map[mask]
        cls = cls[(cls != 0) & (cls != 255)]
        if cls.size == 0:
            continue
        out.append((int(np.bincount(cls).argmax()) - 1, mask))
    return out


def _annotation(category_id, mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = mask_util.toBbox(rle).tolist()
    rle["counts"] = rle["counts"].decode("ascii")
    return {"category_id": category_id, "segmentation": rle, "bbox": bbox, "bbox_mode": BoxMode.XYWH_ABS, "iscrowd": 0}


def load_voc_instances(voc_root, split, skip_bad=False):
    """Instance records of ``ImageSets/Segmentation/<split>.txt`` from SegmentationObject + SegmentationClass."""
    check_voc_root(voc_root, instances=True)
    split_file = os.path.join(voc_root, "ImageSets", "Segmentation", f"{split}.txt")
    records, bad = [], []
    for image_id in read_split(split_file):
        path = _check_image(voc_root, image_id, skip_bad, bad)
        if path is None:
            continue
        cls_path = os.path.join(voc_root, "SegmentationClass", image_id + ".png")
        obj_path = os.path.join(voc_root, "SegmentationObject", image_id + ".png")
        try:
            cls_map, obj_map = _read_png(cls_path, image_id), _read_png(obj_path, image_id)
            hw = _image_size(path, image_id)
            for p, m in ((cls_path, cls_map), (obj_path, obj_map)):
                if m.shape != hw:
                    raise bad_input(p, f"mask size {m.shape[1]}x{m.shape[0]} differs from image size {hw[1]}x{hw[0]}",
                                    image_id)
        except BadInputError as e:
            if not skip_bad:
                raise
            logger.warning("skipped: %s", e)
            bad.append(image_id)
            continue
        instances = instances_from_masks(obj_map, cls_map)
        records.append({
            "file_name": path,
            "image_id": image_id,
            "height": hw[0],
            "width": hw[1],
            "classes": sorted({c for c, _ in instances}),
            "sem_seg_file_name": cls_path,
            "annotations": [_annotation(c, m) for c, m in instances],
        })
    if bad:
        logger.warning("%d image(s) of %s skipped as bad input", len(bad), split_file)
    return records


def _sbd_classes(mat_path, image_id):
    from scipy.io import loadmat

    try:
        gt = loadmat(mat_path, squeeze_me=True, struct_as_record=False)["GTcls"]
    except Exception as e:
        raise bad_input(mat_path, f"cannot read SBD class file ({e.__class__.__name__})", image_id) from e
    seg = np.asarray(gt.Segmentation)
    return sorted(int(v) - 1 for v in np.unique(seg) if 0 < v < 255)


def build_train_aug_labels(voc_root, sbd_root):
    """Image-level labels of train_aug: (VOC train + SBD train + SBD val) minus VOC val.

    Labels of an image come from VOC SegmentationClass when it has one, else
    from SBD ``cls/<id>.mat``. Returns {image_id: sorted class indices}.
    """
    seg_dir = os.path.join(voc_root, "ImageSets", "Segmentation")
    _require_dir(seg_dir, "VOC2012 ImageSets/Segmentation is needed")
    _require_dir(os.path.join(sbd_root, "cls"), "SBD (benchmark_RELEASE/dataset) is needed for train_aug")
    voc_train = read_split(os.path.join(seg_dir, "train.txt"))
    voc_val = set(read_split(os.path.join(seg_dir, "val.txt")))
    sbd_ids = read_split(os.path.join(sbd_root, "train.txt")) + read_split(os.path.join(sbd_root, "val.txt"))
    ids = sorted(set(voc_train + sbd_ids) - voc_val)
    labels = {}
    for image_id in ids:
        cls_png = os.path.join(voc_root, "SegmentationClass", image_id + ".png")
        if os.path.isfile(cls_png):
            cls_map = _read_png(cls_png, image_id)
            labels[image_id] = sorted(int(v) - 1 for v in np.unique(cls_map) if 0 < v < 255)
        else:
            mat = os.path.join(sbd_root, "cls", image_id + ".mat")
            if not os.path.isfile(mat):
                raise bad_input(mat, "no VOC SegmentationClass and no SBD class file for this image", image_id)
            labels[image_id] = _sbd_classes(mat, image_id)
    return labels
