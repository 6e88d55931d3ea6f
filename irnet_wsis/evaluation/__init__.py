"""Metrics: AP^r (the authors' all-point VOC protocol), mIoU, classification mAP, pseudo-label and relation
quality, and the Detectron2 evaluator of AP^r."""
from .apr import evaluate_apr
from .classification import classification_map
from .instance_evaluator import VOCInstanceEvaluator
from .instance_misses import classify_misses
from .irnet_quality import count_centroids, instance_landing_errors
from .miou import SemanticConfusion
from .relation_quality import relation_counts, summarize_relation_counts
