#!/usr/bin/env python
"""Where the main job's time goes: one stacked bar per finished `tools/run_synthetic.sh` work directory, one
segment per stage (the pseudo-label stages' seconds from <W>/pseudo/summary.json; Mask R-CNN's from the first
and last timestamps of <W>/mask_rcnn_pseudo/log.txt: training and evaluation), the total at the end. Prints
the same figures as a markdown table.

    python benchmarks/stage_times_figure.py --runs "float32=W1" "bfloat16=W2" --output docs/figures/x.png
"""
import argparse
import json
import os
import re
from datetime import datetime

STAGES = ("train_cam", "cams", "relations", "train_irnet", "irnet_outputs", "synthesis", "export", "semantic")
LOG_TIME = re.compile(r"^\[(\d\d/\d\d \d\d:\d\d:\d\d)[\] ]")


def detectron2_log_seconds(path):
    """Seconds between the first and the last timestamped line of a Detectron2 log.txt (same year assumed)."""
    times = []
    with open(path) as f:
        for line in f:
            m = LOG_TIME.match(line)
            if m:
                times.append(datetime.strptime(m.group(1), "%m/%d %H:%M:%S"))
    if len(times) < 2:
        raise ValueError(f"{path}: fewer than two timestamped lines")
    return (times[-1] - times[0]).total_seconds()


def stage_seconds(work):
    """{stage: seconds} of a main-job work directory, Mask R-CNN last."""
    with open(os.path.join(work, "pseudo", "summary.json")) as f:
        summary = json.load(f)
    seconds = {s: float(summary[s]["wall_seconds"]) for s in STAGES if s in summary}
    seconds["Mask R-CNN"] = detectron2_log_seconds(os.path.join(work, "mask_rcnn_pseudo", "log.txt"))
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="LABEL=WORK_DIR, one per bar")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(label, stage_seconds(work)) for label, work in (r.split("=", 1) for r in args.runs)]
    names = list(STAGES) + ["Mask R-CNN"]
    print("| stage | " + " | ".join(label for label, _ in runs) + " |\n|---|" + "---|" * len(runs))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{s.get(name, 0):.0f}" for _, s in runs) + " |")
    print("| total | " + " | ".join(f"{sum(s.values()):.0f}" for _, s in runs) + " |")

    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.7 * len(runs)))
    colors = plt.get_cmap("tab10").colors
    for row, (label, seconds) in enumerate(runs):
        left = 0.0
        for i, name in enumerate(names):
            width = seconds.get(name, 0.0)
            ax.barh(row, width, left=left, color=colors[i % 10], label=name if row == 0 else None)
            if width > 60:
                ax.text(left + width / 2, row, f"{width:.0f}", ha="center", va="center", fontsize=7)
            left += width
        ax.text(left + 20, row, f"{left / 60:.1f} min", va="center", fontsize=9)
    ax.set_yticks(range(len(runs)), [label for label, _ in runs])
    ax.invert_yaxis()
    ax.set_xlabel("seconds (2 CPU cores)")
    ax.set_xlim(0, max(sum(s.values()) for _, s in runs) * 1.15)
    ax.legend(ncol=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35 - 0.1 / len(runs)))
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(args.output, dpi=120, bbox_inches="tight")
    print(f"figure: {args.output}")


if __name__ == "__main__":
    main()
