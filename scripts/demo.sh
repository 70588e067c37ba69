#!/usr/bin/env bash
# The main job on the embedded synthetic dataset, from a fresh clone: set-up included.
# synth -> inspect -> build (pipelines/demo.yaml) -> verify -> preview -> train (short, CPU) -> evaluate -> compare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
export PYTHONUNBUFFERED=1

DEMO=${DEMO_DIR:-demo}
ITER=${DEMO_ITERATIONS:-200}
# Small widths and P x K = 4 x 2 clips of 30 frames (K >= 2: triplet positives are copies of one id):
# about 2.5 minutes per model on an idle 2-core CPU.
# benchmarks/learning_spread.py shows how the test macro-F1 of this recipe moves with the seeds.
TRAIN_OPTS=(--recipe adamw-cosine --lr 2e-3 --iterations "$ITER" --batch 4,2 --frames 30 --widths 8,16,32,64
            --class-weights inverse-frequency --seed 0 --log-every 50 --save-every "$ITER" --device cpu)
step() { printf '\n== %s\n' "$*" >&2; }

step "1. synthetic release (150 sequences, 4 layouts, partition 1:1:4)"
rm -rf "$DEMO"
gaitprep synth --out "$DEMO/synth" --sequences 150 --frames 30-40 --size 320x180 --seed 0 --ratio 1:1:4 --workers 2

step "2. inspect"
gaitprep inspect "$DEMO/synth" --partition "$DEMO/synth/Scoliosis1K_114.json" --quiet

step "3. build datasets from the recipe (and once more: nothing to do)"
gaitprep run pipelines/demo.yaml --data-root "$DEMO" --workers 2
gaitprep run pipelines/demo.yaml --data-root "$DEMO" --workers 2

step "4. verify every dataset (files and array digests)"
for ds in skeleton-maps pav silhouettes; do
  gaitprep verify-manifest "$DEMO/datasets/$ds" --content
done
gaitprep list "$DEMO/datasets"

step "5. preview"
gaitprep preview "$DEMO/datasets/skeleton-maps" --out "$DEMO/preview.png"

step "6. train ScoNet-MT-ske briefly on CPU, then evaluate on the test split"
gaitmodels train --manifest "$DEMO/datasets/skeleton-maps" --model sconet-mt-ske "${TRAIN_OPTS[@]}" --out "$DEMO/runs/sconet-mt-ske"
gaitmodels evaluate --checkpoint "$DEMO/runs/sconet-mt-ske" --manifest "$DEMO/datasets/skeleton-maps" --device cpu

step "7. DRF: the same, with PAV-guided attention"
gaitmodels train --manifest "$DEMO/datasets/skeleton-maps" --pav-manifest "$DEMO/datasets/pav" --model drf "${TRAIN_OPTS[@]}" \
  --out "$DEMO/runs/drf"
gaitmodels evaluate --checkpoint "$DEMO/runs/drf" --manifest "$DEMO/datasets/skeleton-maps" --pav-manifest "$DEMO/datasets/pav" \
  --device cpu

step "8. the two models side by side (95% intervals, differences, paired macro-F1 interval)"
gaitmodels compare "$DEMO/runs/sconet-mt-ske" "$DEMO/runs/drf" --out "$DEMO/compare"

step "done: datasets in $DEMO/datasets, preview $DEMO/preview.png, runs in $DEMO/runs, comparison in $DEMO/compare"
