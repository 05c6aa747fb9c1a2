#!/usr/bin/env bash
# Debian packages the lab and its tests need: etcd (the API servers' store) and chromium (the
# fleet report's HTML is checked in a headless browser). Installs only what is missing.
set -euo pipefail
need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "etcd: $(etcd --version | head -n1)"
echo "chromium: $(chromium --version 2>/dev/null | head -n1)"
