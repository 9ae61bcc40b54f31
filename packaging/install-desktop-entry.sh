#!/bin/sh
# Add Scandex to the desktop's application menu for the current user (no root needed).
# Run it from the unpacked Scandex folder; run it again after moving the folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
mkdir -p "$apps" "$icons"
cp "$here/scandex.png" "$icons/scandex.png"
sed "s|^Exec=scandex-desktop|Exec=\"$here/scandex-desktop\"|" "$here/scandex.desktop" \
  > "$apps/scandex.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" || true
echo "Scandex added to the application menu ($apps/scandex.desktop)"
