#!/usr/bin/env bash
# plumb vs PyTorch CPU, same model, batch, optimizer and thread count, run back to back, alternating.
# See bench/peers/README.md.
#
#   bench/peers/run.sh [--threads T] [--rounds R] [--build DIR] [--stat median|mean] [--steps-scale F]
#                      [--omp-passive]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
threads=2
rounds=3
build=""
stat=median
scale=1
py=/usr/bin/python3   # Debian's, with python3-torch; the python3 on PATH may lack torch

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --stat) stat="$2"; shift 2 ;;
    --steps-scale) scale="$2"; shift 2 ;;
    --omp-passive) export OMP_WAIT_POLICY=PASSIVE; shift ;;  # both frameworks' OpenMP threads sleep at barriers
    -h|--help) usage 0 ;;
    *) echo "run.sh: error: unknown argument $1" >&2; usage ;;
  esac
done
[[ "$stat" == median || "$stat" == mean ]] || { echo "run.sh: error: --stat median|mean" >&2; exit 2; }

if [[ -n "$build" ]]; then
  peer="$build/bench/peers/plumb_peer"
else
  peer="$root/build/bench/peers/plumb_peer"
fi
[[ -x "$peer" ]] || { echo "run.sh: error: no plumb_peer at $peer (build the plumb_peer target, or pass --build DIR)" >&2; exit 1; }
"$py" -c 'import torch' 2>/dev/null || { echo "run.sh: error: $py cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
torch_peer="$here/torch_peer.py"

# name model mode batch steps warmup
configs=(
  "mlp-train-b64     mlp    train 64  60  10"
  "lenet5-train-b64  lenet5 train 64  40  5"
  "lenet5-train-b256 lenet5 train 256 20  3"
  "mlp-infer-b1      mlp    infer 1   300 30"
  "mlp-infer-b64     mlp    infer 64  200 20"
  "lenet5-infer-b1   lenet5 infer 1   300 30"
  "lenet5-infer-b64  lenet5 infer 64  100 10"
)

# One run; prints "<value>" where value is samples/s (train) or latency ms (infer), per --stat.
measure() {  # which model mode batch steps warmup seed
  local which="$1" model="$2" mode="$3" batch="$4" steps="$5" warmup="$6" seed="$7" json
  local args=(--model "$model" --mode "$mode" --batch "$batch" --steps "$steps" --warmup "$warmup"
              --threads "$threads" --seed "$seed")
  if [[ "$which" == plumb ]]; then
    json="$("$peer" "${args[@]}")"
  else
    json="$("$py" "$torch_peer" "${args[@]}")"
  fi
  "$py" - "$json" "$mode" "$batch" "$stat" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); mode, batch, stat = sys.argv[2], int(sys.argv[3]), sys.argv[4]
ms = r["median_ms"] if stat == "median" else r["ms_per_step"]
print(f"{batch * 1e3 / ms:.6f}" if mode == "train" else f"{ms:.6f}")
PY
}

echo "plumb vs PyTorch CPU: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), threads $threads, rounds $rounds, stat $stat"
lib="$(dirname "$peer")/../../libplumb.so"
built="$(date -u -r "$(readlink -f "$lib" 2>/dev/null || echo "$peer")" '+%Y-%m-%d %H:%M UTC')"
echo "plumb: $peer (library built $built; source tree now at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ', dirty'))"
echo "torch: $("$py" -c 'import torch; print(torch.__version__)') ($py)"
echo "host: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}"
echo

results=()
for c in "${configs[@]}"; do
  read -r name model mode batch steps warmup <<<"$c"
  steps="$("$py" -c "print(max(1, round($steps * $scale)))")"
  p=(); t=()
  for ((r = 0; r < rounds; r++)); do
    # Alternate which goes first each round, so neither always runs on the warmer/cooler machine.
    if ((r % 2 == 0)); then
      p+=("$(measure plumb "$model" "$mode" "$batch" "$steps" "$warmup" "$r")")
      t+=("$(measure torch "$model" "$mode" "$batch" "$steps" "$warmup" "$r")")
    else
      t+=("$(measure torch "$model" "$mode" "$batch" "$steps" "$warmup" "$r")")
      p+=("$(measure plumb "$model" "$mode" "$batch" "$steps" "$warmup" "$r")")
    fi
  done
  echo "  $name: plumb $(printf "%.4g " "${p[@]}")| torch $(printf "%.4g " "${t[@]}")" >&2
  results+=("$name $mode $batch $(IFS=,; echo "${p[*]}") $(IFS=,; echo "${t[*]}")")
done

"$py" - "${results[@]}" <<'PY'
import statistics, sys
print(f"{'config':<20} {'unit':<10} {'plumb':>10} {'torch':>10} {'ratio':>7}  {'target':<16} {'result'}")
for line in sys.argv[1:]:
    name, mode, batch, p, t = line.split()
    p = statistics.median(map(float, p.split(","))); t = statistics.median(map(float, t.split(",")))
    ratio = p / t
    if mode == "train":
        unit, target, met = "samples/s", ">= 1.20x (hi)", ratio >= 1.2
        fmt = lambda v: f"{v:10.0f}"
    else:
        unit = "ms/batch"
        fmt = lambda v: f"{v:10.4f}"
        if batch == "1":
            target, met = "<= 0.30x (lo)", ratio <= 0.3
        else:
            target, met = "- (lo better)", None
    res = "-" if met is None else ("met" if met else "missed")
    print(f"{name:<20} {unit:<10} {fmt(p)} {fmt(t)} {ratio:7.2f}  {target:<16} {res}")
PY
