#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium (/usr/bin/chromium)
# and the npm packages of tests/browser. Idempotent; silent when all is present.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "install-test-deps: installing Debian chromium"
  sudo_cmd=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

browser_dir="tests/browser"
if [[ ! -d "$browser_dir/node_modules" || "$browser_dir/package-lock.json" -nt "$browser_dir/node_modules" ]]; then
  echo "install-test-deps: installing npm packages in $browser_dir"
  (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # npm ci may leave node_modules' mtime older than the lock; mark it fresh.
  touch "$browser_dir/node_modules"
fi
