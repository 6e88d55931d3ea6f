#!/usr/bin/env bash
# Eq. 10 reads of D (bilinear as the authors' code, or the rounded cell) x centroid-group connectivity
# (4 as the authors' code, or 8), and 300 refinement iterations (the code) against 100 (the paper), on one
# finished work directory: Table 1 on the first N_TRAIN training images (tools/eval_pseudo.py) and the
# exact centroid count on N_VAL val images (benchmarks/irnet_quality.py). Only the synthesis changes, so stages 1-3 are shared.
#   bash benchmarks/centroid_variants.sh WORK_DIR [CONFIG] [N_TRAIN] [N_VAL] [-- extra opts]
# e.g. bash benchmarks/centroid_variants.sh output/synthetic/pseudo configs/synthetic/irnet_pseudo.yaml 500 300
set -euo pipefail
work=${1:?usage: centroid_variants.sh WORK_DIR [CONFIG] [N_TRAIN] [N_VAL] [-- opts]}; shift
config=configs/synthetic/irnet_pseudo.yaml; n_train=500; n_val=300
if [[ $# -gt 0 && $1 != "--" ]]; then config=$1; shift; fi
if [[ $# -gt 0 && $1 != "--" ]]; then n_train=$1; shift; fi
if [[ $# -gt 0 && $1 != "--" ]]; then n_val=$1; shift; fi
[[ $# -gt 0 && $1 == "--" ]] && shift
echo "| Eq. 10 read | connectivity | iterations | Table 1 full AP^r_50 / AP^r_70 ($n_train train) | centroid count exact ($n_val val; under / over) |"
echo "|---|---|---|---|---|"
for variant in "nearest 8 100" "nearest 4 100" "bilinear 8 100" "bilinear 4 100" "bilinear 4 300"; do
  read -r sampling conn iters <<< "$variant"
  opts=(PIPELINE.WORK_DIR "$work" SYNTHESIS.REFINE_SAMPLING "$sampling" SYNTHESIS.CENTROID_CONNECTIVITY "$conn"
        SYNTHESIS.REFINE_ITERATIONS "$iters" "$@")
  out="$work/eval_variants/${sampling}_${conn}_$iters"
  mkdir -p "$out"
  python tools/eval_pseudo.py --config-file "$config" --tables table1 --max-images "$n_train" --output "$out" \
    "${opts[@]}" > "$out/table1.log" 2>&1
  python benchmarks/irnet_quality.py --config-file "$config" --num-images "$n_val" "${opts[@]}" \
    > "$out/quality.json" 2> "$out/quality.log"
  python - "$out" "$sampling" "$conn" "$iters" <<'PY'
import json, sys
out, sampling, conn, iters = sys.argv[1:]
t1 = json.load(open(f"{out}/table1.json"))["full"]
text = open(f"{out}/quality.json").read()
q = json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)  # after pycocotools lines
print(f"| {sampling} | {conn} | {iters} | {t1['AP50r']:.1f} / {t1['AP70r']:.1f} | "
      f"{100 * q['centroid_count_exact_share']:.1f}% ({q['centroid_count_under']} / {q['centroid_count_over']}) |")
PY
done
