#!/usr/bin/env bash
# One row of the coco_mini CAM table (benchmarks/RESULTS.md, issue 9): train the CAM network on the
# coco_mini train photos, compute CAMs of the val photos with it, sweep the background threshold.
#   bash benchmarks/cam_coco_mini.sh WORK_DIR [CONFIG] [-- cfg opts...]
# e.g. bash benchmarks/cam_coco_mini.sh output/lite_exp/lse5 configs/efficientnet/lite0_coco_mini_pseudo.yaml \
#        -- MODEL.EFFICIENTNET.FREEZE_AT 5 MODEL.CAM.POOLING lse MODEL.CAM.POOLING_PARAM 5
# Writes WORK_DIR/{train,cams,eval}.log and WORK_DIR/val/eval (the sweep as markdown and json).
set -euo pipefail
work=${1:?usage: cam_coco_mini.sh WORK_DIR [CONFIG] [-- opts]}; shift
config=configs/efficientnet/lite0_coco_mini_pseudo.yaml
if [[ $# -gt 0 && $1 != "--" ]]; then config=$1; shift; fi
[[ $# -gt 0 && $1 == "--" ]] && shift
val=(DATASETS.TRAIN '("coco_mini_val_cls",)' PIPELINE.GT_DATASET coco_mini_val_instance)
mkdir -p "$work/val/cam"
python tools/generate_pseudo.py --config-file "$config" --stages train_cam PIPELINE.WORK_DIR "$work" "$@" \
  > "$work/train.log" 2>&1
cp "$work/cam/model_final.pth" "$work/val/cam/model_final.pth"
python tools/generate_pseudo.py --config-file "$config" --stages cams PIPELINE.WORK_DIR "$work/val" "${val[@]}" "$@" \
  > "$work/cams.log" 2>&1
python tools/eval_pseudo.py --config-file "$config" --tables cam --output "$work/val/eval" \
  PIPELINE.WORK_DIR "$work/val" "${val[@]}" "$@" > "$work/eval.log" 2>&1
grep -o '"val_mAP": [0-9.]*' "$work/summary.json" || true
grep -E '^\| 0\.' "$work/eval.log" | sort -t'|' -k3 -g -r | head -1  # best threshold, CAM mIoU
