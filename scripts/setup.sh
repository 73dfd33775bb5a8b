#!/usr/bin/env bash
# Installs what building Rounds needs on a fresh Debian/Ubuntu machine that has only the Rust
# toolchain: a C compiler, make and perl (SQLCipher and its vendored OpenSSL are built from
# source). Safe to run again; installs nothing that is already there.
set -euo pipefail

missing=()
command -v cc >/dev/null || missing+=(build-essential)
command -v make >/dev/null || missing+=(make)
perl -MFindBin -MIPC::Cmd -e1 2>/dev/null || missing+=(perl)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v curl >/dev/null || missing+=(curl)

if ((${#missing[@]})); then
    echo "Installing: ${missing[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
