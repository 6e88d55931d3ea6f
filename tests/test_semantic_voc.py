"""configs/VOC/deeplabv3plus_{pseudo,full}.yaml through tools/train_semantic.py on the tiny VOC 2012 + SBD release
tree of test_voc_release: pseudo labels of the train_aug images, their ground truth (VOC SegmentationClass, else
SBD cls/<id>.mat), mIoU on voc_2012_val_sem_seg."""
import json

import numpy as np
import pytest
from PIL import Image

from test_voc_release import (  # noqa: F401  (train_aug_labels, voc_release: fixtures)
    CPU,
    FROM_SCRATCH,
    TRAIN_AUG,
    VOC_TRAIN,
    _label_maps,
    _run_tool,
    _succeeds,
    train_aug_labels,
    voc_release,
)


@pytest.mark.parametrize("config", ["deeplabv3plus_pseudo", "deeplabv3plus_full"])
def test_train_semantic_voc_configs(voc_release, train_aug_labels, config):
    semantic = voc_release / "semantic"  # as the semantic stage writes them: grey PNGs, 0 / c + 1, no void
    for image_id in TRAIN_AUG:
        semantic.mkdir(exist_ok=True)
        Image.fromarray(_label_maps(image_id, void=False)[0]).save(semantic / f"{image_id}.png")
    out = voc_release / config
    result = _succeeds(_run_tool("tools/train_semantic.py", [
        "--config-file", f"configs/VOC/{config}.yaml", *CPU, *FROM_SCRATCH, "MODEL.SEM_SEG_HEAD.NORM", "BN",
        "MODEL.WEIGHTS", "", "DATASETS.SEMANTIC_PSEUDO_DIR", semantic, "SOLVER.MAX_ITER", "2",
        "SOLVER.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "0", "INPUT.MIN_SIZE_TRAIN", "(64,)",
        "INPUT.MAX_SIZE_TRAIN", "96", "INPUT.CROP.SIZE", "(64, 64)", "OUTPUT_DIR", out], voc_release))
    table = json.loads((out / "metrics_table.json").read_text())
    assert list(table) == ["voc_2012_val_sem_seg"] and 0.0 <= table["voc_2012_val_sem_seg"]["sem_seg"]["mIoU"] <= 100
    assert "| voc_2012_val_sem_seg |" in result.stdout
    if config == "deeplabv3plus_full":  # SBD-only train_aug images: their class maps drawn once into the cache
        cache = out / "sem_seg_gt" / "voc_2012_train_aug"
        assert sorted(p.stem for p in cache.iterdir()) == sorted(set(TRAIN_AUG) - set(VOC_TRAIN))
        for image_id in set(TRAIN_AUG) - set(VOC_TRAIN):
            drawn = np.asarray(Image.open(cache / f"{image_id}.png"))
            assert np.array_equal(drawn, _label_maps(image_id, void=False)[0])
