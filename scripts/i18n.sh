#!/usr/bin/env bash
# The text catalogue (registry/i18n; docs/i18n.md):
#   scripts/i18n.sh extract   messages.pot from the sources, as babel.cfg maps them
#   scripts/i18n.sh update    merge messages.pot into both catalogues (new entries get an
#                             empty msgstr: fill them in; tests/test_catalogue.py checks)
#   scripts/i18n.sh compile   the .mo files gettext reads (also done by the package build)
set -euo pipefail
cd "$(dirname "$0")/.."
LOCALE=registry/i18n/locale
POT=build/messages.pot
case "${1:-}" in
  extract)
    mkdir -p build
    # From the repository root: babel.cfg's patterns are relative to it.
    pybabel extract -F babel.cfg -k N_ -k _zh -k _en -k _pzh:1c,2 -k _pen:1c,2 --sort-by-file -w 100 \
      --project guarantee-registry -o "$POT" .
    ;;
  update)
    "$0" extract
    pybabel update -i "$POT" -d "$LOCALE" -D messages -w 100 --ignore-obsolete --no-fuzzy-matching
    ;;
  compile)
    pybabel compile -d "$LOCALE" -D messages --statistics
    ;;
  *)
    echo "usage: $0 extract|update|compile" >&2
    exit 2
    ;;
esac
