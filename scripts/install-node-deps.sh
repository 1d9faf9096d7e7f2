#!/usr/bin/env bash
# Installs the npm packages of the Node test folders, inside the repo, only
# when they are missing or package.json changed:
#   tests/web      the browser tests (playwright-core; no browser is
#                  downloaded: the tests drive Debian's /usr/bin/chromium)
#   tests/clients  the client compatibility tests (openai, ai + @ai-sdk/openai,
#                  @langchain/openai; versions pinned, package-lock.json committed)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for dir in tests/web tests/clients; do
  cd "$root/$dir" 2>/dev/null || continue
  [ -f package.json ] || continue
  if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then
    if [ -f package-lock.json ]; then
      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
    else
      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
    fi
    touch node_modules
  fi
done
