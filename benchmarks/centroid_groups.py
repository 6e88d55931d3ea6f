#!/usr/bin/env python
"""How many instances the displacement field can make: centroid groups per image of a work directory's IRNet
outputs, as the full method's synthesis finds them (irnet_wsis.evaluation.irnet_quality.centroid_groups).

    python benchmarks/centroid_groups.py --config-file configs/coco/lite0_pseudo.yaml PIPELINE.WORK_DIR W

Prints one json line: images, images with 1 group (D split nothing there) and with 2 or more, the mean.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    from irnet_wsis.cli import load_cfg
    from irnet_wsis.data.builtin import register_from_cfg
    from irnet_wsis.engine.per_image import output_path
    from irnet_wsis.engine.work_dir import load_mean_displacement, load_npz, stage_records, work_paths
    from irnet_wsis.evaluation.irnet_quality import centroid_groups

    cfg = load_cfg(args.config_file, args.opts)
    register_from_cfg(cfg)
    paths = work_paths(cfg)
    mean = load_mean_displacement(cfg)
    groups = []
    for record in stage_records(cfg):
        image_id = record["image_id"]
        out = load_npz(output_path(paths["irnet_out"], image_id, ".npz"), image_id, "IRNet outputs")
        cam_max = None
        if cfg.SYNTHESIS.CENTROID_RULE == "landing":
            cams = load_npz(output_path(paths["cams"], image_id, ".npz"), image_id, "CAMs")
            cam_max = torch.from_numpy(cams["cam_stride4"].astype(np.float32)).max(dim=0).values
        groups.append(centroid_groups(cfg, torch.from_numpy(out["displacement"]), mean, cam_max))
    groups = np.array(groups)
    print(json.dumps({"images": len(groups), "one_group": int((groups == 1).sum()),
                      "two_or_more": int((groups >= 2).sum()), "mean_groups": round(float(groups.mean()), 2)}))


if __name__ == "__main__":
    main()
