"""irnet_wsis: IRNet (CVPR 2019) weakly supervised instance segmentation for Detectron2.

Importing the package registers the meta-architectures (CAMNet, IRNet), the
backbones and the built-in datasets with Detectron2's registries.
"""
from .config import add_irnet_config
from . import data  # noqa: F401
from .data import builtin  # noqa: F401  registers datasets
from .modeling import backbone, cam_net, efficientnet_lite, irnet  # noqa: F401  registers backbone and meta-architectures

__version__ = "0.1.0"
