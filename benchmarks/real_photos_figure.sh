#!/usr/bin/env bash
# The paper's Fig. 6 on real val photos: IRNet outputs and pseudo instances of the 135 coco_mini + coco_extra
# val photos with a VOC label, from a finished benchmarks/real_photos.sh work directory (its IRNet, and the
# val CAMs that its eval_pseudo.py --val wrote to WORK/pseudo/val/cams), then one figure of the first N val
# photos with two or more ground-truth instances of one class: image, CAMs, D, B, pseudo instances.
#   bash benchmarks/real_photos_figure.sh [WORK] [N] [-- cfg opts used for WORK]
# CFG= the pseudo-label config WORK ran with (default configs/coco/lite2_pseudo.yaml, as benchmarks/real_photos.sh).
# Writes WORK/pseudo/val/{irnet_out,pseudo,figures} and docs/figures/real_photos_val.png (FIGURE= to change).
# Without WORK/pseudo/val/cams (no eval_pseudo.py --val run) only IRNet's outputs are drawn: image, D, B.
set -euo pipefail
cd "$(dirname "$0")/.."
work=output/real_photos; n=4
if [[ $# -gt 0 && $1 != "--" ]]; then work=$1; shift; fi
if [[ $# -gt 0 && $1 != "--" ]]; then n=$1; shift; fi
[[ $# -gt 0 && $1 == "--" ]] && shift
cfg=${CFG:-configs/coco/lite2_pseudo.yaml}
val_w=$work/pseudo/val
figure=${FIGURE:-docs/figures/real_photos_val.png}
[[ -e $work/pseudo/irnet ]] || { echo "error: $work/pseudo/irnet not found: run benchmarks/real_photos.sh $work first" >&2; exit 2; }
stages=irnet_outputs,synthesis
if [[ ! -d $val_w/cams ]]; then
  # an IRNet work directory without the val CAMs (e.g. one trained on ground-truth relations): D and B only
  echo "[real_photos_figure] $val_w/cams not found: image, D and B only (no CAMs, no pseudo instances)" >&2
  stages=irnet_outputs
fi
mkdir -p "$val_w"
[[ -e $val_w/irnet ]] || ln -s "$(realpath "$work/pseudo/irnet")" "$val_w/irnet"
sets=(DATASETS.TRAIN '("coco_mini_val_cls", "coco_extra_val_cls")'
      PIPELINE.GT_DATASET "coco_mini_val_instance,coco_extra_val_instance")
python tools/generate_pseudo.py --config-file "$cfg" --stages $stages PIPELINE.WORK_DIR "$val_w" \
  "${sets[@]}" "$@" > "$val_w/generate.log" 2>&1
ids=$(python - "$n" <<'PY'
"""The first N val photos (weak ids, as the work directory keys them) with >= 2 ground-truth instances of a class."""
import collections
import os
import sys

sys.path.insert(0, ".")
from detectron2.data import DatasetCatalog

from irnet_wsis.data.builtin import concat_dataset_dicts

weak = concat_dataset_dicts(["coco_mini_val_cls", "coco_extra_val_cls"])
crowded = set()
for name in ("coco_mini_val_instance", "coco_extra_val_instance"):
    for r in DatasetCatalog.get(name):
        counts = collections.Counter(a["category_id"] for a in r.get("annotations", []) if not a.get("iscrowd", 0))
        if counts and max(counts.values()) >= 2:
            crowded.add(os.path.basename(r["file_name"]))
print(" ".join([r["image_id"] for r in weak if os.path.basename(r["file_name"]) in crowded][: int(sys.argv[1])]))
PY
)
ids=$(tail -n 1 <<< "$ids")  # pycocotools prints while loading
python tools/visualize_pseudo.py --config-file "$cfg" --images $ids --stack "$figure" \
  --opts PIPELINE.WORK_DIR "$val_w" "${sets[@]}" "$@"
