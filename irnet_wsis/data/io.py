"""Readers of the pipeline's input files, each failing with a one-line ``BadInputError`` (file, image id).

One image reader for every stage, mapper and tool (``read_image_or_fail``: Detectron2's ``read_image``, EXIF
applied, grayscale and CMYK converted, 3 channels always) and one reader of stride-s label maps
(``read_stride_map``: relation labels and instance regions).
"""
import numpy as np
from detectron2.data import detection_utils as utils
from PIL import Image

from ..errors import bad_input

__all__ = ["read_image_or_fail", "read_stride_map"]


def read_image_or_fail(record, fmt):
    """Read ``record["file_name"]`` in ``fmt`` (EXIF applied, grayscale/CMYK converted) or raise one line."""
    try:
        image = utils.read_image(record["file_name"], format=fmt)
    except Exception as e:
        raise bad_input(record["file_name"], f"cannot read image ({e.__class__.__name__}: {e})",
                        record.get("image_id")) from e
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image


def read_stride_map(record, image_hw, stride, key="relation_file_name", what="relation label"):
    """The uint8 (ceil(H / stride), ceil(W / stride)) map in ``record[key]``, for an image of (H, W) = ``image_hw``.

    Raises a one-line BadInputError (file, image id) when it is missing or its size does not fit the image.
    """
    path = record[key]
    try:
        label = np.asarray(Image.open(path), dtype=np.uint8)
    except FileNotFoundError as e:
        raise bad_input(path, f"{what} file not found; run --stages relations", record.get("image_id")) from e
    expected = tuple((v + stride - 1) // stride for v in image_hw)
    if label.shape != expected:
        raise bad_input(path, f"{what} size {label.shape} != stride-{stride} image size {expected}",
                        record.get("image_id"))
    return label
