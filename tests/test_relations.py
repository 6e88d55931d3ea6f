"""Relation mining: thresholds, CRF, stride-4 output."""
import numpy as np

from irnet_wsis.pseudo.relations import crf_refine, hard_labels, mine_relations

CRF = dict(gt_prob=0.7, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=50, bilateral_srgb=5,
           bilateral_compat=10, iterations=10)


def test_thresholds_without_crf():
    cams = np.zeros((2, 8, 8), np.float32)
    cams[0, 0:4, 0:4] = 0.9   # class 4 confident
    cams[0, 4:8, 0:4] = 0.2   # neither confident fg nor bg -> ignored
    cams[1, 0:4, 4:8] = 0.02  # below the background threshold -> background
    cams[1, 4:8, 4:8] = 0.5   # class 1 confident
    out = mine_relations(np.zeros((8, 8, 3), np.uint8), cams, [4, 1], crf=None, output_stride=4)
    assert out.tolist() == [[5, 0], [255, 2]]
    full = mine_relations(np.zeros((8, 8, 3), np.uint8), cams, [4, 1], crf=None, output_stride=1)
    assert full.shape == (8, 8) and full[5, 1] == 255


def test_hard_labels_plane():
    cams = np.array([[[0.1, 0.5]], [[0.4, 0.2]]], np.float32)
    assert hard_labels(cams, 0.3).tolist() == [[2, 1]]


def test_crf_keeps_labels_where_unary_is_certain():
    image = np.zeros((40, 40, 3), np.uint8)
    image[:, 20:] = 255
    labels = np.zeros((40, 40), np.int64)
    labels[:, 20:] = 1
    refined = crf_refine(image, labels, 2, CRF)
    assert np.array_equal(refined, labels)


def test_crf_snaps_to_image_edges():
    image = np.zeros((48, 48, 3), np.uint8)
    image[12:36, 12:36] = 220
    cams = np.zeros((1, 48, 48), np.float32)
    cams[0, 14:34, 14:34] = 1.0  # the CAM misses the rim of the bright square
    cams[0, 12:36, 12:36] += 0.1
    out = mine_relations(image, cams, [0], crf=CRF, output_stride=1)
    assert (out[12:36, 12:36] == 1).mean() > 0.95
    assert (out[:8] == 0).all()
