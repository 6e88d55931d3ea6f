#!/usr/bin/env bash
# Weak vs full supervision of a semantic segmentation model on the synthetic set: DeepLabV3+ R-18 trained on
# IRNet's pseudo semantic labels (configs/synthetic/deeplabv3plus_pseudo.yaml) and on the ground truth of the
# same 2,000 train images (deeplabv3plus_full.yaml), same model, start (the CAM stage's backbone) and schedule.
# Prints both val mIoU, their ratio, and the pseudo labels' own mIoU on the train images they label.
#   bash benchmarks/semantic_weak_vs_full.sh [WORK_DIR] [-- cfg opts...]
# WORK_DIR: a finished tools/generate_pseudo.py run of configs/synthetic/irnet_pseudo.yaml (cam/, semantic/;
# default output/synthetic/pseudo). Results under $OUT (default output/benchmarks/semantic_weak_vs_full).
# cfg opts go to both runs, e.g. -- SOLVER.MAX_ITER 500.
set -euo pipefail
cd "$(dirname "$0")/.."
work=output/synthetic/pseudo
if [[ $# -gt 0 && $1 != "--" ]]; then work=$1; shift; fi
if [[ $# -gt 0 && $1 == "--" ]]; then shift; fi
out=${OUT:-output/benchmarks/semantic_weak_vs_full}
[[ -d $work/semantic ]] || { echo "error: $work/semantic not found: run tools/generate_pseudo.py (stage semantic) first" >&2; exit 2; }
opts=(MODEL.CAM_BACKBONE_INIT "$work/cam/model_final.pth" "$@")
mkdir -p "$out"

for run in pseudo full; do
  if [[ -f $out/$run/metrics_table.json ]]; then echo "$run: done before ($out/$run/metrics_table.json)"; continue; fi
  start=$(date +%s)
  python tools/train_semantic.py --config-file "configs/synthetic/deeplabv3plus_$run.yaml" \
    DATASETS.SEMANTIC_PSEUDO_DIR "$work/semantic" OUTPUT_DIR "$out/$run" "${opts[@]}" > "$out/$run.stdout.log" 2>&1 \
    || { tail -n 20 "$out/$run.stdout.log" >&2; exit 1; }
  echo "$run: $(( $(date +%s) - start )) s (log $out/$run.stdout.log)"
done

python - "$work/semantic" "$out" "${opts[@]}" <<'EOF'
"""Both val mIoU, their ratio; the pseudo labels' mIoU on their train images (ground truth: the full run's TRAIN)."""
import json
import sys

from detectron2.data import DatasetCatalog

sys.path.insert(0, ".")
from irnet_wsis.data.builtin import register_from_cfg
from irnet_wsis.data.sem_seg import register_sem_seg_from_cfg
from irnet_wsis.evaluation.miou import SemanticConfusion
from irnet_wsis.evaluation.pseudo_quality import read_label_png
from irnet_wsis.config import setup_cfg
from irnet_wsis.semantic import add_semantic_config

semantic, out, opts = sys.argv[1], sys.argv[2], sys.argv[3:]
miou = {}
for run in ("pseudo", "full"):
    with open(f"{out}/{run}/metrics_table.json") as f:
        (name, result), = json.load(f).items()
    miou[run] = result["sem_seg"]["mIoU"]
cfg = setup_cfg("configs/synthetic/deeplabv3plus_full.yaml",
                ["DATASETS.SEMANTIC_PSEUDO_DIR", semantic, "DATASETS.SEMANTIC_SOURCE", "synthetic_voc_train_cls",
                 "DATASETS.TRAIN", "('pseudo_sem_seg_train', 'synthetic_voc_train_sem_seg')", "DATASETS.TEST", "()",
                 "OUTPUT_DIR", f"{out}/full"] + opts, add_configs=(add_semantic_config,))
register_from_cfg(cfg)
register_sem_seg_from_cfg(cfg)
pseudo, truth = (DatasetCatalog.get(n) for n in cfg.DATASETS.TRAIN)
truth = {r["file_name"]: r["sem_seg_file_name"] for r in truth}
confusion = SemanticConfusion(cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES - 1)
for r in pseudo:
    confusion.update(read_label_png(r["sem_seg_file_name"]), read_label_png(truth[r["file_name"]]))
print(f"| DeepLabV3+ trained on | mIoU on {name} |\n|:--|--:|")
print(f"| pseudo labels | {miou['pseudo']:.1f} |\n| ground truth | {miou['full']:.1f} |")
print(f"pseudo / full: {miou['pseudo'] / miou['full']:.3f}")
print(f"pseudo labels' own mIoU on the {len(pseudo)} train images they label: {100 * confusion.miou():.1f}")
EOF
