#!/bin/sh
# Put the Folio bundle in your menus: run it from inside the unpacked dist/folio folder.
#   ./install-linux.sh            installs for you (~/.local), no root needed
#   ./install-linux.sh --remove   undoes it (your library and settings are kept)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
bin=$HOME/.local/bin
if [ "${1:-}" = "--remove" ]; then
    rm -f "$bin/folio" "$data/applications/folio.desktop" \
        "$data/icons/hicolor/scalable/apps/folio.svg"
    echo "Folio removed from the menus (the bundle folder and your library are untouched)."
    exit 0
fi
mkdir -p "$bin" "$data/applications" "$data/icons/hicolor/scalable/apps"
ln -sf "$here/folio" "$bin/folio"
cp "$here/folio.svg" "$data/icons/hicolor/scalable/apps/folio.svg"
sed "s|^Exec=folio|Exec=$here/folio|; s|^TryExec=folio|TryExec=$here/folio|" \
    "$here/folio.desktop" > "$data/applications/folio.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" || true
echo "Folio installed: find it in your applications menu, or run 'folio' ($bin/folio)."
