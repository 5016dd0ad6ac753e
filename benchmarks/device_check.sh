#!/usr/bin/env bash
# One device check, in one go, the first time an accelerator is at hand (about 8-10 minutes on
# one GPU): what the machine is, training throughput of ResNet-18 and ResNet-50 at 224 px with and
# without PruneCallback (plain / XLA / mixed precision), the corruption throughput table, and a
# short run of both studies' paper presets on tfds mock data. Everything it prints is also
# written under $OUT (or ./device_check/), one file per part, to be quoted as it is.
#
#   bash benchmarks/device_check.sh                 # from the repository root
#   SKIP_STUDIES=1 bash benchmarks/device_check.sh  # throughput only
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-device_check}
mkdir -p "$out"
py=${PYTHON:-python3}
runs=${RUNS:-$(mktemp -d)}  # study output (stores, reports) stays out of $out: only text is quoted
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
status=0
part() {  # part NAME TIMEOUT_S COMMAND...: run, keep its output, go on after a failure
  local name=$1 limit=$2; shift 2
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
for model in resnet18 resnet50; do
  part "train_$model" 420 "$py" benchmarks/train_throughput.py --model=$model --image_size=224 \
    --classes=1000 --batch_size=128 --steps=20 --rounds=2 --options=float32,xla,mixed,mixed+xla \
    --prune --json="$out/train_$model.json"
done
part corruptions 600 "$py" benchmarks/corruption_throughput.py
if [ -z "${SKIP_STUDIES:-}" ]; then
  part paper_celeba 900 "$py" -m tests.experiments._mock_paper experiments/celeba_bias.py 64 \
    --preset=paper --members=2 --train_examples=64 --eval_examples=32 --epochs=1 \
    --batch_size=32 --sparsities=0.9 --out_dir="$runs/celeba"
  part paper_imagenet 900 "$py" -m tests.experiments._mock_paper experiments/imagenet_pie.py 32 \
    --preset=paper --members=2 --train_examples=32 --eval_examples=16 --epochs=1 \
    --batch_size=16 --sparsities=0.9 --corruption_examples=8 --imagenet_a=false \
    --out_dir="$runs/imagenet"  # mock ImageNet-A labels fall outside its 200 classes
fi
echo "device check: $([ $status = 0 ] && echo all parts passed || echo some parts FAILED)"
exit $status
