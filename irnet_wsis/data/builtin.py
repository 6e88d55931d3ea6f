"""Registration of the built-in datasets in Detectron2's catalogs.

Under ``$DETECTRON2_DATASETS`` (default ``./datasets``):

- ``voc_2012_train_aug_cls``: the 10,582 train_aug images, image-level labels
  from ``VOC2012/cls_labels_train_aug.json`` (datasets/prepare_voc.py);
- ``voc_2012_{train,val}_instance``: instance ground truth of VOC 2012 seg splits;
- ``synthetic_voc_{train,val}_{cls,instance}``: the synthetic set in
  ``synthetic_voc/`` (generated on first use).

Relative to the project root: ``coco_mini_{train,val}_{cls,instance}`` and
``coco_extra_{train,val}_{cls,instance}``, the COCO 2017 subsets of
``../shared/data`` mapped to the 20 VOC classes.

Loading is lazy: nothing is read until ``DatasetCatalog.get``. Several sets
read as one (``DATASETS.TRAIN``, a comma-separated ``PIPELINE.GT_DATASET``):
``dataset_names`` and ``concat_dataset_dicts``.
"""
import logging
import os

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils import comm

from ..errors import BadInputError
from .coco_weak import VOC_FROM_COCO, register_coco_weak
from .synthetic import SYNTHETIC_CLASSES, ensure_synthetic_voc
from .voc import TRAIN_AUG_LABEL_FILE, VOC_CLASSES, load_voc_cls, load_voc_instances

__all__ = ["datasets_root", "register_voc", "register_synthetic_voc", "register_coco_subset",
           "register_all_irnet_datasets", "register_from_cfg", "dataset_names", "instance_twins",
           "check_same_classes", "concat_dataset_dicts", "SYNTHETIC_DEFAULTS", "COCO_SUBSET_ROOTS"]

logger = logging.getLogger(__name__)

# Parameters of the default synthetic set (issue: 2,000 train + 300 val at 128x128).
SYNTHETIC_DEFAULTS = {"num_train": 2000, "num_val": 300, "image_size": 128, "seed": 0}
# The COCO 2017 subsets (../shared/data/*/README.md): prefix -> default root.
COCO_SUBSET_ROOTS = {"coco_mini": "../shared/data/coco_mini", "coco_extra": "../shared/data/coco_extra"}


def datasets_root():
    return os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))


def _register(name, loader, **metadata):
    if name in DatasetCatalog.list():
        return
    DatasetCatalog.register(name, loader)
    MetadataCatalog.get(name).set(**metadata)


def register_voc(root=None, skip_bad=False):
    """Register the VOC 2012 (+ SBD train_aug) datasets under ``root``."""
    root = root or datasets_root()
    voc = os.path.join(root, "VOC2012")
    meta = {"thing_classes": list(VOC_CLASSES), "dirname": voc, "evaluator_type": "voc_instance"}
    label_file = os.path.join(voc, TRAIN_AUG_LABEL_FILE)
    _register(
        "voc_2012_train_aug_cls",
        lambda: load_voc_cls(voc, None, VOC_CLASSES, label_file=label_file, skip_bad=skip_bad),
        split="train_aug", **meta,
    )
    for split in ("train", "val"):
        _register(
            f"voc_2012_{split}_instance",
            lambda split=split: load_voc_instances(voc, split, skip_bad=skip_bad),
            split=split, **meta,
        )


def register_synthetic_voc(root=None, prefix="synthetic_voc", params=None, skip_bad=False):
    """Register ``<prefix>_{train,val}_{cls,instance}`` for a synthetic set at ``root``.

    The set is generated on first load when missing (``params`` as
    ``generate_synthetic_voc`` takes them; default ``SYNTHETIC_DEFAULTS``).
    """
    root = root or os.path.join(datasets_root(), "synthetic_voc")
    params = dict(SYNTHETIC_DEFAULTS, **(params or {}))
    meta = {"thing_classes": list(SYNTHETIC_CLASSES), "dirname": root, "evaluator_type": "voc_instance"}

    def ensure():
        return ensure_synthetic_voc(root, **params)

    for split in ("train", "val"):
        split_file = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
        _register(
            f"{prefix}_{split}_cls",
            lambda split_file=split_file: load_voc_cls(ensure(), split_file, SYNTHETIC_CLASSES, skip_bad=skip_bad),
            split=split, **meta,
        )
        _register(
            f"{prefix}_{split}_instance",
            lambda split=split: load_voc_instances(ensure(), split, skip_bad=skip_bad),
            split=split, **meta,
        )
    return root


def register_all_irnet_datasets(root=None):
    register_voc(root)
    register_synthetic_voc(os.path.join(root or datasets_root(), "synthetic_voc"))
    for prefix, subset_root in COCO_SUBSET_ROOTS.items():
        register_coco_subset(prefix, subset_root)


def register_from_cfg(cfg):
    """Register what ``cfg`` names beyond the built-ins, and generate the synthetic set if it is used.

    Keys: DATASETS.SYNTHETIC_* (root and size of the synthetic set), DATASETS.SKIP_BAD,
    DATASETS.COCO_MINI_ROOT, DATASETS.COCO_EXTRA_ROOT and DATASETS.COCO_WEAK_* (COCO-json weak sets).
    """
    names = (list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST) + list(dataset_names(cfg.PIPELINE.GT_DATASET))
             + list(dataset_names(cfg.CAM_INFERENCE.VAL_DATASET)))
    d = cfg.DATASETS
    params = {"num_train": d.SYNTHETIC_NUM_TRAIN, "num_val": d.SYNTHETIC_NUM_VAL,
              "image_size": d.SYNTHETIC_IMAGE_SIZE, "seed": d.SYNTHETIC_SEED}
    root = d.SYNTHETIC_ROOT or os.path.join(datasets_root(), "synthetic_voc")
    if params != SYNTHETIC_DEFAULTS or d.SYNTHETIC_ROOT or d.SKIP_BAD:
        for name in list(DatasetCatalog.list()):
            if name.startswith("synthetic_voc_"):
                DatasetCatalog.remove(name)
                MetadataCatalog.remove(name)
        register_synthetic_voc(root, params=params, skip_bad=d.SKIP_BAD)
    if any(n.startswith("synthetic_voc_") for n in names):
        if comm.is_main_process():
            ensure_synthetic_voc(root, **params)
        comm.synchronize()
    register_coco_subset("coco_mini", d.COCO_MINI_ROOT, d.SKIP_BAD)
    register_coco_subset("coco_extra", d.COCO_EXTRA_ROOT, d.SKIP_BAD)
    if not len(d.COCO_WEAK_NAMES) == len(d.COCO_WEAK_JSONS) == len(d.COCO_WEAK_IMAGE_ROOTS):
        raise ValueError("DATASETS.COCO_WEAK_NAMES, COCO_WEAK_JSONS and COCO_WEAK_IMAGE_ROOTS must have equal length")
    for name, json_file, image_root in zip(d.COCO_WEAK_NAMES, d.COCO_WEAK_JSONS, d.COCO_WEAK_IMAGE_ROOTS):
        register_coco_weak(name, json_file, image_root, d.COCO_WEAK_CLASS_MAP or None, skip_bad=d.SKIP_BAD)


def register_coco_subset(prefix, root, skip_bad=False):
    """``<prefix>_{train,val}_{cls,instance}``: a COCO 2017 subset laid out as coco_mini
    (``annotations/instances_{train,val}2017.json``, ``{train,val}2017/``), mapped to the 20 VOC classes."""
    root = os.path.abspath(root)
    for split in ("train", "val"):
        register_coco_weak(f"{prefix}_{split}", os.path.join(root, "annotations", f"instances_{split}2017.json"),
                           os.path.join(root, f"{split}2017"), class_map=VOC_FROM_COCO, thing_classes=VOC_CLASSES,
                           skip_bad=skip_bad)


def dataset_names(value):
    """Dataset name(s) of a config value -> tuple of str.

    A tuple or list as ``DATASETS.TRAIN``, or a string of comma-separated names
    (``PIPELINE.GT_DATASET``, ``CAM_INFERENCE.VAL_DATASET``); "" -> ().
    """
    if isinstance(value, str):
        value = value.split(",")
    return tuple(n.strip() for n in value if n.strip())


def instance_twins(names):
    """The ``*_instance`` set of each ``*_cls`` set in ``names`` (same images, with masks): tuple of str.

    A name that does not end in ``_cls``, or whose twin is not registered, is a ``BadInputError``.
    """
    twins = []
    for name in names:
        twin = name[: -len("_cls")] + "_instance" if name.endswith("_cls") else None
        if twin not in DatasetCatalog.list():
            raise BadInputError(f"{name}: no registered *_instance twin ({twin or 'not a *_cls name'}); "
                                "name the ground-truth set(s) of its images")
        twins.append(twin)
    return tuple(twins)


def check_same_classes(names):
    """Stop with a one-line ``BadInputError`` naming the first two of ``names`` whose ``thing_classes`` differ.

    Sets whose metadata has no ``thing_classes`` yet are not compared.
    """
    known = [(n, MetadataCatalog.get(n).get("thing_classes")) for n in names]
    known = [(n, list(c)) for n, c in known if c is not None]
    for name, classes in known[1:]:
        first, first_classes = known[0]
        if classes != first_classes:
            i = next((i for i, (a, b) in enumerate(zip(first_classes, classes)) if a != b),
                     min(len(classes), len(first_classes)))
            raise BadInputError(
                f"{first} and {name} have different class lists ({len(first_classes)} and {len(classes)} classes, "
                f"first difference at index {i}: {first_classes[i:i + 1]} vs {classes[i:i + 1]}); sets read "
                "together need the same classes (one DATASETS.COCO_WEAK_CLASS_MAP)")


def concat_dataset_dicts(names):
    """The records of the registered datasets ``names``, concatenated in order (list of dict).

    As Detectron2's ``get_detection_dataset_dicts`` (same class lists required), except that with more
    than one set each ``image_id`` becomes ``"<dataset name>/<image_id>"``: ids of two sets (e.g. the
    COCO ids of two jsons) may collide, and the pipeline keys its per-image files by id. One set keeps
    its ids.
    """
    names = dataset_names(names)
    if not names:
        raise BadInputError("no dataset named: give one or more registered dataset names")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInputError(f"{twice[0]} is named twice in {','.join(names)}")
    check_same_classes(names)
    if len(names) == 1:
        return DatasetCatalog.get(names[0])
    return [dict(r, image_id=f"{name}/{r['image_id']}") for name in names for r in DatasetCatalog.get(name)]


register_all_irnet_datasets()
