#!/usr/bin/env python
"""Instance regions from a finished run's pseudo instances (a second round of IRNet's displacement field).

For each training image, copies ``<SOURCE>/relations/<image id>.png`` (the relation labels mined from the CAMs)
into ``PIPELINE.WORK_DIR/relations`` and writes ``<image id>.regions.png`` beside it: the ids of SOURCE's pseudo
instances (stage ``synthesis``; higher scores on top) on the stride-s cells where the relation labels give the
instance's class, 0 elsewhere. ``MODEL.IRNET.DISP_PAIRS_WITHIN instance`` then trains D on the whole objects
that the first round's class boundaries and walk drew, instead of on the CAM-peak regions of
``RELATIONS.INSTANCE_REGIONS``.

    python benchmarks/regions_from_instances.py --config-file configs/coco/lite2_pseudo.yaml --source W \\
        PIPELINE.WORK_DIR W2     # then W's cam and cams linked into W2, --stages train_irnet,... with region options
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def instance_regions(relation, instances, stride):
    """Relation labels uint8 (h, w) and pseudo instances ({"category_id", "score", "mask": bool (H, W)}) ->
    uint8 (h, w) region ids: 1..254 by ascending score (higher scores drawn last, on top), each only on the cells
    (every ``stride``-th pixel) whose relation label is its class + 1; 0 elsewhere."""
    regions = np.zeros(relation.shape, np.uint8)
    ordered = sorted(instances, key=lambda inst: inst["score"])[-254:]
    for k, inst in enumerate(ordered):
        cells = inst["mask"][::stride, ::stride][: relation.shape[0], : relation.shape[1]]
        regions[cells & (relation == inst["category_id"] + 1)] = k + 1
    return regions


def main(argv=None):
    from PIL import Image

    import irnet_wsis
    from irnet_wsis.config import setup_cfg
    from irnet_wsis.engine.per_image import atomic_save_png, output_path
    from irnet_wsis.engine.work_dir import load_npz, region_path, stage_records, work_paths
    from irnet_wsis.evaluation.apr import decode_rle

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--source", required=True, help="work directory with relations/ and pseudo/")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    relations = work_paths(cfg)["relations"]
    if os.path.realpath(relations) == os.path.realpath(os.path.join(args.source, "relations")):
        raise SystemExit(f"error: {relations} is SOURCE's own relations folder; give PIPELINE.WORK_DIR a new one")
    os.makedirs(relations, exist_ok=True)
    for record in tqdm(stage_records(cfg), desc="regions from instances", mininterval=2.0):
        image_id = record["image_id"]
        source = output_path(os.path.join(args.source, "relations"), image_id, ".png")
        relation = np.array(Image.open(source))
        data = load_npz(output_path(os.path.join(args.source, "pseudo"), image_id, ".npz"), image_id,
                        "pseudo instances")
        instances = [dict(inst, mask=decode_rle(inst["segmentation"]).astype(bool))
                     for inst in json.loads(str(data["instances"]))]
        target = output_path(relations, image_id, ".png")
        atomic_save_png(region_path(target), instance_regions(relation, instances, cfg.RELATIONS.OUTPUT_STRIDE))
        shutil.copyfile(source, target)


if __name__ == "__main__":
    main()
