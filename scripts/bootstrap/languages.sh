#!/usr/bin/env bash
# Provide the Python and YAML language hosts, so the `pulumi` CLI can run Python and YAML programs
# that use the provider plugin, building them from Go modules when they are not already built.
#
#   bash scripts/bootstrap/languages.sh            # build what is missing into the cache
#   bash scripts/bootstrap/languages.sh BIN_DIR    # ... then copy them beside the CLI in BIN_DIR
#
# The CLI looks for its language hosts next to itself, like pulumi-language-nodejs (pulumi.sh).
# - pulumi-language-python (with its `pulumi-language-python-exec` shim, a Python script) comes from
#   the same sdk/v3 module as the Node.js host: it has been its own module since v3.69.0 and the
#   proxy refuses that module, so v3.68.0 is the last one that has it. It runs the program with the
#   `pulumi` Python SDK of the program's virtualenv (python.sh installs a pinned one for the tests).
# - pulumi-language-yaml comes from the pulumi-yaml module, at the newest version the proxy serves
#   (v1.25.0; `go list -m -versions github.com/pulumi/pulumi-yaml`). It builds against the Pulumi
#   modules its own go.mod names (v3.206.0): it does not compile against the CLI's newer ones.
# Both build side by side (each under its own lock), once per version, into
# ~/.cache/deployment-authorization/pulumi-language-{python,yaml}/<version>/bin.
set -euo pipefail

PYTHON_HOST_SDK_VERSION="${PULUMI_PYTHON_HOST_SDK_VERSION:-v3.68.0}"
YAML_VERSION="${PULUMI_YAML_VERSION:-v1.25.0}"
TARGET="${1:-}"

ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/deployment-authorization"
PYTHON_HOST="$ROOT/pulumi-language-python/$PYTHON_HOST_SDK_VERSION"
YAML_HOST="$ROOT/pulumi-language-yaml/$YAML_VERSION"

log() { echo "languages.sh: $*" >&2; }
die() { echo "languages.sh: error: $*" >&2; exit 1; }

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"
source "$(dirname "${BASH_SOURCE[0]}")/gobuild.sh"

# build_once DIR NAME PKG MODULE VER: build PKG into DIR/bin/NAME unless it is there, under DIR's lock.
build_once() {
  local dir=$1 name=$2 pkg=$3 module=$4 ver=$5 t=$SECONDS
  mkdir -p "$dir"
  if command -v flock >/dev/null; then exec 7>"$dir/.lock"; flock 7; fi
  if [[ ! -x "$dir/bin/$name" ]]; then
    command -v go >/dev/null || die "'go' not found; install Go to build $name"
    rm -rf "$dir"/build.*   # leftovers of killed builds; we hold the lock
    WORK=$(mktemp -d "$dir/build.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    build "$name" "$pkg" "$module" "$ver"
    if [[ $name == pulumi-language-python ]]; then
      # The shim the host runs the program with: a script in the same module directory.
      local src
      src=$(go mod download -json "$module@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
      install -m 0755 "$src/python/cmd/pulumi-language-python-exec" "$WORK/bin/pulumi-language-python-exec"
    fi
    rm -rf "$dir/bin" && mv -T "$WORK/bin" "$dir/bin" && rm -rf "$WORK"
    log "built $name ($ver) in $((SECONDS - t))s"
  fi
}

build_once "$PYTHON_HOST" pulumi-language-python github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python \
  github.com/pulumi/pulumi/sdk/v3 "$PYTHON_HOST_SDK_VERSION" &
python=$!
build_once "$YAML_HOST" pulumi-language-yaml github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml \
  github.com/pulumi/pulumi-yaml "$YAML_VERSION" &
yaml=$!
status=0
wait "$python" || status=$?
wait "$yaml" || status=$?
[[ $status == 0 ]] || die "a language host did not build (see above)"

if [[ -n $TARGET ]]; then
  [[ -x "$TARGET/pulumi" ]] || die "$TARGET holds no pulumi CLI"
  for file in "$PYTHON_HOST"/bin/* "$YAML_HOST"/bin/*; do
    dest="$TARGET/$(basename "$file")"
    if ! cmp -s "$file" "$dest"; then cp "$file" "$dest.$$" && mv -f "$dest.$$" "$dest"; fi
  done
fi
echo "$PYTHON_HOST/bin:$YAML_HOST/bin"
