#!/usr/bin/env bash
# One-time setup on a fresh machine: npm packages, then a WebGPU adapter check; on Linux with
# no adapter it installs Mesa's software Vulkan driver (needs root/sudo and Debian's apt).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
npm ci --no-audit --no-fund
if ! node scripts/check-adapter.mjs 2>/dev/null; then
  echo "No WebGPU adapter found: installing Mesa's software Vulkan driver (lavapipe)."
  if [ "$(id -u)" -eq 0 ]; then bash .ci/install-vulkan.sh; else sudo bash .ci/install-vulkan.sh; fi
  node scripts/check-adapter.mjs
fi
# Debian's Chromium for the real-browser test (never downloaded from anywhere else).
bash .ci/install-chromium.sh
