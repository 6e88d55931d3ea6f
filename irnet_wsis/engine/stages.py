"""The stages of ``tools/generate_pseudo.py``, one function each.

Each stage reads the outputs of the previous one from the work directory
(``cfg.PIPELINE.WORK_DIR``, layout in ``docs/INTERFACES.md``), skips what is
already done, and returns a summary dict for the run's report.

    train_cam -> cams -> relations -> train_irnet -> irnet_outputs -> synthesis -> export -> semantic
"""
import json
import logging
import os
import time
from collections import OrderedDict

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import MetadataCatalog
from detectron2.utils import comm
from pycocotools import mask as mask_util

from ..data.builtin import check_same_classes, concat_dataset_dicts, dataset_names
from ..data.io import read_image_or_fail
from ..errors import BadInputError, bad_input
from .per_image import atomic_save_npz, atomic_save_png, output_path, run_per_image, run_per_image_batches
from .work_dir import (
    image_size_of,
    load_mean_displacement,
    load_npz,
    load_pseudo_instances,
    load_stage_model,
    region_path,
    stage_records,
    work_paths,
)

__all__ = ["STAGES", "run_stage", "synthesize_record", "semantic_record", "refine_semantic_label",
           "encode_instances", "synthesis_kwargs"]

logger = logging.getLogger(__name__)

STAGES = ("train_cam", "cams", "relations", "train_irnet", "irnet_outputs", "synthesis", "export", "semantic")


# --------------------------------------------------------------------------- #
# Stage 1: CAM network
# --------------------------------------------------------------------------- #
def stage_train_cam(cfg, resume=True):
    from .cam_trainer import CAMTrainer, cam_stage_cfg

    paths = work_paths(cfg)
    if os.path.isfile(paths["cam_model"]):
        return {"skipped": "cam/model_final.pth exists"}
    val_names = dataset_names(cfg.CAM_INFERENCE.VAL_DATASET)
    check_same_classes(tuple(cfg.DATASETS.TRAIN) + val_names)  # Detectron2's loader does not compare weak sets
    stage_cfg = cam_stage_cfg(cfg)
    if stage_cfg.SOLVER.MAX_ITER > 0:
        trainer = CAMTrainer(stage_cfg)
        trainer.resume_or_load(resume=resume)
        trainer.train()
        model = trainer.model
    else:  # 0 iterations: the network as started (e.g. an ImageNet-started head), no trainer
        model = CAMTrainer.build_model(stage_cfg)
        if comm.is_main_process():
            os.makedirs(stage_cfg.OUTPUT_DIR, exist_ok=True)
            DetectionCheckpointer(model, stage_cfg.OUTPUT_DIR).save("model_final")
    summary = {"iterations": stage_cfg.SOLVER.MAX_ITER,
               "images_seen": stage_cfg.SOLVER.MAX_ITER * stage_cfg.SOLVER.IMS_PER_BATCH}
    if val_names and comm.is_main_process():
        from ..data.weak_mappers import CAMDatasetMapper
        from ..evaluation.classification import classification_map

        model = getattr(model, "module", model).eval()
        records = concat_dataset_dicts(val_names)
        summary["val_mAP"] = round(classification_map(model, records, CAMDatasetMapper(stage_cfg, is_train=False)), 2)
        logger.info("CAM classification mAP on %s: %.2f", ",".join(val_names), summary["val_mAP"])
    return summary


def images_by_size(items, fmt):
    """[(record, out path), ...] -> the images read (``fmt`` "RGB" or "BGR") in groups of one size, for the
    stages that run a batch through a network: a list of [(image (3, H, W) uint8 tensor, record, out path), ...]."""
    by_size = {}
    for record, out in items:
        rgb = read_image_or_fail(record, "RGB")
        image = rgb[:, :, ::-1] if fmt == "BGR" else rgb
        image = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        by_size.setdefault(tuple(image.shape), []).append((image, record, out))
    return list(by_size.values())


def stage_cams(cfg):
    from ..modeling.cam_inference import multiscale_cams_batch
    from .cam_trainer import cam_inference_cfg

    paths = work_paths(cfg)
    stage_cfg = cam_inference_cfg(cfg)
    model = load_stage_model(stage_cfg, paths["cam_model"])
    fmt = stage_cfg.INPUT.FORMAT

    def process(items):
        for group in images_by_size(items, fmt):
            results = multiscale_cams_batch(
                model, torch.stack([g[0] for g in group]),
                [torch.as_tensor(g[1]["classes"], dtype=torch.long) for g in group],
                scales=tuple(cfg.CAM_INFERENCE.SCALES), flip=cfg.CAM_INFERENCE.FLIP,
            )
            for (image, _, out), (cam4, cam_full, classes) in zip(group, results):
                atomic_save_npz(
                    out,
                    cam_stride4=cam4.cpu().numpy().astype(np.float16),
                    cam_full=cam_full.cpu().numpy().astype(np.float16),
                    classes=classes.cpu().numpy().astype(np.int64),
                    image_size=np.array(image.shape[1:], np.int64),  # as read: EXIF orientation applied
                )

    with torch.no_grad():
        return run_per_image_batches(stage_records(cfg), paths["cams"], ".npz", process, "cams",
                                     cfg.CAM_INFERENCE.BATCH_SIZE, cfg.DATASETS.SKIP_BAD)


# --------------------------------------------------------------------------- #
# Stage 2: relation mining
# --------------------------------------------------------------------------- #
def crf_params(cfg):
    """The relation stage's CRF settings (``crf_refine``'s dict), None without ``RELATIONS.USE_CRF``."""
    return crf_settings(cfg.RELATIONS.CRF) if cfg.RELATIONS.USE_CRF else None


def crf_settings(c):
    """A CRF config node (RELATIONS.CRF, SYNTHESIS.SEMANTIC_CRF) -> ``crf_refine``'s settings dict."""
    return {
        "gt_prob": c.GT_PROB,
        "gaussian_sxy": c.GAUSSIAN_SXY,
        "gaussian_compat": c.GAUSSIAN_COMPAT,
        "bilateral_sxy": c.BILATERAL_SXY,
        "bilateral_srgb": c.BILATERAL_SRGB,
        "bilateral_compat": c.BILATERAL_COMPAT,
        "iterations": c.ITERATIONS,
    }


def read_rgb_of_cams(record, cam_hw):
    """``record``'s image, uint8 (H, W, 3) RGB; a one-line error (file, image id) when (H, W) is not its CAMs'
    ``cam_hw`` (the image changed since the cams stage)."""
    rgb = read_image_or_fail(record, "RGB")
    if rgb.shape[:2] != tuple(cam_hw):
        raise bad_input(record["file_name"], f"image size {rgb.shape[:2]} != its CAMs' {tuple(cam_hw)}; delete "
                        "its cams/ file and rerun --stages cams", record["image_id"])
    return rgb


def stage_relations(cfg):
    from ..pseudo.relations import mine_relations, split_by_peaks

    paths = work_paths(cfg)
    crf = crf_params(cfg)

    def process(record, out):
        cams = load_npz(output_path(paths["cams"], record["image_id"], ".npz"), record["image_id"], "CAMs")
        cam_full = cams["cam_full"].astype(np.float32)
        rgb = read_rgb_of_cams(record, cam_full.shape[1:])
        label = mine_relations(
            rgb, cam_full, cams["classes"],
            fg_threshold=cfg.RELATIONS.FG_THRESHOLD, bg_threshold=cfg.RELATIONS.BG_THRESHOLD,
            crf=crf, output_stride=cfg.RELATIONS.OUTPUT_STRIDE,
        )
        if cfg.RELATIONS.INSTANCE_REGIONS:  # written first: a label file means both exist
            s = cfg.RELATIONS.OUTPUT_STRIDE
            regions = split_by_peaks(label, cam_full[:, ::s, ::s], cams["classes"], cfg.RELATIONS.PEAK_WINDOW,
                                     cfg.RELATIONS.PEAK_THRESHOLD)
            atomic_save_png(region_path(out), regions)
        atomic_save_png(out, label)

    return run_per_image(stage_records(cfg), paths["relations"], ".png", process, "relations", cfg.DATASETS.SKIP_BAD,
                         workers=cfg.RELATIONS.NUM_WORKERS)


# --------------------------------------------------------------------------- #
# Stage 3: IRNet
# --------------------------------------------------------------------------- #
def irnet_train_records(cfg):
    """Weak records with ``relation_file_name`` (and ``relation_region_file_name`` when Eq. 5 pairs
    within instance regions) added; images without them are an error."""
    paths = work_paths(cfg)
    with_regions = cfg.MODEL.IRNET.DISP_PAIRS_WITHIN == "instance"
    records = []
    for r in stage_records(cfg):
        r = dict(r)
        r["relation_file_name"] = output_path(paths["relations"], r["image_id"], ".png")
        missing = None
        if not os.path.isfile(r["relation_file_name"]):
            missing = (r["relation_file_name"], "missing relation labels; run --stages relations")
        elif with_regions:
            r["relation_region_file_name"] = region_path(r["relation_file_name"])
            if not os.path.isfile(r["relation_region_file_name"]):
                missing = (r["relation_region_file_name"], "missing instance regions (MODEL.IRNET.DISP_PAIRS_WITHIN "
                           "instance); delete relations/ and rerun --stages relations with RELATIONS.INSTANCE_REGIONS True")
        if missing:
            if cfg.DATASETS.SKIP_BAD:
                continue
            raise bad_input(missing[0], missing[1], r["image_id"])
        records.append(r)
    return records


def stage_train_irnet(cfg, resume=True):
    from .irnet_trainer import IRNetTrainer, irnet_stage_cfg, measure_mean_displacement, save_mean_displacement

    paths = work_paths(cfg)
    if os.path.isfile(paths["irnet_model"]) and os.path.isfile(paths["mean_displacement"]):
        return {"skipped": "irnet/model_final.pth exists"}
    stage_cfg = irnet_stage_cfg(cfg)
    if not os.path.isfile(stage_cfg.MODEL.IRNET.CAM_WEIGHTS):
        raise BadInputError(f"{stage_cfg.MODEL.IRNET.CAM_WEIGHTS}: CAM checkpoint not found; run --stages train_cam")
    records = irnet_train_records(cfg)
    trainer = IRNetTrainer(stage_cfg, records=records)
    trainer.resume_or_load(resume=resume)
    if not os.path.isfile(paths["irnet_model"]):
        trainer.train()
    mean = measure_mean_displacement(trainer.model, records, stage_cfg)
    if comm.is_main_process():
        save_mean_displacement(mean, paths["mean_displacement"])
    comm.synchronize()
    return {"iterations": stage_cfg.SOLVER.MAX_ITER,
            "images_seen": stage_cfg.SOLVER.MAX_ITER * stage_cfg.SOLVER.IMS_PER_BATCH,
            "mean_displacement": [round(float(v), 3) for v in mean]}


def semantic_boundary_scale(cfg):
    """MODEL.IRNET.SEMANTIC_TEST_SCALE when the semantic labels walk on a B of their own scale, else 0."""
    scale = float(cfg.MODEL.IRNET.SEMANTIC_TEST_SCALE)
    return scale if scale > 0 and scale != float(cfg.MODEL.IRNET.TEST_SCALE) else 0.0


def stage_irnet_outputs(cfg):
    from .irnet_trainer import irnet_stage_cfg

    paths = work_paths(cfg)
    stage_cfg = irnet_stage_cfg(cfg)
    model = load_stage_model(stage_cfg, paths["irnet_model"])
    fmt = stage_cfg.INPUT.FORMAT
    semantic_scale = semantic_boundary_scale(cfg)

    def outputs_at(inputs, scale):
        """The model's outputs on ``inputs`` with B at ``scale`` (the instances' scale restored after)."""
        model.test_scale, instance_scale = scale, model.test_scale
        try:
            return model(inputs)
        finally:
            model.test_scale = instance_scale

    def process(items):
        for group in images_by_size(items, fmt):
            inputs = [{"image": image} for image, _, _ in group]
            results = model(inputs)
            semantic = outputs_at(inputs, semantic_scale) if semantic_scale else [None] * len(group)
            for (_, _, out), result, semantic_result in zip(group, results, semantic):
                arrays = {"displacement": result["displacement"].cpu().numpy().astype(np.float32),
                          "boundary": result["boundary"].cpu().numpy().astype(np.float32)}
                if semantic_result is not None:
                    arrays["boundary_semantic"] = semantic_result["boundary"].cpu().numpy().astype(np.float32)
                atomic_save_npz(out, **arrays)

    with torch.no_grad():
        return run_per_image_batches(stage_records(cfg), paths["irnet_out"], ".npz", process, "irnet outputs",
                                     stage_cfg.MODEL.IRNET.TEST_BATCH_SIZE, cfg.DATASETS.SKIP_BAD)


# --------------------------------------------------------------------------- #
# Stage 4: synthesis
# --------------------------------------------------------------------------- #
def synthesis_kwargs(cfg, method=None):
    s = cfg.SYNTHESIS
    return {
        "method": method or s.METHOD,
        "radius": cfg.MODEL.IRNET.INFER_RADIUS,
        "beta": s.BETA,
        "steps": s.RANDOM_WALK_STEPS,
        "refine_iterations": s.REFINE_ITERATIONS,
        "refine_min_norm": s.REFINE_MIN_NORM,
        "centroid_threshold": s.CENTROID_THRESHOLD,
        "centroid_rule": s.CENTROID_RULE,
        "centroid_min_mass": s.CENTROID_MIN_MASS,
        "background_threshold": s.BACKGROUND_THRESHOLD,
        "min_area_fraction": s.MIN_AREA_FRACTION,
        "cam_threshold": s.CAM_THRESHOLD,
    }


def synthesize_record(cfg, record, method=None, mean_displacement=None):
    """Pseudo instances of one image: list of {"category_id", "mask" (H,W) bool, "score"}."""
    from ..pseudo.synthesis import synthesize_instances

    paths = work_paths(cfg)
    image_id = record["image_id"]
    cams = load_npz(output_path(paths["cams"], image_id, ".npz"), image_id, "CAMs")
    kwargs = synthesis_kwargs(cfg, method)
    if kwargs["method"] == "cam":
        displacement = boundary = None
    else:
        out = load_npz(output_path(paths["irnet_out"], image_id, ".npz"), image_id, "IRNet outputs")
        displacement = torch.from_numpy(out["displacement"])
        boundary = torch.from_numpy(out["boundary"])
    return synthesize_instances(
        torch.from_numpy(cams["cam_stride4"].astype(np.float32)),
        torch.from_numpy(cams["classes"]),
        displacement,
        boundary,
        image_size_of(cams, record),
        mean_displacement=mean_displacement,
        **kwargs,
    )


def encode_instances(instances):
    """List of {"category_id", "mask", "score"} -> list of {"category_id", "score", "segmentation": RLE}."""
    encoded = []
    for inst in instances:
        rle = mask_util.encode(np.asfortranarray(inst["mask"].astype(np.uint8)))
        rle["counts"] = rle["counts"].decode("ascii")
        encoded.append({"category_id": int(inst["category_id"]), "score": float(inst["score"]), "segmentation": rle})
    return encoded


def stage_synthesis(cfg):
    paths = work_paths(cfg)
    mean_d = load_mean_displacement(cfg) if cfg.SYNTHESIS.METHOD == "full" else None

    def process(record, out):
        instances = encode_instances(synthesize_record(cfg, record, mean_displacement=mean_d))
        instances = [i for i in instances if i["score"] >= cfg.SYNTHESIS.MIN_SCORE]
        atomic_save_npz(out, instances=np.array(json.dumps(instances)))

    return run_per_image(stage_records(cfg), paths["pseudo"], ".npz", process, "synthesis", cfg.DATASETS.SKIP_BAD,
                         workers=cfg.SYNTHESIS.NUM_WORKERS)


def load_semantic_boundary(cfg, image_id):
    """B that the semantic walk uses for ``image_id``: float32 (h, w) at stride 4, from stage irnet_outputs
    ("boundary_semantic" when ``semantic_boundary_scale``, else "boundary")."""
    path = output_path(work_paths(cfg)["irnet_out"], image_id, ".npz")
    out = load_npz(path, image_id, "IRNet outputs")
    key = "boundary_semantic" if semantic_boundary_scale(cfg) else "boundary"
    if key not in out:
        raise bad_input(path, f"no {key} (MODEL.IRNET.SEMANTIC_TEST_SCALE {cfg.MODEL.IRNET.SEMANTIC_TEST_SCALE}): "
                        "delete the irnet_out folder and rerun stage irnet_outputs", image_id)
    return out[key]


def semantic_record(cfg, record, refine=True):
    """Pseudo semantic label map of one image (Table 2 "Prop. w/ IRNet"): uint8 (H, W), 0 / c + 1.

    Class CAMs propagated by the walk of B (``SYNTHESIS.BETA``; ``SEMANTIC_RANDOM_WALK_STEPS`` steps, 0:
    ``RANDOM_WALK_STEPS``) against the plane ``SYNTHESIS.SEMANTIC_BACKGROUND_THRESHOLD``; then, with
    ``refine`` and ``SYNTHESIS.SEMANTIC_CRF.ENABLED``, the dense CRF on the image's colours.
    """
    from ..pseudo.synthesis import synthesize_semantic

    paths = work_paths(cfg)
    image_id = record["image_id"]
    cams = load_npz(output_path(paths["cams"], image_id, ".npz"), image_id, "CAMs")
    s = cfg.SYNTHESIS
    label = synthesize_semantic(
        torch.from_numpy(cams["cam_stride4"].astype(np.float32)), torch.from_numpy(cams["classes"]),
        torch.from_numpy(load_semantic_boundary(cfg, image_id)), image_size_of(cams, record),
        radius=cfg.MODEL.IRNET.INFER_RADIUS,
        beta=s.BETA, steps=s.SEMANTIC_RANDOM_WALK_STEPS or s.RANDOM_WALK_STEPS,
        background_threshold=s.SEMANTIC_BACKGROUND_THRESHOLD,
    )
    return refine_semantic_label(cfg, record, label) if refine and s.SEMANTIC_CRF.ENABLED else label


def refine_semantic_label(cfg, record, label):
    """The walk's label map (uint8 (H, W)) of ``record`` refined by the dense CRF of ``SYNTHESIS.SEMANTIC_CRF`` on
    the image's colours."""
    from ..pseudo.synthesis import crf_refine_label_map

    return crf_refine_label_map(read_rgb_of_cams(record, label.shape), label, crf_settings(cfg.SYNTHESIS.SEMANTIC_CRF))


def stage_semantic(cfg):
    """semantic/<image_id>.png: pseudo semantic label maps (class label map convention, docs/INTERFACES.md)."""
    paths = work_paths(cfg)

    def process(record, out):
        atomic_save_png(out, semantic_record(cfg, record))

    return run_per_image(stage_records(cfg), paths["semantic"], ".png", process, "semantic", cfg.DATASETS.SKIP_BAD,
                         workers=cfg.SYNTHESIS.NUM_WORKERS)


# --------------------------------------------------------------------------- #
# Stage 5: export
# --------------------------------------------------------------------------- #
def stage_export(cfg):
    from ..export.coco_json import instances_to_coco_json

    paths = work_paths(cfg)
    if not comm.is_main_process():
        return {}
    records = []
    for r in stage_records(cfg):  # sizes as the images are read (EXIF applied), so loaders agree with masks
        cams = load_npz(output_path(paths["cams"], r["image_id"], ".npz"), r["image_id"], "CAMs")
        h, w = image_size_of(cams, r)
        records.append(dict(r, height=h, width=w))
    per_image = [load_pseudo_instances(cfg, r) for r in records]
    class_names = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).thing_classes  # the same for every set (stage_records)
    summary = instances_to_coco_json(
        records, per_image, class_names, paths["pseudo_json"],
        description=f"irnet_wsis pseudo labels of {','.join(cfg.DATASETS.TRAIN)} ({cfg.SYNTHESIS.METHOD})",
    )
    return summary


_STAGE_FUNCTIONS = OrderedDict(
    [
        ("train_cam", stage_train_cam),
        ("cams", stage_cams),
        ("relations", stage_relations),
        ("train_irnet", stage_train_irnet),
        ("irnet_outputs", stage_irnet_outputs),
        ("synthesis", stage_synthesis),
        ("export", stage_export),
        ("semantic", stage_semantic),
    ]
)


def run_stage(cfg, name):
    """Run stage ``name``; returns its summary with the wall time in seconds."""
    if name not in _STAGE_FUNCTIONS:
        raise ValueError(f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
    start = time.perf_counter()
    summary = _STAGE_FUNCTIONS[name](cfg) or {}
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    return summary
