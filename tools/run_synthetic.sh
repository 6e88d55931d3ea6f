#!/usr/bin/env bash
# The main job: the whole weak-to-full pipeline on the built-in synthetic dataset.
#   1-5. tools/generate_pseudo.py : CAM -> relations -> IRNet -> pseudo masks -> COCO json
#   6-7. tools/train_net.py       : Mask R-CNN on the pseudo json, AP^r_50 / AP^r_70 on synthetic val
# FULL=1 also trains the fully supervised upper bound (ground-truth masks) for comparison.
# SEMANTIC=1 also makes the pseudo semantic labels (stage semantic: Table 2, DeepLab's training labels); later,
# `python tools/generate_pseudo.py --config-file configs/synthetic/irnet_pseudo.yaml --stages semantic
# PIPELINE.WORK_DIR $WORK/pseudo` makes them from the finished stages.
# Extra arguments are passed to both tools as config overrides (KEY VALUE ...).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-output/synthetic}
STAGES=train_cam,cams,relations,train_irnet,irnet_outputs,synthesis,export
if [ "${SEMANTIC:-0}" = "1" ]; then STAGES+=,semantic; fi
python tools/generate_pseudo.py --config-file configs/synthetic/irnet_pseudo.yaml --stages "$STAGES" \
  PIPELINE.WORK_DIR "$WORK/pseudo" "$@"
# Mask R-CNN's ResNet starts from this run's CAM backbone (no ImageNet weights offline)
CAM_INIT=(MODEL.CAM_BACKBONE_INIT "$WORK/pseudo/cam/model_final.pth")
python tools/train_net.py --config-file configs/synthetic/mask_rcnn_pseudo.yaml \
  DATASETS.PSEUDO_JSON "$WORK/pseudo/pseudo_coco.json" OUTPUT_DIR "$WORK/mask_rcnn_pseudo" "${CAM_INIT[@]}" "$@"
if [ "${FULL:-0}" = "1" ]; then
  python tools/train_net.py --config-file configs/synthetic/mask_rcnn_full.yaml \
    OUTPUT_DIR "$WORK/mask_rcnn_full" "${CAM_INIT[@]}" "$@"
fi
python tools/report.py "$WORK"
echo "main job: ${SECONDS} s in all (pseudo labels and Mask R-CNN)"
