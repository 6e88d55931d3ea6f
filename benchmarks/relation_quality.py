#!/usr/bin/env python
"""Relation labels against the ground truth of the training images, and ground-truth ("oracle") relations.

Default: for the relation labels of a work directory (stage `relations`), per stride-4 cell:
- foreground precision / recall: a cell labelled class c is right when the ground truth there is c;
  recall is over ground-truth object cells;
- background precision / recall: likewise for label 0 against ground-truth background;
- ignored share: cells labelled 255, split by what the ground truth has there;
- instance regions (RELATIONS.INSTANCE_REGIONS): regions per ground-truth instance, and instances
  covered by no region or sharing one region with another instance of their class.

--write-oracle writes the ground truth itself as relation labels and instance regions into the work
directory (relations/<id>.png and <id>.regions.png), so that `--stages train_irnet` trains IRNet on perfect
relations: what IRNet learns then is bounded by the network and its input, not by the CAMs.

    python benchmarks/relation_quality.py --config-file configs/coco/lite0_pseudo.yaml PIPELINE.WORK_DIR W
    python benchmarks/relation_quality.py --config-file ... --write-oracle PIPELINE.WORK_DIR W_oracle
"""
import argparse
import json
import os
import sys

import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv=None):
    from PIL import Image

    import irnet_wsis
    from irnet_wsis.config import setup_cfg
    from irnet_wsis.engine.per_image import atomic_save_png, output_path
    from irnet_wsis.engine.work_dir import gt_records, region_path, work_paths
    from irnet_wsis.evaluation.relation_quality import relation_counts, stride4_truth, summarize_relation_counts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--num-images", type=int, default=0, help="first N images (0: all)")
    parser.add_argument("--write-oracle", action="store_true", help="write the ground truth as relation labels")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    relations_dir = work_paths(cfg)["relations"]
    stride = cfg.RELATIONS.OUTPUT_STRIDE
    total = {}
    for record in tqdm(gt_records(cfg, args.num_images), desc="relations vs truth", mininterval=2.0):
        label, ids = stride4_truth(record, stride)
        path = output_path(relations_dir, record["image_id"], ".png")
        if args.write_oracle:
            atomic_save_png(region_path(path), ids)
            atomic_save_png(path, label)
            continue
        relation = np.array(Image.open(path))
        regions = np.array(Image.open(region_path(path))) if os.path.isfile(region_path(path)) else None
        for k, v in relation_counts(relation, regions, label, ids).items():
            total[k] = total.get(k, 0) + v
    if not args.write_oracle:
        result = summarize_relation_counts(total)
        print(json.dumps(result, indent=2))
        return result
    print(f"ground-truth relations written to {relations_dir}")
    return None


if __name__ == "__main__":
    main()
