"""The COCO json writer of the pseudo labels and its checks."""
from .coco_json import check_coco_json, instances_to_coco_json, register_pseudo_coco
