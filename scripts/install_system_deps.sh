#!/bin/sh
# System libraries that offscreen rendering (videos) needs, installed when missing.
#
# MuJoCo renders offscreen through EGL (a GPU's driver, or Mesa's software device when there is
# no GPU) or OSMesa; on Debian/Ubuntu these come from the packages below. Safe to run any number
# of times: it does nothing when they are present. It installs only as root with apt-get;
# otherwise it prints the command to run and exits with status 1 (nothing else fails).
set -u

PACKAGES="libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 libosmesa6"

[ "$(uname -s)" = "Linux" ] || exit 0
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "note: videos need Mesa's EGL and DRI drivers or OSMesa (or a GPU driver with EGL);" \
         "install them with your package manager" >&2
    exit 1
fi

missing() {
    for pkg in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || printf ' %s' "$pkg"
    done
}

todo=$(missing)
[ -z "$todo" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages for offscreen rendering:$todo"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet; update only when the install needs it.
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $todo >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $todo >/dev/null; }
    todo=$(missing)
    [ -z "$todo" ] && exit 0
fi

echo "warning: rendering videos needs these system packages; install them with:" >&2
echo "    sudo apt-get install$todo" >&2
exit 1
