#!/usr/bin/env bash
# Provide one version of the real `pulumi` CLI, with `pulumi-language-nodejs` beside it, building
# them from Pulumi's Go modules when they are not already built.
#
#   BIN=$(bash scripts/bootstrap/pulumi.sh v3.277.0 | tail -1)
#
# The last stdout line is the absolute bin dir; everything else goes to stderr. The versions in use
# are pinned in scripts/toolchain.mjs (one CLI per toolchain); this script builds the one it is
# given (or $PULUMI_VERSION). A `pulumi` on PATH is used when it reports exactly that version
# (unless PULUMI_FORCE_BUILD=1) and has the language host beside it; otherwise the build cached
# per version is reused (delete its dir to rebuild). Only the Go toolchain and its module proxy are
# used. Two versions may build at once (each holds its own lock; the language host has its own).
set -euo pipefail

VERSION="${1:-${PULUMI_VERSION:-}}"
[[ -n "$VERSION" ]] || { echo "pulumi.sh: usage: pulumi.sh vX.Y.Z (see scripts/toolchain.mjs)" >&2; exit 2; }
# pulumi-language-nodejs has been its own Go module since sdk v3.69.0, and the module proxy refuses
# that module at every version (403, checked again 2026-12-07 up to v3.277.0); v3.68.0 is the last
# sdk/v3 that still contains it as a package, so every CLI gets the language host built from there.
LANGHOST_SDK_VERSION="${PULUMI_LANGHOST_SDK_VERSION:-v3.68.0}"

ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/deployment-authorization"
LANGHOST="$ROOT/pulumi-language-nodejs/$LANGHOST_SDK_VERSION"
CACHE="$ROOT/pulumi/$VERSION"
BIN="$CACHE/bin"

log() { echo "pulumi.sh: $*" >&2; }
die() { echo "pulumi.sh: error: $*" >&2; exit 1; }

cached_ok() {
  [[ -x "$BIN/pulumi" && -x "$BIN/pulumi-language-nodejs" ]] &&
    [[ "$("$BIN/pulumi" version 2>/dev/null)" == "$VERSION" ]]
}

if [[ "${PULUMI_FORCE_BUILD:-0}" != 1 ]] && command -v pulumi >/dev/null; then
  dir=$(cd "$(dirname "$(command -v pulumi)")" && pwd -P)
  if [[ "$(pulumi version 2>/dev/null || true)" == "$VERSION" && -x "$dir/pulumi-language-nodejs" ]]; then
    log "using pulumi $VERSION from PATH"
    echo "$dir"; exit 0
  fi
fi
if cached_ok; then echo "$BIN"; exit 0; fi

command -v go >/dev/null ||
  die "'go' not found; install Go (the CLI's go.mod names the version it needs) or put pulumi $VERSION + pulumi-language-nodejs on PATH"

mkdir -p "$CACHE"
# Serialise concurrent bootstraps (parallel CI jobs) on one machine, then re-check.
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.lock"; flock 9
  if cached_ok; then echo "$BIN"; exit 0; fi
  rm -rf "$CACHE"/build.*   # leftovers of killed builds; nobody else is building now
fi

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"
WORK=$(mktemp -d "$CACHE/build.XXXXXX")   # same filesystem as $BIN: the final mv is atomic
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM   # so the EXIT trap also cleans up after Ctrl-C / kill

# fetch_gomod, require_go and build (needs $WORK and die).
source "$(dirname "${BASH_SOURCE[0]}")/gobuild.sh"

# The language host is the same for every CLI: built once, under its own lock, then copied beside
# each CLI (the CLI looks for its plugins next to itself).
langhost() {
  local work
  mkdir -p "$LANGHOST"
  if command -v flock >/dev/null; then exec 8>"$LANGHOST/.lock"; flock 8; fi
  if [[ ! -x "$LANGHOST/bin/pulumi-language-nodejs" ]]; then
    local t=$SECONDS
    rm -rf "$LANGHOST"/build.*
    work=$(mktemp -d "$LANGHOST/build.XXXXXX")
    WORK=$work build pulumi-language-nodejs github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
      github.com/pulumi/pulumi/sdk/v3 "$LANGHOST_SDK_VERSION"
    rm -rf "$LANGHOST/bin" && mv -T "$work/bin" "$LANGHOST/bin" && rm -rf "$work"
    log "built pulumi-language-nodejs ($LANGHOST_SDK_VERSION) in $((SECONDS - t))s"
  fi
  if command -v flock >/dev/null; then exec 8>&-; fi
  cp "$LANGHOST/bin/pulumi-language-nodejs" "$WORK/bin/pulumi-language-nodejs"
}

log "building pulumi $VERSION into $BIN (a cold build takes ~5 min on 2 cores)"
start=$SECONDS
build pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  github.com/pulumi/pulumi/pkg/v3 "$VERSION" "github.com/pulumi/pulumi/sdk/v3 $VERSION"
log "pulumi $VERSION built after $((SECONDS - start))s"
[[ "$("$WORK/bin/pulumi" version)" == "$VERSION" ]] || die "built pulumi does not report $VERSION"
langhost

rm -rf "$BIN" && mv -T "$WORK/bin" "$BIN"
log "built pulumi $VERSION + pulumi-language-nodejs in $((SECONDS - start))s"
echo "$BIN"
