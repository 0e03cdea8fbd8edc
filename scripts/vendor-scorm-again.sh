#!/usr/bin/env bash
# Refreshes the SCORM runtime the content origin serves: scorm-again's browser builds, from the
# npm registry, at the version and integrity pinned here, into themes/default/static/vendor/.
#
#   scripts/vendor-scorm-again.sh
#
# The files are committed (MIT licence, kept beside them) so `trellis demo` needs nothing but
# Rust; this script is how they got there and how to move to a new version: change VERSION and
# INTEGRITY (from `npm view scorm-again@<v> dist.integrity`), run it, run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.4.3
INTEGRITY="sha512-Zbe+7ArMUbT1lVnqYxsbGRfI9JD9JVqEPzZLQdk0nfNmcDYJ404rMO9nbkQ0Hzwux5uACF9zKsvc29Q/ZzMOdg=="
out=themes/default/static/vendor/scorm-again
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "scorm-again@$VERSION" >/dev/null)
tarball="$work/scorm-again-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$got" != "$INTEGRITY" ]]; then
  echo "vendor-scorm-again: integrity mismatch: expected $INTEGRITY, got $got" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$out"
cp "$work/package/dist/scorm12.min.js" "$work/package/dist/scorm2004.min.js" "$work/package/LICENSE" "$out/"
cat >"$out/README.md" <<MD
# scorm-again $VERSION

The SCORM 1.2 and 2004 runtime APIs served by Trellis's content origin: \`dist/scorm12.min.js\` and
\`dist/scorm2004.min.js\` of the npm package [scorm-again](https://www.npmjs.com/package/scorm-again)
$VERSION (integrity \`$INTEGRITY\`), unmodified, under its MIT licence (LICENSE). Refreshed by
\`scripts/vendor-scorm-again.sh\`; not edited by hand.
MD
echo "vendor-scorm-again: scorm-again $VERSION in $out"
