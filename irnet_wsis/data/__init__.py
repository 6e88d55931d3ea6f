"""Datasets (VOC 2012 + SBD, the synthetic set, COCO-json weak sets, semantic sets), readers and mappers."""
from .builtin import concat_dataset_dicts, dataset_names, register_from_cfg
from .copy_paste import RegionPaster
from .io import read_image_or_fail, read_stride_map
from .weak_mappers import CAMDatasetMapper, IRNetDatasetMapper
