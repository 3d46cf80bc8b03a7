#!/usr/bin/env bash
# GPU check (issue 11), in under 6 minutes on a machine with a CUDA GPU. From the repository root:
#
#     bash benchmarks/gpu_check.sh            # PYTHON=/path/to/python to pick the interpreter
#
# Uses the torch already installed (any 2.x from 2.4). Steps: the device-marked tests (CPU and
# CUDA), `python -m rfkit train` on synthetic data with --device cpu and --device cuda and their
# agreement (test metrics within 0.005, generated embeddings cosine > 0.999), the generator
# benchmark on the GPU, and a quick notebook with DEVICE=cuda when papermill (and the notebook's
# DEVICE parameter) is there. Missing small pure-Python packages are pip-installed (offline: set
# PIP_FIND_LINKS=<wheel folder> PIP_NO_INDEX=1). Logs go to $GPU_CHECK_OUT (default: a temp
# folder); GPU_CHECK_EPOCHS sets the CLI's epochs (default 10); GPU_CHECK_DEVICE=cpu dry-runs the
# script on a machine without a GPU (CPU against CPU). The last line is the verdict:
# "GPU CHECK: PASS ..." or "GPU CHECK: FAIL ...".
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD
PY=${PYTHON:-python}
OUT=${GPU_CHECK_OUT:-$(mktemp -d -t gpu_check.XXXXXX)}
mkdir -p "$OUT"
EPOCHS=${GPU_CHECK_EPOCHS:-10}
DEV=${GPU_CHECK_DEVICE:-cuda}
BUDGET=360
START=$SECONDS
failed=()
notes=()

# joined SEP ITEM...: the items separated by SEP.
joined() {
    local sep=$1 out=""
    shift
    for item in "$@"; do out+="${out:+$sep}$item"; done
    echo "$out"
}

verdict() {
    local elapsed=$((SECONDS - START))
    ((elapsed > BUDGET)) && failed+=("took ${elapsed}s > ${BUDGET}s")
    local summary
    summary="$(joined "; " "${notes[@]}" "${elapsed}s" "logs in $OUT")"
    local line="GPU CHECK: PASS: $summary" status=0
    if ((${#failed[@]})); then
        line="GPU CHECK: FAIL ($(joined "; " "${failed[@]}")): $summary"
        status=1
    fi
    # The README's benchmark block reads $OUT/gpu_check.json once copied to benchmarks/results.
    [[ -f $OUT/bench.json ]] && "$PY" - "$OUT/bench.json" "$OUT/gpu_check.json" "${notes[@]}" "$line" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
bench["title"] = "GPU check: benchmarks/gpu_check.sh on a lent GPU (log: benchmarks/results/gpu_check.log)"
bench["notes"] = bench.get("notes", []) + [n for n in sys.argv[3:] if n.startswith(("max |", "min cosine", "GPU CHECK"))]
json.dump(bench, open(sys.argv[2], "w"), indent=2)
PY
    echo "$line"
    exit $status
}

# step NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log, record a failure.
step() {
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=$?
    if ((rc != 0)); then
        failed+=("$name exit $rc$( ((rc == 124)) && echo " after ${limit}s")")
    fi
    return $rc
}

# --- the interpreter, torch and a GPU
if ! "$PY" -c 'import torch, sys; v = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(v < (2, 4))'; then
    failed+=("needs torch >= 2.4 importable by $PY")
    verdict
fi
device_line=$("$PY" -c 'from rfkit.machine import describe_devices; print(describe_devices())')
echo "$device_line"
if [[ $DEV == cpu ]]; then
    notes+=("dry run on the CPU (GPU_CHECK_DEVICE=cpu)")
elif "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    notes+=("$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0), "torch", torch.__version__)')")
else
    failed+=("no CUDA device: $device_line")
    verdict
fi

# --- packages: rfkit's own imports; only small pure-Python ones may be installed here
missing() { for module in "$@"; do "$PY" -c "import $module" 2>/dev/null || echo "$module"; done; }
declare -A wheel=([yaml]=PyYAML [tqdm]=tqdm [pytest]=pytest)
installable=$(missing yaml tqdm pytest)
if [[ -n $installable ]]; then
    packages=$(for m in $installable; do echo "${wheel[$m]}"; done)
    echo "== installing: $packages"
    # shellcheck disable=SC2086
    "$PY" -m pip install --quiet $packages || failed+=("pip install $packages failed")
fi
heavy=$(missing numpy scipy sklearn pandas)
if [[ -n $heavy ]]; then
    failed+=("missing packages (not small, not installed here): $heavy")
    verdict
fi

# --- 1. the device-marked tests: every device test on CPU and CUDA
step tests 200 "$PY" -m pytest -q -p no:cacheprovider -m device \
    tests/test_device.py tests/test_models.py tests/test_train.py tests/test_metrics.py \
    tests/test_generator.py && notes+=("tests ok")

# --- 2. the CLI on synthetic data, CPU and CUDA side by side, then their agreement
declare -A pids
devices=(cpu)
[[ $DEV != cpu ]] && devices+=("$DEV")
for device in "${devices[@]}"; do
    timeout 200 "$PY" -m rfkit train --dataset synthetic --epochs "$EPOCHS" --seed 0 --no-progress \
        --device "$device" --json "$OUT/train_$device.json" >"$OUT/train_$device.log" 2>&1 &
    pids[$device]=$!
done
for device in "${devices[@]}"; do
    wait "${pids[$device]}"
    rc=$?
    echo "== train --device $device (exit $rc):"
    cat "$OUT/train_$device.log"
    ((rc == 0)) || failed+=("train --device $device exit $rc")
done
if [[ -f $OUT/train_cpu.json && -f $OUT/train_$DEV.json ]]; then
    step agreement 120 "$PY" benchmarks/gpu_agreement.py --device "$DEV" \
        --metrics "$OUT/train_cpu.json" "$OUT/train_$DEV.json"
    mapfile -t found < <(grep -oE 'max \|CPU - [^|]*\| = [0-9.]+|min cosine CPU vs [^ ]+ = [0-9.]+' \
                                "$OUT/agreement.log")
    notes+=("${found[@]}")
fi

# --- 3. the generator benchmark on the GPU (quick sizes in a CPU dry run)
bench_args=(--device "$DEV" --json "$OUT/bench.json")
[[ $DEV == cpu ]] && bench_args+=(--quick)
step bench 150 "$PY" benchmarks/bench_generator.py "${bench_args[@]}" && notes+=("bench ok")

# --- 4. a quick notebook on the GPU, when the Jupyter stack and the DEVICE parameter are there
NOTEBOOK=notebooks/01_integration.ipynb
absent=$(missing papermill ipykernel matplotlib seaborn)  # not `missing | grep -q`: with pipefail, SIGPIPE flips it
if [[ -z $absent ]]; then
    if grep -qE '"DEVICE *= ' "$NOTEBOOK"; then
        step notebook 150 "$PY" -m papermill "$NOTEBOOK" "$OUT/01_integration.ipynb" -k python3 \
            -p QUICK True -p DEVICE "$DEV" -p OUTPUT_DIR "$OUT/results" \
            -p FIGURES_DIR "$OUT/figures" --no-progress-bar && notes+=("notebook ok")
    else
        notes+=("notebook skipped: $NOTEBOOK has no DEVICE parameter yet")
    fi
else
    notes+=("notebook skipped: no $(joined / $absent) here")
fi

verdict
