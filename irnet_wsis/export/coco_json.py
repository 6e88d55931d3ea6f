"""Pseudo labels as one COCO instances json, and checks on reading it back.

Masks are stored as RLE exactly as synthesised (no polygon conversion, no
mask lost); category ids are 1..C under categories 1..C (class index + 1), so
pycocotools, Detectron2's ``load_coco_json`` and any COCO tool read them.
Images without a confident instance are kept, with no annotations.
"""
import json
import logging
import os

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json
from pycocotools import mask as mask_util

from ..errors import BadInputError, require_file

__all__ = ["instances_to_coco_json", "require_pseudo_json", "check_coco_json", "register_pseudo_coco"]

logger = logging.getLogger(__name__)


def _encoded(seg, height, width):
    """An RLE dict with str counts from an RLE (str/bytes counts) or a bool mask."""
    if isinstance(seg, np.ndarray):
        seg = mask_util.encode(np.asfortranarray(seg.astype(np.uint8)))
    seg = dict(seg)
    if seg.get("size") != [height, width]:
        raise ValueError(f"mask size {seg.get('size')} != image size {[height, width]}")
    if isinstance(seg["counts"], bytes):
        seg["counts"] = seg["counts"].decode("ascii")
    return seg


def instances_to_coco_json(records, instances_per_image, class_names, output_path, description=""):
    """Write the pseudo labels of a split as one COCO json.

    Args:
        records: dataset dicts (file_name, image_id, height, width), in output order.
        instances_per_image: per record a list of {"category_id" (class index), "score",
            "segmentation": RLE or "mask": bool (H, W)}.
        class_names: names of classes 0..C-1.
    Returns:
        summary {"images", "instances", "empty_images", "path"}.
    """
    if len(records) != len(instances_per_image):
        raise ValueError(f"{len(records)} records but {len(instances_per_image)} instance lists")
    images, annotations = [], []
    empty = 0
    for image_index, (record, instances) in enumerate(zip(records, instances_per_image), start=1):
        h, w = int(record["height"]), int(record["width"])
        images.append({"id": image_index, "file_name": record["file_name"], "height": h, "width": w,
                       "image_key": str(record["image_id"])})
        if not instances:
            empty += 1
        for inst in instances:
            c = int(inst["category_id"])
            if not 0 <= c < len(class_names):
                raise ValueError(f"image {record['image_id']}: class index {c} outside 0..{len(class_names) - 1}")
            rle = _encoded(inst["segmentation"] if "segmentation" in inst else inst["mask"], h, w)
            coco_rle = dict(rle, counts=rle["counts"].encode("ascii"))
            area = int(mask_util.area(coco_rle))
            if area == 0:
                continue
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_index,
                "category_id": c + 1,
                "segmentation": rle,
                "area": area,
                "bbox": [float(v) for v in mask_util.toBbox(coco_rle)],
                "iscrowd": 0,
                "score": float(inst.get("score", 1.0)),
            })
    data = {
        "info": {"description": description or "irnet_wsis pseudo labels"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": ""} for i, n in enumerate(class_names)],
    }
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    tmp = output_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, output_path)
    summary = {"images": len(images), "instances": len(annotations), "empty_images": empty, "path": output_path}
    logger.info("pseudo labels: %d instances in %d images (%d without any) -> %s", len(annotations), len(images),
                empty, output_path)
    return summary


def require_pseudo_json(json_path):
    """BadInputError unless the pseudo-label json ``json_path`` exists (a cheap check before a run)."""
    require_file(json_path, "pseudo-label json not found; run tools/generate_pseudo.py first")


def check_coco_json(json_path, records=None):
    """Stop with a one-line error when ``json_path`` cannot be trained on.

    Checks: the file exists and parses; it has at least one annotation; when
    ``records`` (the image set it should describe) is given, the same images
    (by file name) with the same sizes.
    """
    require_pseudo_json(json_path)
    try:
        with open(json_path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise BadInputError(f"{json_path}: not a readable json ({e}); rerun the export stage") from e
    if not data.get("annotations"):
        raise BadInputError(f"{json_path}: no annotation at all (empty pseudo label set); check the CAM and "
                            "IRNet stages (tools/eval_pseudo.py) or lower SYNTHESIS.BACKGROUND_THRESHOLD")
    if records is not None:
        ours = {img["file_name"]: (img["height"], img["width"]) for img in data["images"]}
        theirs = {r["file_name"]: (r["height"], r["width"]) for r in records}
        missing = sorted(set(theirs) - set(ours))
        extra = sorted(set(ours) - set(theirs))
        if missing or extra:
            raise BadInputError(f"{json_path}: does not match the image set ({len(missing)} missing, e.g. "
                                f"{missing[:1]}, {len(extra)} extra, e.g. {extra[:1]}); regenerate it for this dataset")
        wrong = [k for k in theirs if ours[k] != theirs[k]]
        if wrong:
            raise BadInputError(f"{json_path}: image {wrong[0]} has size {ours[wrong[0]]} in the json but "
                                f"{theirs[wrong[0]]} in the dataset; regenerate it")
    return data


def register_pseudo_coco(name, json_path, image_root="", class_names=None):
    """Register a pseudo-label json as Detectron2 dataset ``name`` (instances with RLE masks)."""
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, lambda: load_coco_json(json_path, image_root, name))
    meta = {"json_file": json_path, "image_root": image_root, "evaluator_type": "voc_instance"}
    if class_names is not None:
        meta["thing_classes"] = list(class_names)
    MetadataCatalog.get(name).set(**meta)
    return name
