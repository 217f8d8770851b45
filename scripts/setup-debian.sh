#!/bin/sh
# Installs the Debian packages the test suite needs (ngtcp2's example programs for interop).
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v gtlsclient >/dev/null 2>&1 && { command -v gtlsserver >/dev/null 2>&1 || [ -x /usr/sbin/gtlsserver ]; }; then
  echo "setup: ngtcp2 example programs already installed"
  exit 0
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y ngtcp2-client ngtcp2-server
