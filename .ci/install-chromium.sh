#!/usr/bin/env bash
# Installs Debian's `chromium` package (for the real-browser test, test/browser.test.ts) when
# /usr/bin/chromium is missing. Uses apt only: no browser is ever downloaded from anywhere else.
# Without apt it explains what to do; that is an error under CI=true (the browser test must run).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "chromium: /usr/bin/chromium is missing and apt-get is not available; install Chromium with your" \
    "package manager so that /usr/bin/chromium exists (the browser test skips without it, fails under CI=true)." >&2
  [ "${CI:-}" = "true" ] && exit 1 || exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo "chromium: $(/usr/bin/chromium --version)"
