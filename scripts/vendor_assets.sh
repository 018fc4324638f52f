#!/usr/bin/env bash
# Vendor the pinned front-end libraries (frontend/package-lock.json) into webapp/static/vendor/.
# Needs Node.js and the npm registry; only developers run it when a version changes. The copied
# prebuilt bundles are committed, so `make run` and `make test` need no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
FRONTEND=frontend
VENDOR=webapp/static/vendor

(cd "$FRONTEND" && npm ci --ignore-scripts --no-audit --no-fund)
NM="$FRONTEND/node_modules"

version() { node -p "require('./$NM/$1/package.json').version"; }

rm -rf "$VENDOR/bpmn-js" "$VENDOR/dmn-js"
mkdir -p "$VENDOR/bpmn-js" "$VENDOR/dmn-js"

# bpmn-js: viewer, navigated viewer (zoom/scroll) and modeler bundles plus their CSS and icon font.
for f in bpmn-viewer.production.min.js bpmn-navigated-viewer.production.min.js bpmn-modeler.production.min.js; do
    cp "$NM/bpmn-js/dist/$f" "$VENDOR/bpmn-js/"
done
cp -R "$NM/bpmn-js/dist/assets" "$VENDOR/bpmn-js/assets"
cp "$NM/bpmn-js/LICENSE" "$VENDOR/bpmn-js/LICENSE"

# dmn-js: the viewer and modeler bundles (decision tables, DRD, literal expressions) plus CSS and icon font.
for f in dmn-viewer.production.min.js dmn-modeler.production.min.js; do
    cp "$NM/dmn-js/dist/$f" "$VENDOR/dmn-js/"
done
cp -R "$NM/dmn-js/dist/assets" "$VENDOR/dmn-js/assets"
cp "$NM/dmn-js/LICENSE" "$VENDOR/dmn-js/LICENSE"

# The production bundles carry no source maps; drop any a future release adds (we do not ship the sources).
find "$VENDOR" -name '*.map' -delete
cat > "$VENDOR/VERSIONS" <<VERSIONS
bpmn-js $(version bpmn-js)
dmn-js $(version dmn-js)
VERSIONS
echo "vendored: $(tr '\n' ' ' < "$VENDOR/VERSIONS")"
du -sh "$VENDOR"
