#!/usr/bin/env bash
# One row of the coco_mini CAM table (benchmarks/RESULTS.md, issue 9): benchmarks/cam_val.sh on the coco_mini
# val photos (coco_mini_val_cls, ground truth coco_mini_val_instance).
#   bash benchmarks/cam_coco_mini.sh WORK_DIR [CONFIG] [-- cfg opts...]
# e.g. bash benchmarks/cam_coco_mini.sh output/lite_exp/lse5 configs/efficientnet/lite0_coco_mini_pseudo.yaml \
#        -- MODEL.EFFICIENTNET.FREEZE_AT 5 MODEL.CAM.POOLING lse MODEL.CAM.POOLING_PARAM 5
set -euo pipefail
work=${1:?usage: cam_coco_mini.sh WORK_DIR [CONFIG] [-- opts]}; shift
config=configs/efficientnet/lite0_coco_mini_pseudo.yaml
if [[ $# -gt 0 && $1 != "--" ]]; then config=$1; shift; fi
exec bash "$(dirname "$0")/cam_val.sh" "$work" "$config" coco_mini_val_cls "$@"
