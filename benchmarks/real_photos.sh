#!/usr/bin/env bash
# The real-photo benchmark: every stage on the 202 coco_mini + coco_extra train photos with a VOC label
# (configs/coco/lite2_pseudo.yaml; CFG=configs/coco/lite0_pseudo.yaml for Lite0), the paper's Tables 1 and 2
# on those train photos, the CAM sweep on the 135 val photos with a VOC label, and Mask R-CNN
# (configs/coco/lite0_mask_rcnn.yaml) trained three ways on the same train photos (the CAM row's labels, the
# full method's labels, the ground-truth masks) and evaluated on the 165 val photos. Prints one table at the end.
#   bash benchmarks/real_photos.sh [WORK] [-- cfg opts of the pseudo-label config]
# e.g. bash benchmarks/real_photos.sh output/real_photos -- MODEL.IRNET.TEST_SCALE 0.75
# MASK_OPTS="SOLVER.MAX_ITER 2" (environment) adds overrides to the three Mask R-CNN runs. MASK_TRAININGS=N trains each
# row N times (WORK/mask_rcnn_<row>, then _2 .. _N; a training with its metrics already there is kept) and prints
# every training and each row's mean: at 500 iterations trainings on one label set differ by up to 9.6 AP^r_50
# (2026-12-06). The n-th training of every row runs with SEED n, so the three rows of one n share the heads'
# initialisation and the random stream of the loader's order and augmentation.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/allocator.sh
work=output/real_photos
if [[ $# -gt 0 && $1 != "--" ]]; then work=$1; shift; fi
[[ $# -gt 0 && $1 == "--" ]] && shift
cfg=${CFG:-configs/coco/lite2_pseudo.yaml}
mrcnn=configs/coco/lite0_mask_rcnn.yaml
read -r -a mask_opts <<< "${MASK_OPTS:-}"
trainings=${MASK_TRAININGS:-1}
mkdir -p "$work"
# every line says the wall clock since the start (bash's SECONDS): where the 90 minutes go on this machine
log() { printf '[real_photos] %d:%02d:%02d %s\n' $((SECONDS / 3600)) $((SECONDS / 60 % 60)) $((SECONDS % 60)) "$*"; }

log "stages 1-5 -> $work/pseudo"
python tools/generate_pseudo.py --config-file "$cfg" PIPELINE.WORK_DIR "$work/pseudo" "$@" > "$work/generate.log" 2>&1
log "Tables 1 and 2, CAM sweep on the train photos -> $work/pseudo/eval"
python tools/eval_pseudo.py --config-file "$cfg" PIPELINE.WORK_DIR "$work/pseudo" "$@" > "$work/eval_train.log" 2>&1
log "CAM sweep on the val photos -> $work/pseudo/val/eval"
python tools/eval_pseudo.py --config-file "$cfg" --val coco_mini_val_cls,coco_extra_val_cls PIPELINE.WORK_DIR \
  "$work/pseudo" "$@" > "$work/eval_val.log" 2>&1
log "the CAM row's labels -> $work/pseudo_cam"
mkdir -p "$work/pseudo_cam"
[[ -e "$work/pseudo_cam/cams" ]] || ln -s "$(realpath "$work/pseudo/cams")" "$work/pseudo_cam/cams"
python tools/generate_pseudo.py --config-file "$cfg" --stages synthesis,export PIPELINE.WORK_DIR "$work/pseudo_cam" \
  SYNTHESIS.METHOD cam "$@" > "$work/generate_cam.log" 2>&1

for n in $(seq 1 "$trainings"); do
  suffix=$([[ $n -gt 1 ]] && echo "_$n" || true)
  for labels in full_method cam_row ground_truth; do
    out=$work/mask_rcnn_$labels$suffix
    [[ -f $out/metrics_table.json ]] && { log "Mask R-CNN on $labels: $out has its metrics, kept"; continue; }
    log "Mask R-CNN on $labels -> $out"
    case $labels in
      full_method) train=(DATASETS.PSEUDO_JSON "$work/pseudo/pseudo_coco.json") ;;
      cam_row) train=(DATASETS.PSEUDO_JSON "$work/pseudo_cam/pseudo_coco.json") ;;
      ground_truth) train=(DATASETS.TRAIN '("coco_mini_train_instance", "coco_extra_train_instance")') ;;
    esac
    python tools/train_net.py --config-file "$mrcnn" "${train[@]}" OUTPUT_DIR "$out" SEED "$n" "${mask_opts[@]}" \
      > "$out.log" 2>&1
  done
done

log "done"
python - "$work" <<'PY'
import glob
import json
import os
import statistics
import sys

work = sys.argv[1]
table1 = json.load(open(f"{work}/pseudo/eval/table1.json"))
table2 = json.load(open(f"{work}/pseudo/eval/table2.json"))
val_sweep = json.load(open(f"{work}/pseudo/val/eval/cam_threshold_sweep.json"))
print(f"\nReal photos ({work}); Tables 1 and 2 on the {table1['images']} train photos")
print("| Table 1 (AP^r_50 / AP^r_70) | CAM | CAM + Class Boundary | full method |")
print("|---|---|---|---|")
print("| train photos | " + " | ".join(f"{table1[m]['AP50r']:.1f} / {table1[m]['AP70r']:.1f}"
                                     for m in ("cam", "boundary", "full")) + " |")
print(f"\nTable 2 (mIoU): CAM {table2['cam']:.1f} -> propagated {table2['irnet']:.1f}; "
      f"CAM mIoU on the {val_sweep['images']} val photos {val_sweep['best_miou']:.1f} "
      f"(background {val_sweep['best_threshold']:.2f})")
print("\n| Mask R-CNN trained on | val set | AP^r_50 | AP^r_70 | segm AP |")
print("|---|---|---|---|---|")
by_training = {}  # (labels, training name suffix, dataset) -> [AP^r_50, AP^r_70, segm AP]
for labels in ("cam_row", "full_method", "ground_truth"):
    paths = sorted(glob.glob(f"{work}/mask_rcnn_{labels}/metrics_table.json")
                   + glob.glob(f"{work}/mask_rcnn_{labels}_*/metrics_table.json"))
    if not paths:
        print(f"| {labels} | (no result) | | | |")
        continue
    rows = {}
    for path in paths:
        for dataset, res in json.load(open(path)).items():
            apr, segm = res.get("segm_apr", {}), res.get("segm", {})
            row = [apr.get("AP50r", float("nan")), apr.get("AP70r", float("nan")), segm.get("AP", float("nan"))]
            rows.setdefault(dataset, []).append(row)
            name = os.path.basename(os.path.dirname(path))[len("mask_rcnn_"):]
            by_training[labels, name[len(labels):], dataset] = row
            print(f"| {name} | {dataset} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    if len(paths) > 1:
        for dataset, values in rows.items():
            mean = [statistics.fmean(v) for v in zip(*values)]
            print(f"| **{labels}, mean of {len(values)}** | {dataset} | " + " | ".join(f"{v:.1f}" for v in mean) + " |")
# full method minus CAM row, paired by training (the n-th of each row share SEED n)
pairs = {}
for (labels, suffix, dataset), full in by_training.items():
    if labels == "full_method" and ("cam_row", suffix, dataset) in by_training:
        cam = by_training["cam_row", suffix, dataset]
        pairs.setdefault(dataset, []).append([f - c for f, c in zip(full[:2], cam[:2])])
if any(len(d) > 1 for d in pairs.values()):
    print("\n| full method minus CAM row, paired by training | val set | AP^r_50: mean (s.e.), ahead | AP^r_70 |")
    print("|---|---|---|---|")
    for dataset, diffs in pairs.items():
        cells = []
        for column in zip(*diffs):
            n = len(column)
            se = statistics.stdev(column) / n ** 0.5 if n > 1 else float("nan")
            cells.append(f"{statistics.fmean(column):+.1f} ({se:.1f}), {sum(d > 0 for d in column)} of {n}")
        print(f"| {len(diffs)} pairs | {dataset} | " + " | ".join(cells) + " |")
PY
