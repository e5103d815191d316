#!/usr/bin/env bash
# Installs Chromium from the system's package manager (Debian/Ubuntu apt) for the tests that open
# a page in a headless browser, and prints its path. Idempotent: an installed one is used as is.
#
#   bash scripts/bootstrap/chromium.sh     # prints e.g. /usr/bin/chromium
#
# Env: CHROMIUM_PATH (use this browser instead).
set -euo pipefail

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

found() {
  local candidate
  for candidate in "${CHROMIUM_PATH:-}" "$(command -v chromium || true)" "$(command -v chromium-browser || true)"; do
    if [[ -n $candidate && -x $candidate ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

if found; then exit 0; fi

command -v apt-get >/dev/null || die "no chromium and no apt-get: install Chromium and set CHROMIUM_PATH"
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "installing chromium needs root (or sudo): install it and set CHROMIUM_PATH"
  as_root=(sudo -n)
fi
log "installing chromium with apt-get (once per machine)"
start=$SECONDS
logfile=$(mktemp)
if ! { "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium; } >"$logfile" 2>&1; then
  tail -5 "$logfile" >&2
  die "apt-get install chromium failed (log: $logfile)"
fi
rm -f "$logfile"
log "chromium installed in $((SECONDS - start)) s"
found || die "chromium was installed but is not on PATH"
