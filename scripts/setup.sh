#!/usr/bin/env bash
# What a fresh machine needs beyond the Rust toolchain: CBC, the MILP solver the ILP bootstrap
# placement links (Debian's coinor-libcbc-dev), installed when missing.
set -euo pipefail
if ! pkg-config --exists cbc 2>/dev/null && [ ! -e /usr/include/coin/CbcSolver.hpp ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coinor-libcbc-dev pkg-config
fi
