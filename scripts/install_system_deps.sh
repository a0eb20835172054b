#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Debian's Chromium, to render the HTML
# tearsheet headless. Installs only what is missing; needs root (CI runs as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing; install it with: sudo apt-get install chromium" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
