#!/bin/sh
# Installs what the test suite needs on a fresh Debian machine, idempotently:
# Debian's chromium (browser tests; never a downloaded browser), a CJK font (so screenshots
# show Chinese), poppler-utils (PDF pages to images), nginx with its brotli_static module
# (the published scan path, deploy/nginx.conf), wrk (registry bench), and the Python test extra.
set -eu
cd "$(dirname "$0")/.."

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
[ -e /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] || missing="$missing libnginx-mod-http-brotli-static"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing="$missing fonts-wqy-microhei"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && apt-get install -y -q --no-install-recommends $missing
  else
    echo "note: missing Debian packages:$missing (run as root to install; related tests skip)" >&2
  fi
fi
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
