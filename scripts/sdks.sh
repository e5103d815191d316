#!/usr/bin/env bash
# `npm run sdks`: the SDKs for Python, Go and .NET, generated from schema.json (itself generated from the
# input schemas: `npm run schema`) into sdks/<language>, at package.json's version (the schema
# carries it). The generator (scripts/sdkgen) is built once per source into the user cache, from
# Pulumi's pkg/v3 module, with the Go toolchain and its module proxy.
#
#   bash scripts/sdks.sh                 # python, go and dotnet
#   bash scripts/sdks.sh python          # one language
#   bash scripts/sdks.sh --out DIR       # into DIR/<language> instead (the tests compare it with sdks/)
#   bash scripts/sdks.sh --wheel DIR     # only build the Python SDK's wheel (from sdks/python) into DIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/deployment-authorization"
log() { echo "sdks.sh: $*" >&2; }
die() { echo "sdks.sh: error: $*" >&2; exit 1; }

wheel_dir=
out=$ROOT/sdks
languages=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --wheel) wheel_dir=${2:?--wheel needs a directory}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    python | go | dotnet) languages+=("$1"); shift ;;
    *) die "unknown argument $1 (python, go, dotnet, --wheel DIR)" ;;
  esac
done
[[ ${#languages[@]} -gt 0 || -n $wheel_dir ]] || languages=(python go dotnet)

if [[ ${#languages[@]} -gt 0 ]]; then
  command -v go >/dev/null || die "'go' not found: the SDK generator is a Go program (scripts/sdkgen)"
  export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
  # The Pulumi Go SDK the Go SDK requires: the current toolchain's CLI version (scripts/toolchain.mjs).
  GO_SDK_VERSION=$(cd "$ROOT" && node -e 'import("./scripts/toolchain.mjs").then((t) => console.log(t.TOOLCHAINS.current.cli))')
  hash=$(cat "$ROOT"/scripts/sdkgen/{main.go,go.mod,go.sum,logo.png} | sha256sum | cut -c1-12)
  gen="$CACHE/sdkgen/$hash/sdkgen"
  if [[ ! -x $gen ]]; then
    t=$SECONDS
    mkdir -p "$(dirname "$gen")"
    (cd "$ROOT/scripts/sdkgen" && go build -trimpath -o "$gen.tmp" .) || die "building scripts/sdkgen failed (see above)"
    cp "$ROOT/scripts/sdkgen/logo.png" "$(dirname "$gen")/logo.png"   # the .NET package's icon
    mv -f "$gen.tmp" "$gen"
    log "built the SDK generator in $((SECONDS - t))s"
  fi

fi

for language in ${languages[@]+"${languages[@]}"}; do
  "$gen" "$language" "$ROOT/schema.json" "$out/$language"
  # pyproject.toml names a README beside it; the generator writes one into the package.
  if [[ $language == python ]]; then cp "$out/python/pulumi_deployment_authorization/README.md" "$out/python/README.md"; fi
  # The generated go.mod requires the Pulumi Go SDK the generator was released with; require the
  # current CLI's instead (the SDK version the tests run), and record every dependency (go.sum)
  # so that the module builds as it is.
  if [[ $language == go ]]; then
    (cd "$out/go" && go mod edit -require="github.com/pulumi/pulumi/sdk/v3@$GO_SDK_VERSION" && go mod tidy) ||
      die "go mod tidy in sdks/go failed (see above)"
  fi
  log "generated $out/$language"
done

if [[ -n $wheel_dir ]]; then
  # The venv with the pinned Python SDK and build tools (scripts/bootstrap/python.sh).
  lock=$(sha256sum "$ROOT/sandbox/requirements/pulumi-python.txt" | cut -c1-12)
  python="$CACHE/venvs/pulumi-python-$lock/bin/python"
  [[ -x $python ]] || die "no $python: run npm run bootstrap"
  mkdir -p "$wheel_dir"
  # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources.
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  cp -r "$ROOT/sdks/python/." "$work"
  "$python" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$wheel_dir" "$work" ||
    die "building the Python SDK's wheel failed (see above)"
  log "built $(ls "$wheel_dir"/*.whl)"
fi
