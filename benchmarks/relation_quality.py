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
--oracle-within MINED_WORK_DIR keeps that ground truth only on the cells that MINED_WORK_DIR's relation labels
label (a class or background), 255 and no region elsewhere: the mined labels' coverage with the truth's values,
which tells what the mined labels' coverage costs IRNet from what their errors cost it. With --mined-labels
the relation labels are MINED_WORK_DIR's own and only the instance regions come from the truth (its instances on
the cells the mined labels give a class): what the mined regions cost IRNet apart from the labels.

    python benchmarks/relation_quality.py --config-file configs/coco/lite0_pseudo.yaml PIPELINE.WORK_DIR W
    python benchmarks/relation_quality.py --config-file ... --write-oracle PIPELINE.WORK_DIR W_oracle
    python benchmarks/relation_quality.py --config-file ... --write-oracle --oracle-within W PIPELINE.WORK_DIR W_cover
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
    parser.add_argument("--oracle-within", default="", metavar="MINED_WORK_DIR",
                        help="with --write-oracle: the truth only where this work directory's relations label a cell")
    parser.add_argument("--mined-labels", action="store_true",
                        help="with --oracle-within: its relation labels, the truth's instance regions")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.oracle_within and not args.write_oracle:
        parser.error("--oracle-within needs --write-oracle")
    if args.mined_labels and not args.oracle_within:
        parser.error("--mined-labels needs --oracle-within")
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    relations_dir = work_paths(cfg)["relations"]
    stride = cfg.RELATIONS.OUTPUT_STRIDE
    total = {}
    for record in tqdm(gt_records(cfg, args.num_images), desc="relations vs truth", mininterval=2.0):
        label, ids = stride4_truth(record, stride)
        path = output_path(relations_dir, record["image_id"], ".png")
        if args.write_oracle:
            if args.oracle_within:
                mined = np.array(Image.open(output_path(os.path.join(args.oracle_within, "relations"),
                                                       record["image_id"], ".png")))
                if mined.shape != label.shape:
                    raise SystemExit(f"error: {args.oracle_within} relations of {record['image_id']}: size "
                                     f"{mined.shape} != stride-{stride} truth {label.shape}")
                if args.mined_labels:
                    label, ids = mined, np.where((mined > 0) & (mined < 255), ids, 0).astype(np.uint8)
                else:
                    label = np.where(mined == 255, 255, label).astype(np.uint8)
                    ids = np.where(mined == 255, 0, ids).astype(np.uint8)
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
