"""Stage 1a: training CAMNet with Detectron2's engine."""
import os

from detectron2.data import build_detection_train_loader
from detectron2.engine import DefaultTrainer
from detectron2.modeling import build_model

from ..data.weak_mappers import CAMDatasetMapper
from ..modeling.backbone_weights import init_cam_backbone
from ..solver import build_poly_lr_scheduler, build_optimizer

__all__ = ["StageTrainer", "CAMTrainer", "cam_stage_cfg", "cam_inference_cfg", "stage_cfg_with_solver"]


def stage_cfg_with_solver(cfg, meta_arch, solver, output_subdir):
    """A clone of the pipeline cfg set up to train one stage with ``solver`` (a PIPELINE.*_SOLVER node)."""
    c = cfg.clone()
    c.defrost()
    c.MODEL.META_ARCHITECTURE = meta_arch
    c.MODEL.WEIGHTS = ""
    c.SOLVER.BASE_LR = solver.BASE_LR
    c.SOLVER.MAX_ITER = solver.MAX_ITER
    c.SOLVER.IMS_PER_BATCH = solver.IMS_PER_BATCH
    c.SOLVER.WEIGHT_DECAY = solver.WEIGHT_DECAY
    c.SOLVER.MOMENTUM = solver.MOMENTUM
    c.SOLVER.POLY_LR_POWER = solver.POLY_POWER
    c.SOLVER.OPTIMIZER = solver.OPTIMIZER
    c.SOLVER.WARMUP_ITERS = 0
    c.SOLVER.CHECKPOINT_PERIOD = max(c.SOLVER.CHECKPOINT_PERIOD, 1)
    c.DATASETS.TEST = ()
    c.TEST.EVAL_PERIOD = 0
    c.OUTPUT_DIR = os.path.join(cfg.PIPELINE.WORK_DIR, output_subdir)
    c.freeze()
    return c


def cam_stage_cfg(cfg):
    """cfg of stage 1: META_ARCHITECTURE CAMNet, SOLVER from PIPELINE.CAM_SOLVER, OUTPUT_DIR <WORK_DIR>/cam."""
    return stage_cfg_with_solver(cfg, "CAMNet", cfg.PIPELINE.CAM_SOLVER, "cam")


def cam_inference_cfg(cfg):
    """``cam_stage_cfg`` for the cams stage: MODEL.BFLOAT16 also when ``CAM_INFERENCE.BFLOAT16`` (already turned
    off by ``setup_cfg`` on a device without bfloat16 units)."""
    c = cam_stage_cfg(cfg)
    if cfg.CAM_INFERENCE.BFLOAT16 and not c.MODEL.BFLOAT16:
        c = c.clone()
        c.defrost()
        c.MODEL.BFLOAT16 = True
        c.freeze()
    return c


class StageTrainer(DefaultTrainer):
    """DefaultTrainer of a pipeline stage: per-prefix lr multipliers, polynomial decay, no evaluation."""

    @classmethod
    def lr_multipliers(cls, cfg):
        """{parameter-name prefix: lr multiplier}."""
        return {}

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(model, cfg.SOLVER, cls.lr_multipliers(cfg))

    @classmethod
    def build_lr_scheduler(cls, cfg, optimizer):
        return build_poly_lr_scheduler(optimizer, cfg.SOLVER.MAX_ITER, cfg.SOLVER.POLY_LR_POWER)

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        return {}


class CAMTrainer(StageTrainer):
    """StageTrainer for CAMNet: weak records, CAM augmentation, head x10 lr."""

    @classmethod
    def build_model(cls, cfg):
        model = build_model(cfg)
        init_cam_backbone(model.backbone, cfg)
        return model

    @classmethod
    def build_train_loader(cls, cfg):
        return build_detection_train_loader(cfg, mapper=CAMDatasetMapper(cfg, is_train=True))

    @classmethod
    def lr_multipliers(cls, cfg):
        return {"classifier.": cfg.MODEL.CAM.HEAD_LR_MULTIPLIER}
