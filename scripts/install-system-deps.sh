#!/usr/bin/env sh
# Debian/Ubuntu packages Scandex needs outside Python: Tesseract with English,
# and the libraries Qt needs to run offscreen or under Xvfb (tests, screenshots).
set -eu
PACKAGES="tesseract-ocr tesseract-ocr-eng xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 \
libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Scandex needs these system packages:$missing" >&2
  echo "Install them with: sudo apt-get install -y$missing" >&2
  echo "(macOS: brew install tesseract; Windows: the UB Mannheim Tesseract installer)" >&2
  exit 3
fi
echo "installing system packages:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
