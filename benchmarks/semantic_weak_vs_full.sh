#!/usr/bin/env bash
# Weak vs full supervision of a semantic segmentation model: DeepLabV3+ trained on IRNet's pseudo semantic labels
# (<CONFIGS>/deeplabv3plus_pseudo.yaml) and on the ground truth of the same train images (deeplabv3plus_full.yaml),
# same model, start and schedule. Prints each val set's mIoU, the ratio, and the pseudo labels' own mIoU on the
# train images they label.
#   bash benchmarks/semantic_weak_vs_full.sh [WORK_DIR] [-- cfg opts...]
# WORK_DIR: a finished tools/generate_pseudo.py run (default output/synthetic/pseudo); its semantic stage runs first
# when semantic/ is missing (the main job, tools/run_synthetic.sh, stops at the instance labels).
# CONFIGS (environment): the folder of the two configs, configs/synthetic (default: DeepLabV3+ R-18 started from
# WORK_DIR's CAM backbone, as no ImageNet ResNet is offline) or configs/coco (Lite0 from ImageNet, the 202
# coco_mini + coco_extra train photos, both val sets). Results under $OUT (default
# output/benchmarks/semantic_weak_vs_full). cfg opts go to both runs, e.g. -- SOLVER.MAX_ITER 500.
set -euo pipefail
cd "$(dirname "$0")/.."
work=output/synthetic/pseudo
if [[ $# -gt 0 && $1 != "--" ]]; then work=$1; shift; fi
if [[ $# -gt 0 && $1 == "--" ]]; then shift; fi
configs=${CONFIGS:-configs/synthetic}
out=${OUT:-output/benchmarks/semantic_weak_vs_full}
if [[ ! -d $work/semantic ]]; then
  # the main job stops at the instance labels: the semantic stage runs here, on the config the work dir was made with
  [[ -f $work/config.yaml ]] || { echo "error: $work/config.yaml not found: run tools/generate_pseudo.py first" >&2; exit 2; }
  python tools/generate_pseudo.py --config-file "$work/config.yaml" --stages semantic PIPELINE.WORK_DIR "$work"
fi
opts=(DATASETS.SEMANTIC_PSEUDO_DIR "$work/semantic")
# a config that starts from a CAM backbone (MODEL.CAM_BACKBONE_INIT, read from the merged config) starts from WORK_DIR's
cam_init=$(python -c 'import sys; sys.path.insert(0, "."); from irnet_wsis.config import setup_cfg
from irnet_wsis.semantic import add_semantic_config
print(setup_cfg(sys.argv[1], add_configs=(add_semantic_config,)).MODEL.CAM_BACKBONE_INIT)' "$configs/deeplabv3plus_pseudo.yaml")
if [[ -n $cam_init ]]; then opts+=(MODEL.CAM_BACKBONE_INIT "$work/cam/model_final.pth"); fi
opts+=("$@")
mkdir -p "$out"

for run in pseudo full; do
  if [[ -f $out/$run/metrics_table.json ]]; then echo "$run: done before ($out/$run/metrics_table.json)"; continue; fi
  start=$(date +%s)
  python tools/train_semantic.py --config-file "$configs/deeplabv3plus_$run.yaml" \
    OUTPUT_DIR "$out/$run" "${opts[@]}" > "$out/$run.stdout.log" 2>&1 \
    || { tail -n 20 "$out/$run.stdout.log" >&2; exit 1; }
  echo "$run: $(( $(date +%s) - start )) s (log $out/$run.stdout.log)"
done

python - "$configs" "$out" "${opts[@]}" <<'EOF'
"""Each val set's mIoU for both runs, their ratio; the pseudo labels' mIoU on the train images they label
(ground truth: the full run's DATASETS.TRAIN, drawn there into <out>/full/sem_seg_gt)."""
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

configs, out, opts = sys.argv[1], sys.argv[2], sys.argv[3:]
miou = {}
for run in ("pseudo", "full"):
    with open(f"{out}/{run}/metrics_table.json") as f:
        miou[run] = {name: result["sem_seg"]["mIoU"] for name, result in json.load(f).items()}
cfgs = {run: setup_cfg(f"{configs}/deeplabv3plus_{run}.yaml", opts + ["DATASETS.TEST", "()", "OUTPUT_DIR", f"{out}/{run}"],
                       add_configs=(add_semantic_config,)) for run in ("pseudo", "full")}
for cfg in cfgs.values():
    register_from_cfg(cfg)
    register_sem_seg_from_cfg(cfg)
pseudo = [r for name in cfgs["pseudo"].DATASETS.TRAIN for r in DatasetCatalog.get(name)]
truth = {r["file_name"]: r["sem_seg_file_name"] for name in cfgs["full"].DATASETS.TRAIN for r in DatasetCatalog.get(name)}
confusion = SemanticConfusion(cfgs["full"].MODEL.SEM_SEG_HEAD.NUM_CLASSES - 1)
for r in pseudo:
    confusion.update(read_label_png(r["sem_seg_file_name"]), read_label_png(truth[r["file_name"]]))
print("| val set | DeepLabV3+ on pseudo labels | on ground truth | pseudo / full |\n|:--|--:|--:|--:|")
for name, full in miou["full"].items():
    weak = miou["pseudo"][name]
    print(f"| {name} | {weak:.1f} | {full:.1f} | {weak / full:.3f} |")
print(f"pseudo labels' own mIoU on the {len(pseudo)} train images they label: {100 * confusion.miou():.1f}")
EOF
