#!/usr/bin/env bash
# The provider plugin as a release archive, for `pulumi plugin install resource
# deployment-authorization <version> --file <archive>` (or a release's download URL):
#
#   bash scripts/plugin-archive.sh [OUT_DIR]    # default: dist/plugin
#
# Writes pulumi-resource-deployment-authorization-v<version>-<os>-<arch>.tar.gz for linux and
# darwin, amd64 and arm64 (one content: the plugin runs on the Node.js on PATH, 20 or newer):
# the launcher at the top, beside this package as npm installs it (package.json, schema.json,
# dist/sdk, dist/provider) and its production dependencies (node_modules, @pulumi/pulumi with them).
# Needs `npm run build` first, and the npm registry (or npm's cache).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/dist/plugin}" && cd "${1:-$ROOT/dist/plugin}" && pwd)
log() { echo "plugin-archive.sh: $*" >&2; }
die() { echo "plugin-archive.sh: error: $*" >&2; exit 1; }

[[ -f $ROOT/dist/sdk/plugin/main.js ]] || die "no dist/sdk/plugin/main.js: run npm run build first"
version=$(node -p "require('$ROOT/package.json').version")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
t=$SECONDS

# The package exactly as npm publishes it (package.json "files"), then its production dependencies.
tarball=$(cd "$ROOT" && npm pack --silent --ignore-scripts --pack-destination "$work" | tail -1)
tar -xzf "$work/$tarball" -C "$work"
stage=$work/package
# In a program, @pulumi/pulumi is the program's (a peer dependency); the plugin runs on its own, so
# it gets the version this package is tested with (its devDependency) as a dependency of its own.
node -e '
  const fs = require("fs"), file = process.argv[1], pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  pkg.dependencies["@pulumi/pulumi"] = pkg.devDependencies["@pulumi/pulumi"];
  delete pkg.devDependencies; delete pkg.peerDependencies;
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");' "$stage/package.json"
(cd "$stage" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null) ||
  die "npm install --omit=dev failed (see above)"
# The launcher at the top of the archive, where the engine looks for the plugin's executable.
mv "$stage/bin/pulumi-resource-deployment-authorization" "$stage/pulumi-resource-deployment-authorization"
rmdir "$stage/bin" 2>/dev/null || true

for os in linux darwin; do
  for arch in amd64 arm64; do
    archive=$OUT/pulumi-resource-deployment-authorization-v$version-$os-$arch.tar.gz
    tar -czf "$archive" -C "$stage" .
  done
done
log "wrote $OUT/pulumi-resource-deployment-authorization-v$version-{linux,darwin}-{amd64,arm64}.tar.gz ($(du -h "$archive" | cut -f1) each) in $((SECONDS - t))s"
