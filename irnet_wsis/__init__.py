"""irnet_wsis: IRNet (CVPR 2019) weakly supervised instance segmentation for Detectron2.

Importing the package registers the meta-architectures (CAMNet, IRNet), the
backbones and the built-in datasets with Detectron2's registries.
"""
from . import data, modeling  # noqa: F401  register the datasets, backbones and meta-architectures
from .config import add_irnet_config, setup_cfg

__all__ = ["add_irnet_config", "setup_cfg"]

__version__ = "0.1.0"
