"""Semantic segmentation datasets (Detectron2's sem_seg convention) for tools/train_semantic.py.

Records: ``file_name``, ``image_id``, ``height``, ``width`` and ``sem_seg_file_name``, a class label map
PNG of the image's size (mode "L" or "P", one class index a pixel): 0 background, c + 1 class c, 255
ignore. Metadata: ``stuff_classes`` (``["background"] + thing_classes``: K + 1 classes), ``thing_classes``,
``ignore_label`` 255, ``evaluator_type`` "sem_seg" (Detectron2's ``SemSegEvaluator``).

``register_sem_seg_from_cfg(cfg)`` registers what ``DATASETS.TRAIN`` and ``DATASETS.TEST`` name:

- ``DATASETS.SEMANTIC_PSEUDO_NAME`` (default ``pseudo_sem_seg_train``): the images of the weak set(s)
  ``DATASETS.SEMANTIC_SOURCE``, labelled by ``DATASETS.SEMANTIC_PSEUDO_DIR/<image_id>.png`` (the
  ``semantic`` stage of tools/generate_pseudo.py; with several sources image ids are ``<set>/<id>``);
- ``<X>_sem_seg`` for a registered ``<X>_instance`` set (same images): its ``sem_seg_file_name`` (VOC
  ``SegmentationClass``, the synthetic set) or, for COCO-json sets, class label maps drawn from its
  instance masks (``gt_label_map``: 255 where a crowd region lies) into
  ``<DATASETS.SEMANTIC_GT_CACHE>/<X>_instance/<image_id>.png``, written once;
- ``voc_2012_train_aug_sem_seg``: the 10,582 train_aug images of ``voc_2012_train_aug_cls``, VOC
  ``SegmentationClass`` where the image has one, else SBD ``cls/<id>.mat`` written as a PNG to the cache
  (the SegmentationClassAug convention).

Bad input is a one-line ``BadInputError`` naming the file, found cheaply when the records are first read
(PNG headers only, nothing decoded): a missing label map, one that is not a class index map, one of
another size than its image. Label values are checked when a map is decoded
(``irnet_wsis.data.sem_seg_mapper``).
"""
import os

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from ..engine.per_image import atomic_save_png, output_path
from ..errors import BadInputError, bad_input
from ..evaluation.pseudo_quality import gt_label_map
from .builtin import concat_dataset_dicts, dataset_names

__all__ = ["IGNORE_LABEL", "sem_seg_metadata", "label_map_size", "image_size_as_read", "read_sbd_class_map",
           "require_pseudo_dir", "load_pseudo_sem_seg", "load_gt_sem_seg", "load_voc_train_aug_sem_seg",
           "register_sem_seg", "register_sem_seg_from_cfg", "gt_cache_dir"]

IGNORE_LABEL = 255
_SUFFIX = "_sem_seg"
VOC_TRAIN_AUG = "voc_2012_train_aug"


def sem_seg_metadata(thing_classes):
    """Metadata of a sem_seg set over ``thing_classes`` (K names): K + 1 stuff classes, background first."""
    return {"stuff_classes": ["background"] + list(thing_classes), "thing_classes": list(thing_classes),
            "ignore_label": IGNORE_LABEL, "evaluator_type": "sem_seg"}


def label_map_size(path, image_id=None):
    """(H, W) of the class label map PNG ``path``, read from its header only.

    Raises a one-line ``BadInputError`` when the file is missing, unreadable, or not one class index a pixel
    (PNG mode other than "L" or "P").
    """
    if not os.path.isfile(path):
        raise bad_input(path, "label map not found", image_id)
    try:
        with Image.open(path) as im:
            mode, (w, h) = im.mode, im.size
    except Exception as e:
        raise bad_input(path, f"cannot read label map ({e.__class__.__name__}: {e})", image_id) from e
    if mode not in ("L", "P"):
        raise bad_input(path, f"not a class label map (PNG mode {mode}; want L or P, one class index a pixel)",
                        image_id)
    return h, w


def image_size_as_read(path):
    """(H, W) of an image as ``detection_utils.read_image`` returns it: EXIF orientation applied (header only)."""
    with Image.open(path) as im:
        h, w = im.height, im.width
        orientation = im.getexif().get(0x0112, 1)
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def _sem_seg_record(record, path, hw=None):
    h, w = hw or (record["height"], record["width"])
    return {"file_name": record["file_name"], "image_id": record["image_id"], "height": h, "width": w,
            "sem_seg_file_name": path}


def require_pseudo_dir(pseudo_dir):
    """Raise a one-line ``BadInputError`` unless ``pseudo_dir`` (DATASETS.SEMANTIC_PSEUDO_DIR) is a folder."""
    if not os.path.isdir(pseudo_dir):
        raise BadInputError(f"{pseudo_dir or '(empty)'}: DATASETS.SEMANTIC_PSEUDO_DIR is not a folder; run the "
                            "semantic stage of tools/generate_pseudo.py and give its <WORK_DIR>/semantic")


def load_pseudo_sem_seg(pseudo_dir, source):
    """Sem-seg records of the weak set(s) ``source`` (names, or one comma-separated string), each image labelled
    by ``<pseudo_dir>/<image_id>.png``.

    Every map must exist and have its image's size (the record's, or the image's as read when EXIF turns it);
    the first that does not is a one-line ``BadInputError`` naming it.
    """
    names = dataset_names(source)
    if not names:
        raise BadInputError("DATASETS.SEMANTIC_SOURCE is empty: name the weak *_cls set(s) whose images "
                            "DATASETS.SEMANTIC_PSEUDO_DIR labels")
    require_pseudo_dir(pseudo_dir)
    records = []
    for r in concat_dataset_dicts(names):
        path = output_path(pseudo_dir, r["image_id"], ".png")
        if not os.path.isfile(path):
            raise bad_input(path, f"no pseudo label map for this image of {','.join(names)}; run the semantic "
                            "stage of tools/generate_pseudo.py on the same DATASETS.TRAIN (and PIPELINE.MAX_IMAGES 0)",
                            r["image_id"])
        hw = label_map_size(path, r["image_id"])
        if hw != (r["height"], r["width"]) and hw != image_size_as_read(r["file_name"]):
            raise bad_input(path, f"label map size {hw[1]}x{hw[0]} differs from image size {r['width']}x{r['height']}",
                            r["image_id"])
        records.append(_sem_seg_record(r, path, hw))
    return records


def load_gt_sem_seg(instance_name, cache_dir):
    """Sem-seg records of the registered ``*_instance`` set ``instance_name``: its ``sem_seg_file_name`` when
    a record has one, else its masks drawn as a class label map (``gt_label_map``) into
    ``<cache_dir>/<instance_name>/<image_id>.png`` unless that file exists."""
    records = []
    for r in DatasetCatalog.get(instance_name):
        path = r.get("sem_seg_file_name")
        if not path:
            path = output_path(os.path.join(cache_dir, instance_name), r["image_id"], ".png")
            if not os.path.isfile(path):
                atomic_save_png(path, gt_label_map(r))
        records.append(_sem_seg_record(r, path))
    return records


def read_sbd_class_map(mat_path, image_id=None):
    """SBD ``cls/<id>.mat`` (struct ``GTcls``) -> its ``Segmentation``, uint8 (H, W): 0 background, c + 1."""
    from scipy.io import loadmat

    try:
        seg = loadmat(mat_path, squeeze_me=True, struct_as_record=False)["GTcls"].Segmentation
    except Exception as e:
        raise bad_input(mat_path, f"cannot read SBD class file ({e.__class__.__name__})", image_id) from e
    return np.asarray(seg, np.uint8)


def load_voc_train_aug_sem_seg(cache_dir, cls_name=f"{VOC_TRAIN_AUG}_cls"):
    """Sem-seg records of the train_aug images (``cls_name``): VOC ``SegmentationClass/<id>.png`` where it
    exists, else SBD ``cls/<id>.mat`` (``<VOC2012>/../SBD``) written to ``<cache_dir>/voc_2012_train_aug/``."""
    voc_root = MetadataCatalog.get(cls_name).dirname
    sbd_cls = os.path.join(os.path.dirname(voc_root), "SBD", "cls")
    records = []
    for r in DatasetCatalog.get(cls_name):
        image_id = r["image_id"]
        path = os.path.join(voc_root, "SegmentationClass", image_id + ".png")
        if not os.path.isfile(path):
            mat = os.path.join(sbd_cls, image_id + ".mat")
            if not os.path.isfile(mat):
                raise bad_input(mat, "no VOC SegmentationClass and no SBD class file for this image", image_id)
            path = output_path(os.path.join(cache_dir, VOC_TRAIN_AUG), image_id, ".png")
            if not os.path.isfile(path):
                atomic_save_png(path, read_sbd_class_map(mat, image_id))
        records.append(_sem_seg_record(r, path))
    return records


def register_sem_seg(name, loader, thing_classes):
    """(Re-)register the sem_seg set ``name`` read by ``loader()`` (lazy), with ``sem_seg_metadata``."""
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, loader)
    MetadataCatalog.get(name).set(**sem_seg_metadata(thing_classes))
    return name


def gt_cache_dir(cfg):
    """Where drawn ground-truth class maps go: ``DATASETS.SEMANTIC_GT_CACHE``, else ``<OUTPUT_DIR>/sem_seg_gt``."""
    return cfg.DATASETS.SEMANTIC_GT_CACHE or os.path.join(cfg.OUTPUT_DIR, "sem_seg_gt")


def _register_gt_twin(name, cache_dir):
    base = name[: -len(_SUFFIX)]
    instance = f"{base}_instance"
    if instance in DatasetCatalog.list():
        classes = MetadataCatalog.get(instance).thing_classes
        return register_sem_seg(name, lambda: load_gt_sem_seg(instance, cache_dir), classes)
    if base == VOC_TRAIN_AUG and f"{base}_cls" in DatasetCatalog.list():
        classes = MetadataCatalog.get(f"{base}_cls").thing_classes
        return register_sem_seg(name, lambda: load_voc_train_aug_sem_seg(cache_dir), classes)
    if name in DatasetCatalog.list():  # registered by the user
        return name
    raise BadInputError(f"{name}: no registered {instance} set to draw it from; name <set>_sem_seg for a "
                        "registered <set>_instance (e.g. synthetic_voc_val_sem_seg, voc_2012_val_sem_seg)")


def register_sem_seg_from_cfg(cfg):
    """Register the sem_seg sets that ``DATASETS.TRAIN`` and ``DATASETS.TEST`` name (after
    ``builtin.register_from_cfg``, which registers the ``*_cls`` / ``*_instance`` sets they come from).

    Nothing is read here. Returns the registered names.
    """
    d = cfg.DATASETS
    registered = []
    for name in dict.fromkeys(tuple(d.TRAIN) + tuple(d.TEST)):
        if name == d.SEMANTIC_PSEUDO_NAME:
            sources = dataset_names(d.SEMANTIC_SOURCE)
            if not sources:
                raise BadInputError(f"DATASETS.TRAIN uses {name} but DATASETS.SEMANTIC_SOURCE is empty: name the "
                                    "weak *_cls set(s) whose images DATASETS.SEMANTIC_PSEUDO_DIR labels")
            unknown = [s for s in sources if s not in DatasetCatalog.list()]
            if unknown:
                raise BadInputError(f"{unknown[0]}: DATASETS.SEMANTIC_SOURCE names no registered dataset")
            classes = MetadataCatalog.get(sources[0]).thing_classes
            pseudo_dir = d.SEMANTIC_PSEUDO_DIR
            registered.append(register_sem_seg(name, lambda: load_pseudo_sem_seg(pseudo_dir, sources), classes))
        elif name.endswith(_SUFFIX):
            registered.append(_register_gt_twin(name, gt_cache_dir(cfg)))
    return registered
