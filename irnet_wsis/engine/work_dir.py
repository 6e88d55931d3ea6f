"""The work directory of ``tools/generate_pseudo.py`` (``cfg.PIPELINE.WORK_DIR``; layout in ``docs/INTERFACES.md``):
where each stage's outputs lie, the images they are for, and one loader per file kind. Stages, tools and
benchmarks read the work directory through this module.
"""
import json
import os

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model

from ..data.builtin import check_same_classes, concat_dataset_dicts, dataset_names, instance_twins
from ..errors import BadInputError, bad_input
from .per_image import output_path

__all__ = ["work_paths", "stage_records", "gt_dataset_names", "gt_records", "load_stage_model", "load_npz",
           "region_path", "load_mean_displacement", "image_size_of", "load_pseudo_instances"]


def work_paths(cfg):
    """Paths of every stage output under ``cfg.PIPELINE.WORK_DIR``."""
    root = cfg.PIPELINE.WORK_DIR
    return {
        "root": root,
        "cam_model": os.path.join(root, "cam", "model_final.pth"),
        "cams": os.path.join(root, "cams"),
        "relations": os.path.join(root, "relations"),
        "irnet_model": os.path.join(root, "irnet", "model_final.pth"),
        "mean_displacement": os.path.join(root, "irnet", "mean_displacement.json"),
        "irnet_out": os.path.join(root, "irnet_out"),
        "pseudo": os.path.join(root, "pseudo"),
        "pseudo_json": os.path.join(root, "pseudo_coco.json"),
        "semantic": os.path.join(root, "semantic"),
        "summary": os.path.join(root, "summary.json"),
    }


def stage_records(cfg, limit=True):
    """Records of the weak training split: the ``*_cls`` set(s) of ``cfg.DATASETS.TRAIN``, concatenated
    (``concat_dataset_dicts``: with several sets, image ids ``<set>/<id>``).

    With ``limit``, only the first ``PIPELINE.MAX_IMAGES`` (when > 0).
    """
    if not cfg.DATASETS.TRAIN:
        raise BadInputError("DATASETS.TRAIN is empty: name the weak (*_cls) dataset(s) to label")
    records = concat_dataset_dicts(cfg.DATASETS.TRAIN)
    if limit and cfg.PIPELINE.MAX_IMAGES > 0:
        records = records[: cfg.PIPELINE.MAX_IMAGES]
    return records


def gt_dataset_names(cfg):
    """The ground truth of the training images (Tables 1 and 2): ``PIPELINE.GT_DATASET`` (comma-separated
    names), or when empty the ``*_instance`` twin of each ``*_cls`` set of ``DATASETS.TRAIN``. Tuple of str."""
    return dataset_names(cfg.PIPELINE.GT_DATASET) or instance_twins(cfg.DATASETS.TRAIN)


def gt_records(cfg, max_images=0):
    """Ground-truth records of the images the pipeline labelled, in ground-truth order.

    The ground truth is ``gt_dataset_names(cfg)``; a record is kept when its ``file_name`` is that of a
    training record (a weak set leaves out images without a label in the class map), and takes that
    record's ``image_id`` (the key of the work-directory files). None matched is a ``BadInputError``
    naming both sets. ``max_images`` (else ``PIPELINE.MAX_IMAGES``, 0: all) keeps the first ones.
    """
    names = gt_dataset_names(cfg)
    check_same_classes(tuple(cfg.DATASETS.TRAIN) + names)
    labelled = {r["file_name"]: r["image_id"] for r in stage_records(cfg, limit=False)}
    truth = concat_dataset_dicts(names)
    records = [dict(r, image_id=labelled[r["file_name"]]) for r in truth if r["file_name"] in labelled]
    if not records:
        raise BadInputError(
            f"none of the {len(truth)} images of {','.join(names)} (PIPELINE.GT_DATASET) is among the "
            f"{len(labelled)} of {','.join(cfg.DATASETS.TRAIN)} (DATASETS.TRAIN): name the *_instance set(s) of "
            "the training images, or leave PIPELINE.GT_DATASET empty for their *_instance twins")
    max_images = max_images or cfg.PIPELINE.MAX_IMAGES
    if max_images:
        records = records[:max_images]
    return records


def load_stage_model(cfg, weights):
    """Build ``cfg.MODEL.META_ARCHITECTURE`` in eval mode with ``weights`` loaded."""
    if not os.path.isfile(weights):
        raise BadInputError(f"{weights}: checkpoint not found; run the stage that trains it first")
    model = build_model(cfg)
    DetectionCheckpointer(model).load(weights)
    model.eval()
    return model


def load_npz(path, image_id, what):
    """Every array of a stage's ``.npz`` output as a dict; a missing file is a one-line BadInputError naming
    ``what`` and the image."""
    if not os.path.isfile(path):
        raise bad_input(path, f"missing {what}; run the previous stage", image_id)
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def region_path(relation_path):
    """Instance regions saved beside a relation label file: <id>.png -> <id>.regions.png."""
    return relation_path[: -len(".png")] + ".regions.png"


def load_mean_displacement(cfg):
    path = work_paths(cfg)["mean_displacement"]
    if not cfg.SYNTHESIS.SUBTRACT_MEAN:
        return None
    if not os.path.isfile(path):
        raise BadInputError(f"{path}: missing mean displacement; run --stages train_irnet")
    with open(path) as f:
        return torch.as_tensor(json.load(f)["mean_displacement"], dtype=torch.float32)


def image_size_of(cams, record):
    """(H, W) of the image as the CAM stage read it (EXIF applied), else the record's."""
    if "image_size" in cams:
        return tuple(int(v) for v in cams["image_size"])
    return record["height"], record["width"]


def load_pseudo_instances(cfg, record):
    """The encoded pseudo instances saved by the synthesis stage for ``record``."""
    path = output_path(work_paths(cfg)["pseudo"], record["image_id"], ".npz")
    data = load_npz(path, record["image_id"], "pseudo labels")
    return json.loads(str(data["instances"]))
