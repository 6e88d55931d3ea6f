"""Dataset mapper and training augmentation of the semantic segmentation models (tools/train_semantic.py).

``SemSegDatasetMapper`` is Detectron2's ``DatasetMapper`` for sem_seg records (``irnet_wsis.data.sem_seg``)
except that label maps are read as class indices (``read_label_png``; Detectron2's mapper converts them to
"L", which turns a VOC palette PNG into grey levels) and checked: a value outside ``0 .. NUM_CLASSES - 1``
other than the ignore value is a one-line ``BadInputError`` naming the file. At test time the label map is
not read (``SemSegEvaluator`` reads the ground truth itself).

Training augmentation (``build_sem_seg_train_aug``), as projects/DeepLab/train_net.py: resize of the
shortest edge (``INPUT.MIN_SIZE_TRAIN``, ``MAX_SIZE_TRAIN``, ``MIN_SIZE_TRAIN_SAMPLING``), random crop of
``INPUT.CROP.SIZE`` (``RandomCrop_CategoryAreaConstraint``), horizontal flip; and, beyond the DeepLab
project (whose Cityscapes images are never smaller than the crop), a crop smaller than ``INPUT.CROP.SIZE``
padded to it (image 128, labels the ignore value), so that every training input is crop-sized.
"""
import copy

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T

from ..errors import bad_input
from ..evaluation.pseudo_quality import read_label_png
from .io import read_image_or_fail

__all__ = ["build_sem_seg_train_aug", "check_label_values", "SemSegDatasetMapper"]


def build_sem_seg_train_aug(cfg):
    """Detectron2 augmentations of a training image and its label map (list of ``T.Augmentation``)."""
    augs = [T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN, cfg.INPUT.MIN_SIZE_TRAIN_SAMPLING)]
    if cfg.INPUT.CROP.ENABLED:
        ignore = cfg.MODEL.SEM_SEG_HEAD.IGNORE_VALUE
        augs.append(T.RandomCrop_CategoryAreaConstraint(cfg.INPUT.CROP.TYPE, cfg.INPUT.CROP.SIZE,
                                                        cfg.INPUT.CROP.SINGLE_CATEGORY_MAX_AREA, ignore))
        if cfg.INPUT.CROP.TYPE == "absolute":
            augs.append(T.FixedSizeCrop(tuple(cfg.INPUT.CROP.SIZE), pad=True, pad_value=128.0, seg_pad_value=ignore))
    augs.append(T.RandomFlip())
    return augs


def check_label_values(label, num_classes, ignore_value, path, image_id=None):
    """Raise a one-line ``BadInputError`` naming ``path`` when the uint8 (H, W) map ``label`` holds a value
    outside ``0 .. num_classes - 1`` (background and the classes) other than ``ignore_value``."""
    bad = label[(label >= num_classes) & (label != ignore_value)]
    if bad.size:
        raise bad_input(path, f"label value {int(bad.max())} outside 0..{num_classes - 1} (background and "
                        f"{num_classes - 1} classes) and not the ignore value {ignore_value}", image_id)


class SemSegDatasetMapper(DatasetMapper):
    """Image + class label map -> ``{"image": uint8 (3, H, W) in INPUT.FORMAT, "sem_seg": int64 (H, W)}`` plus
    the record's fields, after ``augmentations`` (both the same size)."""

    @configurable
    def __init__(self, is_train=True, *, num_classes, ignore_value, **kwargs):
        """
        Args:
            num_classes: classes of the label maps, background included (``MODEL.SEM_SEG_HEAD.NUM_CLASSES``).
            ignore_value: the label of pixels without a class (``MODEL.SEM_SEG_HEAD.IGNORE_VALUE``, 255).
            is_train, kwargs: as ``DatasetMapper``.
        """
        super().__init__(is_train, **kwargs)
        self.num_classes = num_classes
        self.ignore_value = ignore_value

    @classmethod
    def from_config(cls, cfg, is_train=True):
        ret = super().from_config(cfg, is_train)
        if is_train:
            ret["augmentations"] = build_sem_seg_train_aug(cfg)
        ret.update(num_classes=cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES, ignore_value=cfg.MODEL.SEM_SEG_HEAD.IGNORE_VALUE)
        return ret

    def __call__(self, dataset_dict):
        dataset_dict = copy.deepcopy(dataset_dict)
        image = read_image_or_fail(dataset_dict, self.image_format)
        utils.check_image_size(dataset_dict, image)
        path = dataset_dict.pop("sem_seg_file_name", None)
        label = None
        if self.is_train and path:
            label = read_label_png(path, dataset_dict.get("image_id"))
            if label.shape != image.shape[:2]:
                raise bad_input(path, f"label map size {label.shape[1]}x{label.shape[0]} differs from image size "
                                f"{image.shape[1]}x{image.shape[0]}", dataset_dict.get("image_id"))
            check_label_values(label, self.num_classes, self.ignore_value, path, dataset_dict.get("image_id"))
        aug_input = T.AugInput(image, sem_seg=label)
        self.augmentations(aug_input)
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(aug_input.image.transpose(2, 0, 1)))
        if label is not None:
            dataset_dict["sem_seg"] = torch.as_tensor(aug_input.sem_seg.astype("long"))
        return dataset_dict
