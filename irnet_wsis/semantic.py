"""Configuration of the semantic segmentation models that tools/train_semantic.py trains (DeepLabV3+).

``add_semantic_config(cfg)`` adds Detectron2's DeepLab keys (``add_deeplab_config``) and ours:

- ``DATASETS.SEMANTIC_PSEUDO_DIR``: the ``semantic/`` folder of a ``tools/generate_pseudo.py`` work
  directory (``<dir>/<image_id>.png``, class label maps at image size, 0 background, c + 1 class c);
- ``DATASETS.SEMANTIC_SOURCE``: the weak ``*_cls`` set(s) (comma-separated, as ``DATASETS.PSEUDO_SOURCE``)
  whose images that folder labels;
- ``DATASETS.SEMANTIC_PSEUDO_NAME``: the name the pseudo-labelled set is registered under when
  ``DATASETS.TRAIN`` names it (as ``SYNTHESIS.PSEUDO_DATASET_NAME`` for the instance json);
- ``DATASETS.SEMANTIC_GT_CACHE``: where class label maps drawn from instance annotations (COCO-json sets)
  or SBD ``.mat`` files (VOC train_aug) are written ("" -> ``<OUTPUT_DIR>/sem_seg_gt``).

Datasets: ``irnet_wsis.data.sem_seg``; mapper and augmentation: ``irnet_wsis.data.sem_seg_mapper``.
"""
__all__ = ["add_semantic_config"]


def add_semantic_config(cfg):
    """Add the DeepLab project's keys and the semantic pseudo-label keys to ``cfg`` in place."""
    from detectron2.projects.deeplab import add_deeplab_config

    add_deeplab_config(cfg)
    cfg.DATASETS.SEMANTIC_PSEUDO_DIR = ""
    cfg.DATASETS.SEMANTIC_SOURCE = ""
    cfg.DATASETS.SEMANTIC_PSEUDO_NAME = "pseudo_sem_seg_train"
    cfg.DATASETS.SEMANTIC_GT_CACHE = ""
