#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Primus C++ builds against, when missing.
# Only distribution packages: nothing is vendored or downloaded at build time.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config git
  libyaml-cpp-dev libfmt-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libopenblas-dev libopenmpi-dev openmpi-bin zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install_deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
