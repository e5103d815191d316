#!/usr/bin/env bash
# `npm run bootstrap`: everything the tests and the demo need, in the user cache. The toolchains
# (two Go builds of the Pulumi CLI when cold: CPU-bound) install beside the Python servers and
# Chromium (mostly downloads), so a cold bootstrap takes about as long as the CLI builds alone.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

node "$ROOT/scripts/toolchain.mjs" &
toolchains=$!
status=0
bash "$ROOT/scripts/bootstrap/python.sh" && bash "$ROOT/scripts/bootstrap/chromium.sh" >/dev/null || status=$?
wait "$toolchains" || status=$?
exit "$status"
