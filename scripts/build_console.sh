#!/bin/sh
# Vendor the console's third-party browser code into ui/static/vendor/, from the versions pinned in
# package-lock.json. The server then serves everything itself: no CDN, works on a LAN without internet.
#
#   scripts/build_console.sh               npm ci, then copy
#   scripts/build_console.sh --no-install  copy from an existing node_modules
set -eu
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-install" ]; then
    npm ci --no-audit --no-fund --ignore-scripts
fi
for pkg in leaflet chart.js; do
    if [ ! -f "node_modules/$pkg/package.json" ]; then
        echo "node_modules/$pkg is missing: run 'npm ci' (or this script without --no-install)" >&2
        exit 1
    fi
done

dest=ui/static/vendor
rm -rf "$dest/leaflet" "$dest/chart.js"
mkdir -p "$dest/leaflet/images" "$dest/chart.js"

cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$dest/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$dest/leaflet/images/"
cp node_modules/leaflet/LICENSE "$dest/leaflet/LICENSE"

cp node_modules/chart.js/dist/chart.umd.min.js "$dest/chart.js/chart.umd.min.js"
cp node_modules/chart.js/LICENSE.md "$dest/chart.js/LICENSE.md"

# The source maps are not shipped; drop the comments pointing at them so browsers do not ask for them.
sed -i.bak -e '/^\/\/# sourceMappingURL=/d' "$dest/leaflet/leaflet.js" "$dest/chart.js/chart.umd.min.js"
rm -f "$dest/leaflet/leaflet.js.bak" "$dest/chart.js/chart.umd.min.js.bak"

node -e '
const fs = require("fs");
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const out = {};
for (const name of ["leaflet", "chart.js"]) out[name] = lock.packages["node_modules/" + name].version;
fs.writeFileSync(process.argv[1], JSON.stringify(out, null, 2) + "\n");
' "$dest/versions.json"
echo "vendored into $dest: $(cat "$dest/versions.json" | tr -d '\n ')"
