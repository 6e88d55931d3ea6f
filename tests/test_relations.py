"""Relation mining: thresholds, CRF, stride-4 output."""
import numpy as np

from irnet_wsis.pseudo.relations import crf_refine, crf_refine_many, hard_labels, mine_relations, split_by_peaks

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


def test_crf_refine_many_equals_one_crf_per_map():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    image[:, :16] //= 4  # a colour edge for the bilateral term
    maps = [rng.integers(0, 3, (24, 32)), np.zeros((24, 32), np.int64), rng.integers(0, 3, (24, 32))]
    maps[1][:, 10:] = 2
    shared = crf_refine_many(image, maps, 3, CRF)
    assert len(shared) == 3
    for labels, refined in zip(maps, shared):
        assert np.array_equal(refined, crf_refine(image, labels, 3, CRF))
    assert not np.array_equal(shared[0], shared[1])  # each map keeps its own unary
    assert [m.tolist() for m in crf_refine_many(image, maps[:2], 1, CRF)] == [np.zeros((24, 32)).tolist()] * 2
    assert crf_refine_many(image, [], 3, CRF) == []


def test_split_by_peaks_cuts_a_class_region_in_the_cam_valley():
    h, w = 12, 24
    ys, xs = np.mgrid[0:h, 0:w]
    # two CAM bumps of class 2 (peaks 1.0 at x = 6, 0.8 at x = 17): the valley lies at x = 11.5
    cam = np.maximum(np.exp(-((ys - 6) ** 2 + (xs - 6) ** 2) / 18.0),
                     0.8 * np.exp(-((ys - 6) ** 2 + (xs - 17) ** 2) / 18.0)).astype(np.float32)
    label = np.zeros((h, w), np.uint8)
    label[2:10, 2:22] = 3  # one connected region of class 2 over both bumps
    label[2:4, 23] = 3  # a separate piece without a peak: a region of its own
    label[0, 0] = 255
    regions = split_by_peaks(label, cam[None], [2], window=5, threshold=0.5)
    left, right, piece = regions[5, 2], regions[5, 21], regions[2, 23]
    assert len({int(left), int(right), int(piece)}) == 3 and min(left, right, piece) > 0
    assert (regions[2:10, 2:12] == left).all() and (regions[2:10, 12:22] == right).all()
    assert (regions[label != 3] == 0).all()
    # a threshold above both peaks: no split, the connected region stays whole
    whole = split_by_peaks(label, cam[None], [2], window=5, threshold=1.5)
    assert len(np.unique(whole[2:10, 2:22])) == 1 and whole[2, 2] > 0


def test_relations_from_labels_ignore_a_band_at_borders():
    """benchmarks/relations_from_labels.py: each label shrinks by the band (255 between), then stride."""
    from conftest import load_script

    relation_labels = load_script("benchmarks", "relations_from_labels").relation_labels
    labels = np.zeros((8, 8), np.uint8)
    labels[:, 4:] = 3
    expected = np.array([[0, 0, 0, 255, 255, 3, 3, 3]] * 8, np.uint8)
    np.testing.assert_array_equal(relation_labels(labels, 1, 1), expected)
    np.testing.assert_array_equal(relation_labels(labels, 1, 2), expected[::2, ::2])
    np.testing.assert_array_equal(relation_labels(labels, 0, 1), labels)


def test_regions_from_instances_keep_their_class_cells_and_the_higher_score_on_top():
    """benchmarks/regions_from_instances.py: two overlapping class-1 instances on an 8 x 8 image at stride 2; the
    higher-scored one wins the overlap; cells whose relation label is another class, background or 255 get 0."""
    from conftest import load_script

    instance_regions = load_script("benchmarks", "regions_from_instances").instance_regions
    relation = np.full((4, 4), 2, np.uint8)  # class 1 + 1 everywhere ...
    relation[0, 0], relation[3, 3], relation[0, 3] = 0, 255, 5  # ... except background, ignored, class 4
    low = np.zeros((8, 8), bool)
    low[:, :6] = True  # cells x 0-2
    high = np.zeros((8, 8), bool)
    high[:, 4:] = True  # cells x 2-3
    regions = instance_regions(relation, [{"category_id": 1, "score": 0.9, "mask": high},
                                          {"category_id": 1, "score": 0.2, "mask": low}], 2)
    expected = np.array([[0, 1, 2, 0], [1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 0]], np.uint8)
    np.testing.assert_array_equal(regions, expected)


def test_regions_from_instances_cut_along_the_boundary_map():
    """--cut: one class-1 instance over a 4 x 6 grid (stride 1) with B = 0.9 on column 2 falls into two regions,
    left and right of the line; the line's cells get 0; at a cut above 0.9 it stays one region."""
    from conftest import load_script

    instance_regions = load_script("benchmarks", "regions_from_instances").instance_regions
    relation = np.full((4, 6), 2, np.uint8)
    boundary = np.zeros((4, 6), np.float32)
    boundary[:, 2] = 0.9
    instances = [{"category_id": 1, "score": 0.5, "mask": np.ones((4, 6), bool)}]
    regions = instance_regions(relation, instances, 1, boundary, 0.5)
    np.testing.assert_array_equal(regions, np.array([[1, 1, 0, 2, 2, 2]] * 4, np.uint8))
    np.testing.assert_array_equal(instance_regions(relation, instances, 1, boundary, 0.95), np.ones((4, 6), np.uint8))


def test_regions_from_instances_small_pieces_join_the_nearest_large_one():
    """--min-piece: a class-1 instance over a 4 x 7 grid with B = 0.9 on column 5 cuts off column 6 (4 of 28
    cells). At a share of 0.25 (7 cells) that piece and the line join the large piece: one region. With the line
    on column 3 instead, both sides (12 cells each) stay regions and the line's cells go to one of them."""
    from conftest import load_script

    instance_regions = load_script("benchmarks", "regions_from_instances").instance_regions
    relation = np.full((4, 7), 2, np.uint8)
    instances = [{"category_id": 1, "score": 0.5, "mask": np.ones((4, 7), bool)}]
    boundary = np.zeros((4, 7), np.float32)
    boundary[:, 5] = 0.9
    np.testing.assert_array_equal(instance_regions(relation, instances, 1, boundary, 0.5, 0.25), np.ones((4, 7)))
    boundary = np.zeros((4, 7), np.float32)
    boundary[:, 3] = 0.9
    regions = instance_regions(relation, instances, 1, boundary, 0.5, 0.25)
    assert (regions[:, :3] == 1).all() and (regions[:, 4:] == 2).all() and np.isin(regions[:, 3], [1, 2]).all()


def test_regions_from_instances_keep_the_254_highest_scored():
    """300 one-cell class-1 instances on a 1 x 300 grid, scores rising left to right: the 46 lowest-scored get 0,
    the others ids 1..254 in score order."""
    from conftest import load_script

    instance_regions = load_script("benchmarks", "regions_from_instances").instance_regions
    relation = np.full((1, 300), 2, np.uint8)
    instances = []
    for k in range(300):
        mask = np.zeros((1, 300), bool)
        mask[0, k] = True
        instances.append({"category_id": 1, "score": k / 300, "mask": mask})
    expected = np.concatenate([np.zeros(46), np.arange(1, 255)]).astype(np.uint8)[None]
    np.testing.assert_array_equal(instance_regions(relation, instances[::-1], 1), expected)
