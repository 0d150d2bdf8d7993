#!/usr/bin/env bash
# Headless Chromium from Debian's packages for the browser test (tests marked `browser`).
# Playwright drives this system browser; `playwright install` (a browser download) is never used.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
# a CJK font too: the review page shows Chinese passages (without one they render as boxes)
$SUDO apt-get install -y chromium chromium-driver fonts-wqy-zenhei
/usr/bin/chromium --version
