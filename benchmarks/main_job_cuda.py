#!/usr/bin/env python
"""The main job (tools/run_synthetic.sh) on a CUDA device, with the time of every stage.

    python benchmarks/main_job_cuda.py [--work output/synthetic_cuda] [KEY VALUE ...]

Runs tools/generate_pseudo.py and tools/train_net.py with MODEL.DEVICE cuda, then prints the per-stage
seconds (the work directory's summary.json), Mask R-CNN's seconds and the total. On a machine without a
CUDA device it says so in one line and exits with status 3, having run nothing.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
NO_CUDA_EXIT = 3
MAIN_JOB_STAGES = "train_cam,cams,relations,train_irnet,irnet_outputs,synthesis,export"  # tools/run_synthetic.sh's


def cuda_device_name():
    """The first CUDA device's name, or None when torch sees none."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return round(time.perf_counter() - start, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="output/synthetic_cuda")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides for both tools")
    args = parser.parse_args(argv)
    device = cuda_device_name()
    if device is None:
        print("main_job_cuda: no CUDA device visible to torch (torch.cuda.is_available() is False); "
              "run it on a machine with a GPU, or bash tools/run_synthetic.sh on the CPU", file=sys.stderr)
        return NO_CUDA_EXIT
    opts = ["MODEL.DEVICE", "cuda", *args.opts]
    pseudo = os.path.join(args.work, "pseudo")
    seconds = {"generate_pseudo": timed([sys.executable, "tools/generate_pseudo.py", "--config-file",
                                         "configs/synthetic/irnet_pseudo.yaml", "--stages", MAIN_JOB_STAGES,
                                         "PIPELINE.WORK_DIR", pseudo, *opts])}
    seconds["mask_rcnn"] = timed([sys.executable, "tools/train_net.py", "--config-file",
                                  "configs/synthetic/mask_rcnn_pseudo.yaml",
                                  "DATASETS.PSEUDO_JSON", os.path.join(pseudo, "pseudo_coco.json"),
                                  "OUTPUT_DIR", os.path.join(args.work, "mask_rcnn_pseudo"),
                                  "MODEL.CAM_BACKBONE_INIT", os.path.join(pseudo, "cam", "model_final.pth"), *opts])
    with open(os.path.join(ROOT, pseudo, "summary.json")) as f:
        stages = json.load(f)
    print(f"main job on {device}")
    print("| stage | seconds |\n|---|---|")
    for name, summary in stages.items():
        print(f"| {name} | {summary.get('wall_seconds', '')} |")
    print(f"| Mask R-CNN (train + eval) | {seconds['mask_rcnn']} |")
    print(f"| total | {sum(seconds.values()):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
