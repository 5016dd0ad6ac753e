#!/usr/bin/env bash
# One device check, in one go, the first time an accelerator is at hand (about 8-10 minutes on
# one GPU): what the machine is, training throughput of ResNet-18 and ResNet-50 at 224 px with and
# without PruneCallback (plain / XLA / mixed precision), the corruption throughput table, and a
# short run of both studies' paper presets on tfds mock data. Everything it prints is also
# written under $OUT (or ./device_check/), one file per part, to be quoted as it is.
#
#   bash benchmarks/device_check.sh                 # from the repository root
#   SKIP_STUDIES=1 bash benchmarks/device_check.sh  # throughput only
#   bash benchmarks/device_check.sh --dry-run       # on a CPU first: every part runs its script
#                                                   # with the same models, options and flags at
#                                                   # toy sizes (the studies only parse theirs:
#                                                   # tests/experiments/test_experiments_paper.py
#                                                   # runs them end to end), so a typo fails
#                                                   # here, not on the accelerator
set -uo pipefail
dry="" scale=1
case "${1:-}" in
  --dry-run) dry=1 scale=4 ;;  # time limits x 4: a CPU compiles ResNet-50 slower than a GPU
  "") ;;
  *) echo "usage: bash benchmarks/device_check.sh [--dry-run]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
out=${OUT:-device_check}
mkdir -p "$out"
py=${PYTHON:-python3}
runs=${RUNS:-$(mktemp -d)}  # study output (stores, reports) stays out of $out: only text is quoted
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
status=0
part() {  # part NAME TIMEOUT_S COMMAND...: run, keep its output, go on after a failure
  local name=$1 limit=$(( $2 * scale )); shift 2
  echo "== $name: $*" | tee "$out/$name.txt"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$out/$name.txt" | grep -v -E '^(I0000|W0000|E0000|I[0-9]{4} )'
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$out/$name.txt"
  [ "$rc" = 0 ] || status=1
}

part machine 60 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
  2>/dev/null; nproc; $py -c 'import tensorflow as tf; print(tf.__version__, \
  tf.config.list_physical_devices())'"
# sizes: the accelerator's, or toys for --dry-run (the same scripts, flags and options)
if [ -n "$dry" ]; then
  train_size=(--image_size=32 --classes=10 --batch_size=2 --steps=1 --rounds=1)
  corrupt_size=(--batch=2 --rounds=1 --pipeline_batches=2 --ref_images=1 --only=fog,glass_blur
                --all_severities=glass_blur)
  study_check=(--only_check_args)  # absl parses and checks every flag, then exits
else
  train_size=(--image_size=224 --classes=1000 --batch_size=128 --steps=20 --rounds=2)
  corrupt_size=()
  study_check=()
fi
for model in resnet18 resnet50; do
  part "train_$model" 420 "$py" benchmarks/train_throughput.py --model=$model "${train_size[@]}" \
    --options=float32,xla,mixed,mixed+xla --prune --json="$out/train_$model.json"
done
part corruptions 600 "$py" benchmarks/corruption_throughput.py ${corrupt_size[@]+"${corrupt_size[@]}"}
if [ -z "${SKIP_STUDIES:-}" ]; then
  part paper_celeba 900 "$py" -m tests.experiments._mock_paper experiments/celeba_bias.py 64 \
    --preset=paper --members=2 --train_examples=64 --eval_examples=32 --epochs=1 \
    --batch_size=32 --sparsities=0.9 --out_dir="$runs/celeba" \
    ${study_check[@]+"${study_check[@]}"}
  part paper_imagenet 900 "$py" -m tests.experiments._mock_paper experiments/imagenet_pie.py 32 \
    --preset=paper --members=2 --train_examples=32 --eval_examples=16 --epochs=1 \
    --batch_size=16 --sparsities=0.9 --corruption_examples=8 --out_dir="$runs/imagenet" \
    ${study_check[@]+"${study_check[@]}"}
fi
echo "device check: $([ $status = 0 ] && echo all parts passed || echo some parts FAILED)"
exit $status
