"""Stage 3a: training IRNet on mined relations, and the mean displacement it leaves behind."""
import json
import logging
import os

import torch
from detectron2.data import build_detection_train_loader
from detectron2.modeling import build_model
from detectron2.utils import comm
from tqdm import tqdm

from ..data.weak_mappers import IRNetDatasetMapper
from ..modeling.backbone_weights import load_cam_backbone
from .cam_trainer import StageTrainer, stage_cfg_with_solver

__all__ = ["IRNetTrainer", "irnet_stage_cfg", "measure_mean_displacement", "save_mean_displacement"]

logger = logging.getLogger(__name__)


def irnet_stage_cfg(cfg):
    """cfg of stage 3: META_ARCHITECTURE IRNet, SOLVER from PIPELINE.IRNET_SOLVER, OUTPUT_DIR <WORK_DIR>/irnet,
    MODEL.IRNET.CAM_WEIGHTS defaulting to <WORK_DIR>/cam/model_final.pth."""
    c = stage_cfg_with_solver(cfg, "IRNet", cfg.PIPELINE.IRNET_SOLVER, "irnet")
    if not c.MODEL.IRNET.CAM_WEIGHTS:
        c.defrost()
        c.MODEL.IRNET.CAM_WEIGHTS = os.path.join(cfg.PIPELINE.WORK_DIR, "cam", "model_final.pth")
        c.freeze()
    return c


class IRNetTrainer(StageTrainer):
    """StageTrainer for IRNet: frozen CAM backbone, relation labels, displacement branch lr x10, poly decay.

    The paper scales the gradients reaching the displacement branch by 10; with
    SGD this is its learning rate x ``MODEL.IRNET.DISP_GRAD_MULTIPLIER`` (as the
    authors' code does it).
    """

    def __init__(self, cfg, records=None):
        self._records = records
        super().__init__(cfg)

    @classmethod
    def build_model(cls, cfg):
        model = build_model(cfg)
        load_cam_backbone(model.backbone, cfg.MODEL.IRNET.CAM_WEIGHTS)
        return model

    def build_train_loader(self, cfg):
        mapper = IRNetDatasetMapper(cfg, is_train=True, donors=self._records)
        if self._records is None:
            return build_detection_train_loader(cfg, mapper=mapper)
        return build_detection_train_loader(
            dataset=self._records, mapper=mapper, total_batch_size=cfg.SOLVER.IMS_PER_BATCH,
            num_workers=cfg.DATALOADER.NUM_WORKERS, aspect_ratio_grouping=False,
        )

    @classmethod
    def lr_multipliers(cls, cfg):
        return {"disp_head.": cfg.MODEL.IRNET.DISP_GRAD_MULTIPLIER}


@torch.no_grad()
def measure_mean_displacement(model, records, cfg, max_images=500):
    """Mean of D over the pixels of (up to ``max_images``) training images: (2,) in stride-4 pixels.

    Averaged over every process of a distributed run, so each process
    subtracts the same mean (the authors' multi-GPU training got this wrong).
    """
    model = getattr(model, "module", model)
    was_training = model.training
    model.eval()
    mapper = IRNetDatasetMapper(cfg, is_train=False)
    total = torch.zeros(2, dtype=torch.float64)
    count = torch.zeros(1, dtype=torch.float64)
    mine = records[: max_images][comm.get_rank():: comm.get_world_size()]
    for record in tqdm(mine, desc="mean displacement", disable=not comm.is_main_process(), mininterval=2.0):
        image = mapper(record)["image"]
        displacement, _ = model.predict_at_test_scale(image[None])
        total += displacement[0].double().sum(dim=(1, 2)).cpu()
        count += displacement[0, 0].numel()
    gathered = comm.all_gather((total, count))
    total = sum(t for t, _ in gathered)
    count = sum(c for _, c in gathered)
    model.train(was_training)
    return (total / count.clamp(min=1)).float()


def save_mean_displacement(mean, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"mean_displacement": [float(v) for v in mean]}, f)
