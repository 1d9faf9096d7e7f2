#!/usr/bin/env bash
# Source checks run by `make test`: no banned C functions (curl's list, the
# ones with no bound or no error reporting).
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)\s*\('
if grep -rnE "$banned" --include='*.c' --include='*.h' common controlplane dataplane tests/mockllm tests/unit 2>/dev/null; then
  echo "check-src: banned function used (see above); use snprintf/strtol/strtok_r/memcpy" >&2
  exit 1
fi
echo "check-src: ok"
