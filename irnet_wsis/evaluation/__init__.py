"""Metrics: AP^r (the authors' all-point VOC protocol), mIoU, classification mAP, pseudo-label and relation
quality, and the Detectron2 evaluator of AP^r."""
from .apr import evaluate_apr
from .classification import classification_map
from .instance_evaluator import VOCInstanceEvaluator
from .miou import SemanticConfusion
from .relation_quality import relation_counts, summarize_relation_counts
