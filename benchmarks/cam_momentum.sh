#!/usr/bin/env bash
# CAM stage under the authors' effective SGD momentum (1e-4) and under 0.9, same config otherwise:
# classification mAP on CAM_INFERENCE.VAL_DATASET and CAM mIoU (best background threshold) on the first
# N training images (PIPELINE.GT_DATASET).
#   bash benchmarks/cam_momentum.sh WORK_ROOT [CONFIG] [N] [-- opts]
# e.g. bash benchmarks/cam_momentum.sh output/momentum_os16 configs/synthetic/irnet_pseudo_os16.yaml 500 \
#        -- PIPELINE.CAM_SOLVER.MAX_ITER 300
# Writes WORK_ROOT/momentum_<m>/{summary.json,train.log,eval.log,eval/} and prints one row per momentum.
set -euo pipefail
root=${1:?usage: cam_momentum.sh WORK_ROOT [CONFIG] [N] [-- opts]}; shift
config=configs/synthetic/irnet_pseudo_os16.yaml; n=500
if [[ $# -gt 0 && $1 != "--" ]]; then config=$1; shift; fi
if [[ $# -gt 0 && $1 != "--" ]]; then n=$1; shift; fi
[[ $# -gt 0 && $1 == "--" ]] && shift
for m in 1e-4 0.9; do
  work="$root/momentum_$m"
  mkdir -p "$work"
  opts=(PIPELINE.WORK_DIR "$work" PIPELINE.MAX_IMAGES "$n" PIPELINE.CAM_SOLVER.MOMENTUM "$m" "$@")
  python tools/generate_pseudo.py --config-file "$config" --stages train_cam,cams "${opts[@]}" > "$work/train.log" 2>&1
  python tools/eval_pseudo.py --config-file "$config" --tables cam --output "$work/eval" "${opts[@]}" \
    > "$work/eval.log" 2>&1
  map=$(grep -o '"val_mAP": [0-9.]*' "$work/summary.json" | grep -o '[0-9.]*$' || echo "-")
  best=$(grep -E '^\| 0\.' "$work/eval.log" | sort -t'|' -k3 -g -r | head -1)
  echo "momentum $m | val mAP $map | CAM mIoU (threshold | mIoU) $best"
done
