"""Relation labels against hand-made stride-4 truth: exact counts and percentages."""
import numpy as np

from irnet_wsis.evaluation.relation_quality import region_counts, relation_counts, summarize_relation_counts


def test_relation_counts_on_a_hand_made_grid():
    # truth: two instances of class 1 (label 2) side by side, columns 0-1 and 2-3 of rows 0-1; rest background
    label = np.zeros((4, 4), np.uint8)
    label[:2, :] = 2
    ids = np.zeros((4, 4), np.uint8)
    ids[:2, :2], ids[:2, 2:] = 1, 2
    # relations: the left instance labelled, the right one ignored, one background cell called class 1,
    # the rest background; one region over the left instance and the right one's cells
    relation = np.zeros((4, 4), np.uint8)
    relation[:2, :2] = 2
    relation[:2, 2:] = 255
    relation[3, 3] = 2
    regions = np.zeros((4, 4), np.uint8)
    regions[:2, :] = 5
    c = relation_counts(relation, regions, label, ids)
    assert (c["fg_labelled"], c["fg_right"], c["fg_truth"], c["fg_found"]) == (5, 4, 8, 4)
    assert (c["bg_labelled"], c["bg_right"], c["bg_truth"], c["bg_found"]) == (7, 7, 8, 7)
    assert (c["ignored_on_objects"], c["ignored_on_background"]) == (4, 0)
    assert (c["instances"], c["instances_without_region"], c["instances_sharing_a_region"]) == (2, 0, 2)
    s = summarize_relation_counts(c)
    assert s["foreground_precision"] == 80.0 and s["foreground_recall"] == 50.0
    assert s["background_precision"] == 100.0 and s["background_recall"] == 87.5
    assert s["ignored_share_of_object_cells"] == 50.0 and s["instances_sharing_a_region_pct"] == 100.0
    # without regions: no instance counts
    assert "instances" not in relation_counts(relation, None, label, ids)


def test_region_counts_of_a_merge_and_of_fragments():
    ids = np.array([[1, 1, 0, 2, 2]], np.uint8)  # instance centroids x = 0.5 and 3.5
    merge = region_counts(np.array([[3, 3, 3, 3, 3]], np.uint8), ids)  # one region, centroid x = 2
    assert merge["instances_sharing_a_region"] == 2 and merge["owned_regions"] == 1
    assert merge["instance_best_iou_sum"] == 0.8  # 2 / (2 + 5 - 2) twice
    assert merge["target_cells"] == 4 and merge["target_error_sum"] == 6.0 and merge["zero_error_sum"] == 2.0
    pieces = region_counts(np.array([[1, 2, 0, 3, 3]], np.uint8), ids)  # instance 1 in two regions
    assert pieces["instances_sharing_a_region"] == 0
    assert (pieces["owned_regions"], pieces["instances_owning_a_region"]) == (3, 2)
    assert pieces["instance_best_iou_sum"] == 1.5 and pieces["target_error_sum"] == 1.0
    summary = summarize_relation_counts(pieces)
    assert summary["regions_per_instance"] == 1.5 and summary["instance_best_iou"] == 75.0
    assert summary["centroid_target_error"] == 0.25 and summary["centroid_target_error_zero"] == 0.5
