#!/usr/bin/env bash
# Installs the npm packages the browser tests use (tests/web/package.json),
# inside the repo, only when they are missing. No browser is downloaded:
# the tests drive Debian's /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/../tests/web" 2>/dev/null || exit 0
[ -f package.json ] || exit 0
if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
  touch node_modules
fi
