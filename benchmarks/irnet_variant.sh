#!/usr/bin/env bash
# Train IRNet on a finished work directory's CAM network and relation labels with extra options, in a new
# work directory that links them, then measure it on held-out images (benchmarks/irnet_quality.py: B on
# class boundaries against inside objects, centroid count, landing error of D) and print the IRNet losses
# at the first and last logged iterations.
#   bash benchmarks/irnet_variant.sh SOURCE_WORK_DIR NEW_WORK_DIR CONFIG VAL_INSTANCE_DATASET N_VAL [-- opts]
# e.g. bash benchmarks/irnet_variant.sh output/coco_oracle output/coco_oracle_rc configs/coco/lite0_pseudo.yaml \
#        coco_mini_val_instance 64 -- MODEL.IRNET.DISP_PAIRS_WITHIN instance MODEL.IRNET.LOSS_WEIGHT_DISP_REGION_CENTROID 3.0
set -euo pipefail
src=${1:?usage: irnet_variant.sh SOURCE_WORK_DIR NEW_WORK_DIR CONFIG VAL_INSTANCE_DATASET N_VAL [-- opts]}
work=$2; config=$3; val=$4; n_val=$5; shift 5
[[ $# -gt 0 && $1 == "--" ]] && shift
mkdir -p "$work"
for d in cam relations; do
  [[ -e "$work/$d" ]] || ln -s "$(realpath "$src/$d")" "$work/$d"
done
python tools/generate_pseudo.py --config-file "$config" --stages train_irnet PIPELINE.WORK_DIR "$work" "$@" \
  > "$work/train_irnet.log" 2>&1
python benchmarks/irnet_quality.py --config-file "$config" --dataset "$val" --num-images "$n_val" \
  PIPELINE.WORK_DIR "$work" "$@" > "$work/quality.json" 2> "$work/quality.log"
python - "$work" <<'PY'
import json, sys
work = sys.argv[1]
rows = [json.loads(line) for line in open(f"{work}/irnet/metrics.json") if "loss_disp_fg" in line]
first, last = rows[0], rows[-1]
keys = [k for k in first if k.startswith("loss_")]
print("losses (iteration %d -> %d): " % (first["iteration"], last["iteration"])
      + ", ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in keys))
text = open(f"{work}/quality.json").read()
q = json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)  # after pycocotools lines
land = q["landing_error_cells"]
print(f"B ratio {q['boundary_ratio']:.2f}; centroid count exact {100 * q['centroid_count_exact_share']:.1f}% "
      f"(under {q['centroid_count_under']}, over {q['centroid_count_over']}); landing error (stride-4 cells) "
      + ", ".join(f"{g} {v['D']:.2f} (D=0: {v['D=0']:.2f}, n={v['instances']})" for g, v in land.items() if v["D"] is not None))
PY
