#!/usr/bin/env bash
# Installs what building Rounds needs on a fresh Debian/Ubuntu machine that has only the Rust
# toolchain: a C compiler, make, perl and OpenSSL's headers (SQLCipher is built from source and
# linked against the system's OpenSSL, as is the TLS of the sync client); WebKitGTK for the Tauri field app; and for its end-to-end journey a display without
# a screen (Xvfb), a session bus, WebKit's WebDriver, tauri-driver and Node. Safe to run again;
# installs nothing that is already there.
set -euo pipefail

missing=()
command -v cc >/dev/null || missing+=(build-essential)
command -v make >/dev/null || missing+=(make)
perl -MFindBin -MIPC::Cmd -e1 2>/dev/null || missing+=(perl)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v curl >/dev/null || missing+=(curl)
command -v node >/dev/null || missing+=(nodejs)
# The server's PostgreSQL tests start a private cluster with Debian's server programs
# (initdb, pg_ctl, createdb, psql: crates/pgtest).
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || command -v pg_config >/dev/null || missing+=(postgresql-15)
command -v psql >/dev/null || missing+=(postgresql-client-15)
# The Tauri field app (src-tauri) and its journey (tests/tauri): WebKitGTK's headers, and
# WebKitWebDriver, which must match the installed WebKitGTK (both come from the same source).
# The browser journeys (tests/ui) drive Debian's chromium with playwright-core.
# The district server's report PDF embeds Noto fonts (Latin and Vietnamese, Arabic, CJK):
# fonts-noto-core and fonts-noto-cjk, found under /usr/share/fonts (rounds-server --fonts).
# haproxy is the reverse proxy of the server tests that run two processes on one PostgreSQL
# (crates/server/tests/e2e/district.rs).
# mold links the test binaries several times faster than the default linker (scripts/test.sh).
for pkg in libssl-dev mold haproxy libwebkit2gtk-4.1-dev xvfb xauth webkit2gtk-driver dbus-x11 at-spi2-core imagemagick chromium fonts-dejavu-core poppler-utils fonts-noto-core fonts-noto-cjk; do
    [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
    echo "Installing: ${missing[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

# The WebDriver server the Tauri journey talks to; it starts WebKitWebDriver, which starts the app.
command -v tauri-driver >/dev/null || cargo install tauri-driver --version 2.1.0 --locked
