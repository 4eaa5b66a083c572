#!/usr/bin/env bash
# Runs every browser end-to-end test (web/e2e/*.mjs but lib.mjs) against a fresh build.
#
# rtc.mjs, rtc-native.mjs, mesh.mjs, actor.mjs, group.mjs and demo.mjs re-run themselves inside a
# loopback-only network namespace (`unshare -n`) when they can, so Chromium's WebRTC uses 127.0.0.1.
# rtc-native.mjs, mesh.mjs, actor.mjs, group.mjs and demo.mjs run the native `quorate` binary:
# $QUORATE_BIN if set, else the workspace's debug build (built here if needed; the README's test
# command has usually built it already). demo.mjs saves screenshots of every stage to
# $QUORATE_SCREENSHOTS, else target/e2e-screenshots/demo/.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/build-web
[ -x /usr/bin/chromium ] || {
    sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium
}
if [ -z "${QUORATE_BIN:-}" ]; then
    cargo build -p quorate-node --bin quorate --locked
    export QUORATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/quorate"
fi
for test in web/e2e/*.mjs; do
    [ "$(basename "$test")" = lib.mjs ] && continue
    echo "--- $test"
    node "$test"
done
