# Sourced by the bootstrap scripts that build Go programs from Pulumi's Go modules (pulumi.sh,
# languages.sh): the caller sets $WORK (a scratch dir whose bin/ receives the binaries) and defines
# die(); GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod are expected in the environment.

# Download MODULE@VER and print the path of its go.mod; turn proxy refusals into one line.
fetch_gomod() {
  local out
  if ! out=$(go mod download -json "$1@$2" 2>&1) || grep -q '"Error"' <<<"$out"; then
    if grep -qiE '403|404|410|not available|forbidden|not found' <<<"$out"; then
      die "Go module proxy ($(go env GOPROXY)) refused $1@$2; use a version it serves (PULUMI_VERSION=...) or another GOPROXY"
    fi
    die "go mod download $1@$2 failed: $(grep -m1 -E 'Error|go:' <<<"$out")"
  fi
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$out"
}

# Fail early and clearly if the local Go is older than the module's `go` directive.
require_go() {
  local need have
  need=$(awk '$1 == "go" { print $2; exit }' "$1")
  have=$(go env GOVERSION); have=${have#go}
  if [[ "$(printf '%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]]; then
    die "Go $have is too old: $2 needs Go >= $need; install a newer Go"
  fi
}

# Build PKG from a throwaway module requiring MODULE@VER (plus REQS). `go install pkg@v`
# refuses modules with replace directives, so their non-local replaces are copied.
build() {
  local out=$1 pkg=$2 module=$3 ver=$4 gomod dir; shift 4
  gomod=$(fetch_gomod "$module" "$ver")
  require_go "$gomod" "$module@$ver"
  dir="$WORK/mod-$(basename "$out")"; mkdir -p "$dir"
  {
    echo "module bootstrap"
    awk '$1 == "go" { print; exit }' "$gomod"
    echo "require $module $ver"
    for req in "$@"; do echo "require $req"; done
    # single-line and block replaces; skip the ones pointing into Pulumi's own tree
    awk '/^replace \(/ { blk = 1; next } blk && /^\)/ { blk = 0; next }
         blk || /^replace / { sub(/^replace /, ""); sub(/\/\/.*/, "")
           for (i = 1; i < NF; i++) if ($i == "=>" && $(i + 1) !~ /^\.\.?\//) print "replace " $0 }' "$gomod"
  } >"$dir/go.mod"
  (cd "$dir" && go build -trimpath -o "$WORK/bin/$out" \
     -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$ver" "$pkg") ||
    die "building $out failed (see above)"
}
