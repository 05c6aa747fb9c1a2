#!/usr/bin/env bash
# The user-side tools tests/perf/bench_enable.py compares the collection with, into
# ${EKSOPS_BENCH_TOOLS:-.build/bench-tools}/bin (nothing system-wide, no kubectl or aws already
# on PATH is replaced or used):
#   aws      the AWS CLI v1 from PyPI (requirements/bench-cli.txt), in a venv of its own
#   kubectl  Debian's kubernetes-client (bookworm: 1.20.2, the lab's Kubernetes version),
#            fetched with `apt-get download` and unpacked with dpkg-deb, not installed
# Skips a tool that is already there and runs. Needs root (or sudo) only for `apt-get update`
# when apt has no kubernetes-client candidate yet.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="${EKSOPS_BENCH_TOOLS:-${ROOT}/.build/bench-tools}"
PYTHON="${PYTHON:-${ROOT}/.venv/bin/python}"
mkdir -p "${DEST}/bin"

if ! "${DEST}/bin/aws" --version >/dev/null 2>&1; then
  echo "installing the AWS CLI v1 (PyPI awscli) into ${DEST}/awscli"
  rm -rf "${DEST}/awscli"
  "${PYTHON}" -m venv "${DEST}/awscli"
  "${DEST}/awscli/bin/python" -m pip install -q --disable-pip-version-check \
    -r "${ROOT}/requirements/bench-cli.txt" 2>&1 | grep -v "^WARNING: Location" || true
  ln -sfn ../awscli/bin/aws "${DEST}/bin/aws"
fi

if ! "${DEST}/bin/kubectl" version --client >/dev/null 2>&1; then
  echo "fetching kubectl (Debian kubernetes-client) into ${DEST}/bin"
  if ! apt-cache policy kubernetes-client 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  (cd "${work}" && apt-get download -qq kubernetes-client 2>&1 | grep -v "unsandboxed" || true)
  deb="$(ls "${work}"/kubernetes-client_*.deb)"
  dpkg-deb -x "${deb}" "${work}/root"
  install -m 0755 "${work}/root/usr/bin/kubectl" "${DEST}/bin/kubectl"
fi

echo "aws: $("${DEST}/bin/aws" --version 2>&1)"
echo "kubectl: $("${DEST}/bin/kubectl" version --client --short 2>/dev/null || "${DEST}/bin/kubectl" version --client)"
