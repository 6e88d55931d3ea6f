"""Label synthesis (Sec. 5.2) on hand-made CAMs, displacement and boundary maps."""
import numpy as np
import pytest
import torch

from irnet_wsis.pseudo.synthesis import synthesize_instances, synthesize_semantic


def _two_touching_squares():
    """Two same-class squares side by side on a 16 x 24 stride-4 grid, a boundary around them."""
    h, w = 16, 24
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    left = (ys >= 4) & (ys < 12) & (xs >= 4) & (xs < 12)
    right = (ys >= 4) & (ys < 12) & (xs >= 12) & (xs < 20)
    cam = torch.zeros(1, h, w)
    cam[0][left | right] = 0.6
    cam[0, 7:9, 7:9] = 1.0  # peaks inside each square only
    cam[0, 7:9, 15:17] = 1.0
    d = torch.zeros(2, h, w)
    for region, (cy, cx) in ((left, (7.5, 7.5)), (right, (7.5, 15.5))):
        d[0][region] = (cy - ys)[region]
        d[1][region] = (cx - xs)[region]
    b = torch.zeros(h, w)
    outline = (left | right) & ~(
        torch.roll(left | right, 1, 0) & torch.roll(left | right, -1, 0)
        & torch.roll(left | right, 1, 1) & torch.roll(left | right, -1, 1))
    b[outline] = 1.0
    return cam, d, b, left, right


def _upsampled(mask):
    return np.kron(mask.numpy(), np.ones((4, 4), bool))


def test_full_method_splits_touching_same_class_instances():
    cam, d, b, left, right = _two_touching_squares()
    # a short walk: on this tiny grid 256 steps mix the two same-class squares completely
    out = synthesize_instances(cam, torch.tensor([3]), d, b, (64, 96), method="full", centroid_threshold=1.0,
                               steps=8)
    big = [o for o in out if o["score"] > 0]
    assert len(big) == 2 and all(o["category_id"] == 3 for o in big)
    for target in (left, right):
        want = _upsampled(target)
        ious = [np.logical_and(o["mask"], want).sum() / np.logical_or(o["mask"], want).sum() for o in big]
        assert max(ious) > 0.7
    assert all(o["mask"].shape == (64, 96) for o in out)


def test_cam_and_boundary_methods_merge_touching_instances():
    cam, d, b, left, right = _two_touching_squares()
    for method in ("cam", "boundary"):
        out = [o for o in synthesize_instances(cam, torch.tensor([3]), None if method == "cam" else d,
                                               None if method == "cam" else b, (64, 96), method=method)
               if o["score"] > 0]
        assert len(out) == 1, method  # connected components cannot split touching instances
        want = _upsampled(left | right)
        iou = np.logical_and(out[0]["mask"], want).sum() / np.logical_or(out[0]["mask"], want).sum()
        assert iou > 0.6, method


def test_semantic_labels_and_image_crop():
    cam, _, b, left, right = _two_touching_squares()
    labels = synthesize_semantic(cam, torch.tensor([3]), b, (61, 93))
    assert labels.shape == (61, 93) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 4}
    assert labels[30, 30] == 4 and labels[2, 2] == 0


def test_no_classes_gives_nothing():
    out = synthesize_instances(torch.zeros(0, 4, 4), torch.zeros(0, dtype=torch.long), torch.zeros(2, 4, 4),
                               torch.zeros(4, 4), (16, 16))
    assert out == []
    # semantic labels of an image without classes: all background, image-sized (the walk has no map)
    labels = synthesize_semantic(torch.zeros(0, 4, 4), torch.zeros(0, dtype=torch.long), torch.zeros(4, 4), (15, 13))
    assert labels.shape == (15, 13) and labels.dtype == np.uint8 and not labels.any()


def test_mismatched_shapes_raise():
    import pytest

    cam, d, b, _, _ = _two_touching_squares()
    with pytest.raises(ValueError, match="boundary"):
        synthesize_instances(cam, torch.tensor([3]), d, b[:-1], (64, 96))
    with pytest.raises(ValueError, match="displacement"):
        synthesize_instances(cam, torch.tensor([3]), d[:, 1:], b, (64, 96))
    with pytest.raises(ValueError, match="image size"):
        synthesize_instances(cam, torch.tensor([3]), d, b, (65, 96))
    with pytest.raises(ValueError, match="classes"):
        synthesize_semantic(cam, torch.tensor([3, 4]), b, (64, 96))


def test_semantic_stage_walks_its_own_length(tmp_path):
    """SYNTHESIS.SEMANTIC_RANDOM_WALK_STEPS sets the semantic walk (0: RANDOM_WALK_STEPS): a CAM that covers one
    cell of a 1 x 9 strip (stride 4: 4 x 36 px) without boundaries stays on that cell and its bilinear spill
    (pixels 0-5 of each row) after 0 steps, and reaches the far end after 64 (one cell a step), against a plane
    at 0.01 of the peak."""
    from detectron2.config import get_cfg

    from irnet_wsis.config import add_irnet_config
    from irnet_wsis.engine.per_image import atomic_save_npz, output_path
    from irnet_wsis.engine.stages import semantic_record

    cam = np.zeros((1, 1, 9), np.float32)
    cam[0, 0, 0] = 1.0
    for folder, arrays in (("cams", {"cam_stride4": cam, "classes": np.array([2]), "image_size": np.array([4, 36])}),
                           ("irnet_out", {"boundary": np.zeros((1, 9), np.float32)})):
        atomic_save_npz(output_path(str(tmp_path / folder), "img", ".npz"), **arrays)
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_list(["PIPELINE.WORK_DIR", str(tmp_path), "MODEL.IRNET.INFER_RADIUS", 2, "SYNTHESIS.BETA", 1,
                         "SYNTHESIS.RANDOM_WALK_STEPS", 0, "SYNTHESIS.SEMANTIC_BACKGROUND_THRESHOLD", 0.01])
    record = {"image_id": "img", "height": 4, "width": 36}
    assert (semantic_record(cfg, record) == 3).sum(axis=1).tolist() == [6, 6, 6, 6]
    cfg.SYNTHESIS.SEMANTIC_RANDOM_WALK_STEPS = 64
    assert (semantic_record(cfg, record) == 3).all()
    cfg.SYNTHESIS.SEMANTIC_RANDOM_WALK_STEPS, cfg.SYNTHESIS.RANDOM_WALK_STEPS = 0, 64  # 0: the instances' walk
    assert (semantic_record(cfg, record) == 3).all()


def test_semantic_walk_reads_the_boundary_of_its_own_scale(tmp_path):
    """``load_semantic_boundary`` (the semantic stage's, Table 2's and benchmarks/semantic_sweep.py's B): the
    "boundary_semantic" array when MODEL.IRNET.SEMANTIC_TEST_SCALE is set and differs from TEST_SCALE, else
    "boundary"; a file without the array it needs is a one-line error naming the file, the image and the fix."""
    from detectron2.config import get_cfg

    from irnet_wsis.config import add_irnet_config
    from irnet_wsis.engine.per_image import atomic_save_npz, output_path
    from irnet_wsis.engine.stages import load_semantic_boundary
    from irnet_wsis.errors import BadInputError

    path = output_path(str(tmp_path / "irnet_out"), "img", ".npz")
    atomic_save_npz(path, boundary=np.zeros((2, 3), np.float32), boundary_semantic=np.ones((2, 3), np.float32))
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_list(["PIPELINE.WORK_DIR", str(tmp_path), "MODEL.IRNET.TEST_SCALE", 0.5])
    for semantic_scale, expected in ((0.0, 0.0), (0.5, 0.0), (1.0, 1.0)):
        cfg.MODEL.IRNET.SEMANTIC_TEST_SCALE = semantic_scale
        assert (load_semantic_boundary(cfg, "img") == expected).all()
    atomic_save_npz(path, boundary=np.zeros((2, 3), np.float32))
    with pytest.raises(BadInputError,
                       match=r"img\.npz \(image img\): no boundary_semantic .*rerun stage irnet_outputs"):
        load_semantic_boundary(cfg, "img")


def test_crf_refine_label_map_snaps_to_colour_edges_among_its_own_labels():
    """A label map whose class square is 3 px too small inside a bright square on black grows to the square's
    edge; the labels stay those of the map (0 and class 5 + 1), and a one-label map is returned as is."""
    from irnet_wsis.pseudo.synthesis import crf_refine_label_map

    crf = dict(gt_prob=0.7, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=26, bilateral_srgb=15,
               bilateral_compat=10, iterations=10)
    image = np.zeros((48, 48, 3), np.uint8)
    image[12:36, 12:36] = 220
    label = np.zeros((48, 48), np.uint8)
    label[15:33, 15:33] = 6
    refined = crf_refine_label_map(image, label, crf)
    assert refined.dtype == np.uint8 and set(np.unique(refined)) == {0, 6}
    assert (refined[12:36, 12:36] == 6).mean() > 0.95 and (refined[:8] == 0).all()
    flat = np.full((48, 48), 3, np.uint8)
    assert np.array_equal(crf_refine_label_map(image, flat, crf), flat)


def test_semantic_stage_with_the_crf_and_without(tmp_path):
    """SYNTHESIS.SEMANTIC_CRF.ENABLED: the semantic stage's label of a CAM that covers the inner part of a bright
    square reaches the square's edge; ``refine=False`` (Table 2's paper row) keeps the walk's label; an image of
    another size than its CAMs is a one-line error naming the file."""
    import pytest
    from detectron2.config import get_cfg
    from PIL import Image

    from irnet_wsis.config import add_irnet_config
    from irnet_wsis.engine.per_image import atomic_save_npz, output_path
    from irnet_wsis.engine.stages import semantic_record
    from irnet_wsis.errors import BadInputError

    image = np.zeros((48, 48, 3), np.uint8)
    image[14:34, 14:34] = 220
    Image.fromarray(image).save(tmp_path / "img.png")
    cam = np.zeros((1, 12, 12), np.float32)
    cam[0, 4:8, 4:8] = 1.0  # the walk's label: pixels 16-31, 2 px inside the square on each side
    for folder, arrays in (("cams", {"cam_stride4": cam, "classes": np.array([2]), "image_size": np.array([48, 48])}),
                           ("irnet_out", {"boundary": np.zeros((12, 12), np.float32)})):
        atomic_save_npz(output_path(str(tmp_path / folder), "img", ".npz"), **arrays)
    cfg = get_cfg()
    add_irnet_config(cfg)
    cfg.merge_from_list(["PIPELINE.WORK_DIR", str(tmp_path), "SYNTHESIS.RANDOM_WALK_STEPS", 0,
                         "SYNTHESIS.SEMANTIC_BACKGROUND_THRESHOLD", 0.5, "SYNTHESIS.SEMANTIC_CRF.ENABLED", True,
                         "SYNTHESIS.SEMANTIC_CRF.BILATERAL_SXY", 26, "SYNTHESIS.SEMANTIC_CRF.BILATERAL_SRGB", 15])
    record = {"image_id": "img", "height": 48, "width": 48, "file_name": str(tmp_path / "img.png")}
    walk = semantic_record(cfg, record, refine=False)
    assert (walk[14:34, 14:34] == 3).mean() < 0.7  # the walk's label stops short of the square's edge
    refined = semantic_record(cfg, record)
    assert (refined[14:34, 14:34] == 3).mean() > 0.95 and (refined[:8] == 0).all()
    Image.fromarray(image[:40]).save(tmp_path / "img.png")
    with pytest.raises(BadInputError, match="img.png.*image size"):
        semantic_record(cfg, record)
