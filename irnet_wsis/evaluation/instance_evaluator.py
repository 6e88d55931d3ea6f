"""A Detectron2 evaluator reporting VOC-style AP^r_50 / AP^r_70 of instance masks."""
import itertools
import json
import logging
import os
from collections import OrderedDict

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm
from pycocotools import mask as mask_util

from .apr import evaluate_apr

__all__ = ["VOCInstanceEvaluator", "ground_truths_of"]

logger = logging.getLogger(__name__)


def ground_truths_of(dataset_name):
    """{image_id: [{"category_id", "segmentation": RLE, "iscrowd"}]} of a registered instance dataset."""
    out = {}
    for record in DatasetCatalog.get(dataset_name):
        anns = []
        for a in record.get("annotations", []):
            seg = a["segmentation"]
            if isinstance(seg, list):  # polygons -> RLE
                seg = mask_util.merge(mask_util.frPyObjects(seg, record["height"], record["width"]))
            elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):  # uncompressed RLE
                seg = mask_util.frPyObjects(seg, record["height"], record["width"])
            anns.append({"category_id": a["category_id"], "segmentation": seg, "iscrowd": a.get("iscrowd", 0)})
        out[record["image_id"]] = anns
    return out


class VOCInstanceEvaluator(DatasetEvaluator):
    """AP^r at mask IoU 0.5 and 0.7 (VOC style, see ``apr.py``) over a Detectron2 instance dataset.

    Returns ``{"segm_apr": {"AP50r", "AP70r", "AP50r-<class>", "AP70r-<class>"}}`` (percent).
    """

    def __init__(self, dataset_name, distributed=True, output_dir=None, iou_thresholds=(0.5, 0.7)):
        self.dataset_name = dataset_name
        self.distributed = distributed
        self.output_dir = output_dir
        self.iou_thresholds = tuple(iou_thresholds)
        self.class_names = MetadataCatalog.get(dataset_name).thing_classes
        self._predictions = []

    def reset(self):
        self._predictions = []

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            preds = []
            if "instances" in out:
                inst = out["instances"].to("cpu")
                masks = inst.pred_masks.numpy().astype(np.uint8)
                for mask, score, cls in zip(masks, inst.scores.tolist(), inst.pred_classes.tolist()):
                    rle = mask_util.encode(np.asfortranarray(mask))
                    rle["counts"] = rle["counts"].decode("ascii")
                    preds.append({"category_id": int(cls), "score": float(score), "segmentation": rle})
            self._predictions.append((inp["image_id"], preds))

    def evaluate(self):
        predictions = self._predictions
        if self.distributed:
            comm.synchronize()
            predictions = list(itertools.chain(*comm.gather(predictions, dst=0)))
            if not comm.is_main_process():
                return {}
        gts = ground_truths_of(self.dataset_name)
        preds = {image_id: p for image_id, p in predictions}
        gts = {k: v for k, v in gts.items() if k in preds}
        result = evaluate_apr(preds, gts, len(self.class_names), self.iou_thresholds)
        res = OrderedDict()
        for thr in self.iou_thresholds:
            key = f"AP{int(round(thr * 100))}r"
            res[key] = result[key]
            for name, ap in zip(self.class_names, result["per_class"][key]):
                res[f"{key}-{name}"] = ap
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)
            with open(os.path.join(self.output_dir, "apr_results.json"), "w") as f:
                json.dump({"images": len(gts), **res}, f, indent=2)
        logger.info("AP^r on %s (%d images): %s", self.dataset_name, len(gts),
                    ", ".join(f"{k} {res[k]:.1f}" for k in res if "-" not in k))
        return OrderedDict(segm_apr=res)
