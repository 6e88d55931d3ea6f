"""Shared fixtures: a tiny synthetic dataset in VOC layout, registered under its own prefix; a loader
for the scripts of tools/ and benchmarks/; writers of VOC palette PNGs and SBD ``.mat`` files as released."""
import importlib.util
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def load_script(folder, name):
    """The module of ``<repo>/<folder>/<name>.py`` (tools and benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", os.path.join(ROOT, folder, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY = {"num_train": 6, "num_val": 4, "image_size": 64, "seed": 3}


@pytest.fixture(scope="session")
def tiny_synthetic_root(tmp_path_factory):
    from irnet_wsis.data.builtin import register_synthetic_voc
    from irnet_wsis.data.synthetic import generate_synthetic_voc

    root = str(tmp_path_factory.mktemp("tiny_synthetic"))
    generate_synthetic_voc(root, num_workers=1, **TINY)
    register_synthetic_voc(root, prefix="tiny_synthetic", params=TINY)
    return root


COCO_MINI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "coco_mini")


def write_palette_png(path, labels):
    """A VOC ``SegmentationClass`` / ``SegmentationObject`` PNG: mode "P", the VOC colour palette."""
    from PIL import Image

    from irnet_wsis.data.synthetic import voc_palette

    os.makedirs(os.path.dirname(path), exist_ok=True)
    png = Image.fromarray(np.asarray(labels, np.uint8), mode="P")
    png.putpalette(voc_palette())
    png.save(path)


def _sbd_struct(**fields):
    """A 1x1 MATLAB struct (what ``loadmat`` returns with ``struct_as_record=True``)."""
    struct = np.empty((1, 1), dtype=[(name, "O") for name in fields])
    struct[0, 0] = tuple(fields.values())
    return struct


def _boundary_cells(masks):
    """An N x 1 cell array of sparse double matrices, each mask's outer pixels (SBD's ``Boundaries``)."""
    from scipy import ndimage, sparse

    cells = np.empty((len(masks), 1), dtype=object)
    for i, mask in enumerate(masks):
        cells[i, 0] = sparse.csc_matrix((mask & ~ndimage.binary_erosion(mask)).astype(np.float64))
    return cells


def write_sbd_cls(path, seg):
    """SBD ``cls/<id>.mat``: struct ``GTcls`` (Segmentation: uint8 0 bg / c + 1, Boundaries: 20 x 1 cells,
    CategoriesPresent: the c + 1 present, a column)."""
    from scipy.io import savemat

    seg = np.asarray(seg, np.uint8)
    present = np.unique(seg[(seg > 0) & (seg < 255)])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    savemat(path, {"GTcls": _sbd_struct(Segmentation=seg, Boundaries=_boundary_cells([seg == c for c in range(1, 21)]),
                                        CategoriesPresent=present.reshape(-1, 1))})


def write_sbd_inst(path, inst, categories):
    """SBD ``inst/<id>.mat``: struct ``GTinst`` (Segmentation: uint8 0 bg / instance 1..N, Boundaries: N x 1
    cells, Categories: class c + 1 of each instance, a column)."""
    from scipy.io import savemat

    inst = np.asarray(inst, np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    savemat(path, {"GTinst": _sbd_struct(
        Segmentation=inst, Boundaries=_boundary_cells([inst == i for i in range(1, len(categories) + 1)]),
        Categories=np.asarray(categories, np.uint8).reshape(-1, 1))})
