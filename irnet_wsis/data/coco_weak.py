"""Any COCO-format instances json as a weak training set (image-level labels only) and as an evaluation set.

- ``<name>_cls``: each image's ``classes`` = the set of its non-crowd
  categories, mapped through an optional class map; masks and boxes are never
  put in these records. Images whose labels all fall outside the class map are
  left out and counted (``weak_summary(name)``).
- ``<name>_instance``: the same images with their instance masks as RLE
  (polygons converted by pycocotools), categories mapped; crowd regions are
  kept with ``iscrowd=1`` so AP^r and COCOeval ignore them.

Annotations of a category outside the class map are ignored, counted and
reported once per json as a warning. The registered loaders stop with a
one-line ``BadInputError`` naming the file and image id when an image the json
lists is not on disk (``skip_bad``: left out with a warning instead).

A class map (dict, or a yaml file ``{coco_name: target_name}``) keeps only the
listed categories and renames them; ``VOC_FROM_COCO`` maps COCO to the 20 VOC
classes.
"""
import logging
import os
from collections import Counter

import yaml
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from detectron2.utils.logger import log_first_n

from ..errors import BadInputError, bad_input
from .voc import VOC_CLASSES

__all__ = ["VOC_FROM_COCO", "load_class_map", "load_coco_weak", "load_coco_instances", "register_coco_weak",
           "check_image_files", "weak_summary"]

logger = logging.getLogger(__name__)

VOC_FROM_COCO = {
    "airplane": "aeroplane", "bicycle": "bicycle", "bird": "bird", "boat": "boat", "bottle": "bottle",
    "bus": "bus", "car": "car", "cat": "cat", "chair": "chair", "cow": "cow", "dining table": "diningtable",
    "dog": "dog", "horse": "horse", "motorcycle": "motorbike", "person": "person", "potted plant": "pottedplant",
    "sheep": "sheep", "couch": "sofa", "train": "train", "tv": "tvmonitor",
}
_SUMMARIES = {}


def load_class_map(class_map):
    """A dict, a yaml file path, "voc" (``VOC_FROM_COCO``) or None -> dict or None."""
    if class_map is None or class_map == "":
        return None
    if isinstance(class_map, dict):
        return dict(class_map)
    if class_map == "voc":
        return dict(VOC_FROM_COCO)
    if not os.path.isfile(class_map):
        raise BadInputError(f"{class_map}: class map file not found")
    with open(class_map) as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise BadInputError(f"{class_map}: a class map is a yaml mapping coco_name: target_name")
    return data


def _open_coco(json_file):
    from pycocotools.coco import COCO

    if not os.path.isfile(json_file):
        raise BadInputError(f"{json_file}: COCO json not found")
    try:
        return COCO(json_file)
    except Exception as e:
        raise BadInputError(f"{json_file}: not a readable COCO instances json ({e.__class__.__name__}: {e})") from e


def _category_lookup(coco, class_map, thing_classes):
    """COCO category id -> target class index (None when the class map drops it)."""
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    lookup = {}
    for cid, name in names.items():
        target = class_map.get(name) if class_map is not None else name
        lookup[cid] = thing_classes.index(target) if target in thing_classes else None
    return lookup


def unknown_categories(coco, lookup, json_file):
    """{category name: annotations} of the annotations ``lookup`` does not map (outside the class map, or
    an id the json's ``categories`` do not list: "id <n>"); reported once per json as a warning."""
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    counts = Counter(names.get(a["category_id"], f"id {a['category_id']}") for a in coco.dataset.get("annotations", [])
                     if lookup.get(a["category_id"]) is None)
    if counts:
        listed = ", ".join(f"{n} ({k})" for n, k in counts.most_common(5))
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        log_first_n(logging.WARNING, f"{json_file}: {sum(counts.values())} annotation(s) of {len(counts)} "
                    f"category(ies) outside the class map ignored: {listed}{more}", key="message")
    return dict(counts)


def default_thing_classes(json_file, class_map):
    """Target class names: VOC order for the VOC map, else the map's order, else the json's categories."""
    if class_map is not None:
        targets = list(dict.fromkeys(class_map.values()))
        return list(VOC_CLASSES) if set(targets) == set(VOC_CLASSES) else targets
    coco = _open_coco(json_file)
    return [c["name"] for c in coco.loadCats(sorted(coco.getCatIds()))]


def _base_record(img, image_root):
    return {"file_name": os.path.join(image_root, img["file_name"]), "image_id": str(img["id"]),
            "height": img["height"], "width": img["width"]}


def load_coco_weak(json_file, image_root, thing_classes, class_map=None, name=None):
    """Weak records (``classes`` only) of a COCO json; images without a mapped label are counted, not kept."""
    coco = _open_coco(json_file)
    lookup = _category_lookup(coco, class_map, thing_classes)
    unknown = unknown_categories(coco, lookup, json_file)
    records, unlabelled = [], 0
    for img in coco.loadImgs(sorted(coco.getImgIds())):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]], iscrowd=False))
        classes = sorted({lookup[a["category_id"]] for a in anns if lookup.get(a["category_id"]) is not None})
        if not classes:
            unlabelled += 1
            continue
        records.append(dict(_base_record(img, image_root), classes=classes))
    summary = {"images": len(records), "left_out_no_label_in_class_map": unlabelled,
               "ignored_annotations_outside_class_map": sum(unknown.values())}
    if name:
        _SUMMARIES[name] = summary
    if unlabelled:
        logger.info("%s: %d image(s) with no label inside the class map are left out of training", json_file,
                    unlabelled)
    return records


def load_coco_instances(json_file, image_root, thing_classes, class_map=None):
    """Instance records (RLE masks, mapped categories, crowd kept as iscrowd=1) of every image of a COCO json."""
    coco = _open_coco(json_file)
    lookup = _category_lookup(coco, class_map, thing_classes)
    unknown_categories(coco, lookup, json_file)
    records = []
    for img in coco.loadImgs(sorted(coco.getImgIds())):
        annotations = []
        for a in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])):
            c = lookup.get(a["category_id"])
            if c is None:
                continue
            rle = coco.annToRLE(a)
            if isinstance(rle["counts"], bytes):
                rle = dict(rle, counts=rle["counts"].decode("ascii"))
            annotations.append({"category_id": c, "segmentation": rle, "bbox": a["bbox"],
                                "bbox_mode": BoxMode.XYWH_ABS, "iscrowd": int(a.get("iscrowd", 0))})
        classes = sorted({a["category_id"] for a in annotations if not a["iscrowd"]})
        records.append(dict(_base_record(img, image_root), classes=classes, annotations=annotations))
    return records


def check_image_files(records, json_file, skip_bad=False):
    """The records whose image file exists.

    A missing one is a ``BadInputError`` "<file> (image <id>): listed in <json_file> but not on disk";
    with ``skip_bad`` it is left out and the count logged as a warning.
    """
    kept = [r for r in records if os.path.isfile(r["file_name"])]
    if len(kept) < len(records):
        missing = next(r for r in records if not os.path.isfile(r["file_name"]))
        if not skip_bad:
            raise bad_input(missing["file_name"], f"listed in {json_file} but not on disk", missing["image_id"])
        logger.warning("%s: %d image(s) listed but not on disk skipped (DATASETS.SKIP_BAD), e.g. %s",
                       json_file, len(records) - len(kept), missing["file_name"])
    return kept


def register_coco_weak(name, json_file, image_root, class_map=None, thing_classes=None, skip_bad=False):
    """Register ``<name>_cls`` (weak) and ``<name>_instance`` (evaluation) from one COCO json.

    Loading checks that every listed image is on disk (``check_image_files``).
    """
    json_file, image_root = os.path.abspath(json_file), os.path.abspath(image_root)
    class_map = load_class_map(class_map)
    if thing_classes is None:
        if class_map is not None or os.path.isfile(json_file):
            thing_classes = default_thing_classes(json_file, class_map)
    # no "json_file": COCOEvaluator then builds its ground truth from these records (string image ids,
    # mapped categories) instead of the original json (integer ids, all categories)
    meta = {"source_json": json_file, "image_root": image_root, "evaluator_type": "voc_instance"}
    if thing_classes is not None:
        meta["thing_classes"] = list(thing_classes)

    def classes():
        return list(thing_classes) if thing_classes is not None else default_thing_classes(json_file, class_map)

    for suffix, loader in (
        ("cls", lambda: load_coco_weak(json_file, image_root, classes(), class_map, f"{name}_cls")),
        ("instance", lambda: load_coco_instances(json_file, image_root, classes(), class_map)),
    ):
        full = f"{name}_{suffix}"
        if full in DatasetCatalog.list():
            DatasetCatalog.remove(full)
            MetadataCatalog.remove(full)
        DatasetCatalog.register(full, lambda loader=loader: check_image_files(loader(), json_file, skip_bad))
        MetadataCatalog.get(full).set(**meta)
    return name


def weak_summary(name):
    """{"images", "left_out_no_label_in_class_map"} of a loaded ``<name>_cls`` dataset (after DatasetCatalog.get)."""
    return dict(_SUMMARIES.get(name, {}))
