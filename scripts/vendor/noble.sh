#!/usr/bin/env bash
# Rebuilds web/static/vendor/noble.js, the pure-JavaScript Ed25519 + SHA-256 the consumer
# page loads only where WebCrypto lacks Ed25519. The npm tarballs are pinned by their
# registry integrity hashes (npm checks them on install); the bundle is an ES2017-level IIFE
# (Chrome 67+ / Safari 15+: BigInt is the floor) whose SHA-256 the page carries as its SRI value.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/noble-entry.js" "$work/entry.js"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact \
  @noble/ed25519@3.2.0 @noble/hashes@2.4.0 esbuild@0.28.2 >/dev/null
want_ed="sha512-criDgRlnUA09hchYrTy/JUWPIEap5rZxQe6wDWzRx51oWWpDRcUpuNzlgPxDJaOK6AsW9c0wKcj3rKRv6t+bPQ=="
want_hashes="sha512-X5XaVWZIBCT7HHZGm5I7ZQXDwLG+bGXuSrMQAW+7Zvl87h1kmc1ZB1VSRJcpUfoUrGQp4Fkoxm5kZ+Ms+aW+eA=="
got_ed="$(node -p "require('./package-lock.json').packages['node_modules/@noble/ed25519'].integrity")"
got_hashes="$(node -p "require('./package-lock.json').packages['node_modules/@noble/hashes'].integrity")"
[ "$got_ed" = "$want_ed" ] || { echo "@noble/ed25519 integrity is $got_ed, not $want_ed" >&2; exit 1; }
[ "$got_hashes" = "$want_hashes" ] || { echo "@noble/hashes integrity is $got_hashes" >&2; exit 1; }
out="$repo/web/static/vendor"
node_modules/.bin/esbuild entry.js --bundle --format=iife --target=chrome67,safari15 \
  --minify --legal-comments=none --charset=utf8 --outfile="$out/noble.js"
cp node_modules/@noble/ed25519/LICENSE "$out/LICENSE.noble-ed25519"
cp node_modules/@noble/hashes/LICENSE "$out/LICENSE.noble-hashes"
echo "sha256-$(openssl dgst -sha256 -binary "$out/noble.js" | base64 -w0)  web/static/vendor/noble.js"
