#!/usr/bin/env bash
# Installs what the browser and integration tests need: Debian's Chromium
# (/usr/bin/chromium), poppler-utils (pdftotext, pdftoppm), zbar-tools (zbarimg, which reads the
# QR codes of the marketing pack's posters), clamav-daemon (clamd), openssh-server (sshd, the
# SFTP server the HR export is delivered to), the npm packages of tests/browser and of the OpenID
# provider peer tests/peers/oidc, and the Python packages of the peers (tests/peers/requirements.txt:
# the SMTP sink, DNS, S3 and SCIM peers, and dkimpy, which checks the DKIM signatures of bulk
# mail). Idempotent; silent when all is present.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# Debian's Chromium for the browser tests, poppler-utils' pdftotext, which the tests use to read
# the text of the PDFs the service makes (certificates, reports), and clamav-daemon (clamd), the
# virus scanner the upload tests scan with (tests/peers/clamd.py starts it on the project's own
# configuration, deploy/clamav/clamd.conf, with a test signature database).
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/pdftotext || ! -x /usr/bin/zbarimg || ! -x /usr/sbin/clamd || ! -x /usr/sbin/sshd ]]; then
  echo "install-test-deps: installing Debian chromium, poppler-utils, zbar-tools, clamav-daemon and openssh-server"
  sudo_cmd=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium poppler-utils zbar-tools clamav-daemon openssh-server openssh-client >/dev/null
fi

browser_dir="tests/browser"
if [[ ! -d "$browser_dir/node_modules" || "$browser_dir/package-lock.json" -nt "$browser_dir/node_modules" ]]; then
  echo "install-test-deps: installing npm packages in $browser_dir"
  (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # npm ci may leave node_modules' mtime older than the lock; mark it fresh.
  touch "$browser_dir/node_modules"
fi

oidc_dir="tests/peers/oidc"
if [[ ! -d "$oidc_dir/node_modules" || "$oidc_dir/package-lock.json" -nt "$oidc_dir/node_modules" ]]; then
  echo "install-test-deps: installing npm packages in $oidc_dir"
  (cd "$oidc_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$oidc_dir/node_modules"
fi

if ! python3 -c "import aiosmtpd, dnslib, moto.server, jwt, scim2_tester, httpx2, dkim" 2>/dev/null; then
  echo "install-test-deps: installing Python packages of tests/peers/requirements.txt"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    -r tests/peers/requirements.txt >/dev/null
fi
