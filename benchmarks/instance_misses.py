"""Why pseudo instances miss ground-truth ones: a per-instance diagnosis of the Table 1 rows.

    python benchmarks/instance_misses.py --config-file configs/synthetic/irnet_pseudo.yaml --num-images 300 \\
        PIPELINE.WORK_DIR output/synthetic/pseudo [SYNTHESIS.* opts]

For each Table 1 method (cam, boundary, full) and each ground-truth instance of the first N training
images: "hit" when a pseudo instance of its class (score > 0) has IoU >= 0.5; otherwise the best one of its
class decides the kind of miss: "merged" (it also covers > 30% of another instance of the class), "big" /
"small" (larger / smaller than the instance), or "none" (no pseudo instance of the class overlaps it).
Instances are "touching" when a same-class instance lies within ``--touch-px`` pixels (the void band
around every object keeps true neighbours a few pixels apart), else "alone". Prints one json line per method,
with the number of pseudo instances the method made (``pseudo_instances``).
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


import irnet_wsis.data.builtin as builtin  # noqa: E402
from irnet_wsis.config import setup_cfg  # noqa: E402
from irnet_wsis.engine.stages import synthesize_record  # noqa: E402
from irnet_wsis.engine.work_dir import gt_records, load_mean_displacement  # noqa: E402
from irnet_wsis.evaluation.apr import decode_rle  # noqa: E402
from irnet_wsis.evaluation.instance_misses import classify_misses  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--num-images", type=int, default=300)
    parser.add_argument("--touch-px", type=int, default=4)
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cfg = setup_cfg(args.config_file, args.opts)
    builtin.register_from_cfg(cfg)
    records = gt_records(cfg, args.num_images)
    mean_d = load_mean_displacement(cfg)
    for method in ("cam", "boundary", "full"):
        counts = collections.Counter()
        for record in records:
            gts = [(a["category_id"], decode_rle(a["segmentation"])) for a in record["annotations"]]
            pseudo = synthesize_record(cfg, record, method=method, mean_displacement=mean_d)
            counts += classify_misses(gts, pseudo, args.touch_px)
            counts["pseudo_instances"] += len(pseudo)
        print(json.dumps({"method": method, "images": len(records), **dict(sorted(counts.items()))}))


if __name__ == "__main__":
    main()
