#!/usr/bin/env bash
# Installs what Vantage needs on a fresh Debian machine: system packages, then a virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

apt_packages=(postgresql postgresql-client-common chromium)
# Node 20 and npm: Debian's packages unless a Node install (e.g. NodeSource's) is already there.
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip setuptools wheel
# torch is pinned exactly (pyproject) so pip takes the local CPU wheel, never a CUDA build.
.venv/bin/pip install -q -e '.[dev]'

# The browser bundle (3D viewer) and the Node tools tests use (splat-transform): built, not committed.
(cd webui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
