#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one go, for a machine lent for a short while: the tests
# marked gpu, then row 10 (bench_gpu.py) eager at two batch sizes and under --compile. Each step
# has its own time limit and log, and a failed step does not stop the next.
#
#   bash bench/gpu_check.sh OUTDIR     # PYTHON=... picks the interpreter that has seqlab installed
set -uo pipefail
out=${1:?usage: bash bench/gpu_check.sh OUTDIR}
py=${PYTHON:-python3}
cd "$(dirname "$0")/.."
mkdir -p "$out"
failed=()

step() {
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    local start=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "   exit $rc after $((SECONDS - start))s"
    tail -n 4 "$out/$name.log" | sed 's/^/   /'
    [ "$rc" -eq 0 ] || failed+=("$name")
}

"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" \
    || { echo "no CUDA device visible to $py"; exit 2; }
export PYTHONUNBUFFERED=1
step gpu-tests 150 "$py" -m pytest -q -m gpu -p no:cacheprovider packages/*/tests cli/tests tests
step bench-eager-8k 90 "$py" bench/bench_gpu.py --max-tokens 8192 --json
step bench-eager-32k 90 "$py" bench/bench_gpu.py --max-tokens 32768 --json
step bench-compile-32k 240 "$py" bench/bench_gpu.py --max-tokens 32768 --compile --max-update 80 --skip 30 --json

if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]} (logs in $out)"
    exit 1
fi
echo "all GPU checks passed (logs in $out)"
