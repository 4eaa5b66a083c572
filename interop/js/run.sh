#!/usr/bin/env bash
# Run the JS reference-implementation interop check on Quorate's block vectors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
node check-vectors.mjs
