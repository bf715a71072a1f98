#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) so Dawn finds an adapter on a machine with
# no GPU. Debian 12's own Mesa 22.x is rejected by Dawn; version 25 from bookworm-backports works.
# The backports source is derived from the machine's existing apt source, so no host is named here.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" = "bookworm" ] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ]; then
    # First deb822 stanza whose suites include plain "bookworm": reuse its URIs and key.
    awk -v RS= -v ORS='\n\n' '/Suites:[^\n]*bookworm( |$|\n)/ && !/security/ {print; exit}' "$src" \
      | sed -E 's/^Suites:.*/Suites: bookworm-backports/' > /etc/apt/sources.list.d/backports.sources
  else
    uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
    echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/backports.list
  fi
fi
apt-get update -qq
if [ "$codename" = "bookworm" ]; then
  apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
else
  apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
echo "lavapipe: $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
