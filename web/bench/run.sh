#!/usr/bin/env bash
# Browser benchmarks (issue #5): builds the wasm, then runs web/bench/*.mjs in Chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/build-web
for bench in web/bench/*.mjs; do
    echo "--- $bench"
    node "$bench"
done
