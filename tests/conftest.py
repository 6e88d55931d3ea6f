"""Shared fixtures: a tiny synthetic dataset in VOC layout, registered under its own prefix; a loader
for the scripts of tools/ and benchmarks/."""
import importlib.util
import os
import sys

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
