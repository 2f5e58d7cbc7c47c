#!/usr/bin/env bash
# Make sure Debian's Chromium is present for the browser tests (Playwright drives it
# through executable_path; no browser is ever downloaded by Playwright itself).
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "Chromium not found at $CHROMIUM: install it (apt-get install chromium) or set CHROMIUM;" \
       "browser tests are skipped (they fail under CI)." >&2
fi
