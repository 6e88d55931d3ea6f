#!/usr/bin/env bash
# CAM network on a val set: train it on the config's DATASETS.TRAIN (classification mAP on VAL_CLS), then
# compute the CAMs of VAL_CLS's photos and sweep the background threshold against their masks
# (tools/eval_pseudo.py --val). One row of a CAM table (benchmarks/RESULTS.md).
#   bash benchmarks/cam_val.sh WORK_DIR CONFIG VAL_CLS [-- cfg opts...]
# VAL_CLS: weak *_cls set(s), comma-separated; the ground truth is the *_instance twin of each.
# e.g. bash benchmarks/cam_val.sh output/lite_exp/mydata configs/my_lite0.yaml mydata_val_cls
# Writes WORK_DIR/{train,eval}.log, WORK_DIR/val/cams and WORK_DIR/val/eval (the sweep as markdown and json);
# prints the val mAP and the best threshold's row (threshold, CAM mIoU).
set -euo pipefail
usage="usage: cam_val.sh WORK_DIR CONFIG VAL_CLS [-- opts]"
work=${1:?$usage}; config=${2:?$usage}; val=${3:?$usage}; shift 3
[[ $# -gt 0 && $1 == "--" ]] && shift
mkdir -p "$work"
logged() {  # logged LOG command...: output to LOG; on failure its last lines on stderr
  local log=$1; shift
  "$@" > "$log" 2>&1 || { tail -n 3 "$log" >&2; exit 1; }
}
logged "$work/train.log" python tools/generate_pseudo.py --config-file "$config" --stages train_cam \
  PIPELINE.WORK_DIR "$work" CAM_INFERENCE.VAL_DATASET "$val" "$@"
logged "$work/eval.log" python tools/eval_pseudo.py --config-file "$config" --val "$val" PIPELINE.WORK_DIR "$work" "$@"
grep -o '"val_mAP": [0-9.]*' "$work/summary.json" || true
grep -E '^\| 0\.' "$work/eval.log" | sort -t'|' -k3 -g -r | head -1  # best threshold, CAM mIoU
