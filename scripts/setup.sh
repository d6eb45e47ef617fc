#!/usr/bin/env bash
# Installs the Debian packages plumb's build, tests and workloads need, then the report's JavaScript
# libraries (web/package-lock.json, through `npm ci`; they are inlined into the library at build time).
# Idempotent: apt-get runs only when a package is missing, npm only when web/node_modules is missing or
# older than the lock file. `scripts/setup.sh --check` only reports (exit 0: all present).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ ccache pkg-config make
  # libraries plumb links
  libopenblas-dev libdnnl-dev nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev
  # ONNX import/export and its checker
  libonnx-dev libprotobuf-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # fuzz targets: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # golden tests run Debian's /usr/bin/python3 with PyTorch and NumPy
  python3 python3-torch python3-numpy
  # ONNX conformance: the backend node-test generators, and vision models exported by PyTorch
  python3-onnx python3-torchvision
  # data for the workloads
  dataset-fashion-mnist
  # speech: the generated corpus is spoken by eSpeak NG
  espeak-ng
  # the report test renders the page in headless Chromium; fonts for its screenshot
  chromium fonts-dejavu-core fonts-liberation2
)
# node and npm fetch the report's charting libraries; any install on PATH will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
web="$root/web"
# Written after a successful `npm ci`; older than the lock file means the lock changed since.
stamp="$web/node_modules/.plumb-setup-stamp"
web_ready() {
  [ -f "$stamp" ] && ! [ "$web/package-lock.json" -nt "$stamp" ]
}
install_web() {
  echo "setup: installing the report's JavaScript libraries (npm ci in web/)"
  (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  touch "$stamp"
}

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

if [ $check_only -eq 1 ]; then
  status=0
  if [ ${#missing[@]} -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    status=1
  fi
  if ! web_ready; then
    echo "setup: web/node_modules is missing or older than web/package-lock.json" >&2
    status=1
  fi
  exit $status
fi

if [ ${#missing[@]} -eq 0 ]; then
  if web_ready; then
    echo "setup: all ${#packages[@]} packages and the report's JavaScript libraries are installed"
  else
    install_web
  fi
  exit 0
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
web_ready || install_web
