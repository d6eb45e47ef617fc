#!/usr/bin/env bash
# Installs the Debian packages plumb's build, tests and workloads need. Idempotent: it runs apt-get
# only when a package is missing. `scripts/setup.sh --check` only reports (exit 0: all present).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ ccache pkg-config make
  # libraries plumb links
  libopenblas-dev libdnnl-dev nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # fuzz targets: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # golden tests run Debian's /usr/bin/python3 with PyTorch and NumPy
  python3 python3-torch python3-numpy
  # data for the workloads
  dataset-fashion-mnist
)

usage() {
  echo "usage: scripts/setup.sh [--check]" >&2
  exit 2
}

check_only=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  -h|--help) echo "usage: scripts/setup.sh [--check]"; exit 0 ;;
  *) usage ;;
esac
[ $# -le 1 ] || usage

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  [ $check_only -eq 1 ] || echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

if [ $check_only -eq 1 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "setup: not root and no sudo; install these packages as root: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
