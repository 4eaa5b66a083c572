#!/usr/bin/env bash
# Runs every browser end-to-end test (web/e2e/*.mjs but lib.mjs) against a fresh build.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/build-web
[ -x /usr/bin/chromium ] || {
    sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium
}
for test in web/e2e/*.mjs; do
    [ "$(basename "$test")" = lib.mjs ] && continue
    echo "--- $test"
    node "$test"
done
