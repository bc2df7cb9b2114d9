#!/usr/bin/env bash
# Builds tidb-server v8.5.6 from the Go module proxy into a cache directory
# outside the repository:
#
#   ${NECTAR_CACHE:-$HOME/.cache/nectar}/bin/tidb-server
#
# TiDB lives in its own module (infra/local/tidb) so that its ~620 modules
# never enter Nectar's go.mod. The module is copied to a scratch directory
# under the cache, so the build never writes into the repository.
#
# It must be built with Go 1.25 (built with 1.26 it panics at start: "The hack
# package only supports go1.25"); GOTOOLCHAIN=go1.25.8 fetches that toolchain
# from the module proxy. Cold: ~6-8 min on 2 cores; a no-op when the binary
# exists and answers -V. Set NECTAR_TIDB_REBUILD=1 to force a rebuild.
set -euo pipefail

readonly TIDB_VERSION="v1.1.0-beta.0.20260413061245-ae18096e0237"
readonly TIDB_RELEASE="v8.5.6"
readonly TIDB_TOOLCHAIN="go1.25.8"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag=build-tidb
# shellcheck source=infra/local/lib.sh
source "${script_dir}/lib.sh"
module_dir="${script_dir}/tidb"
bin_dir="${cache_dir}/bin"
binary="${bin_dir}/tidb-server"

binary_ok() {
	[[ -x "${binary}" ]] || return 1
	local out
	out="$("${binary}" -V 2>&1)" || return 1
	[[ "${out}" == *"${TIDB_RELEASE}"* ]]
}

command -v go >/dev/null 2>&1 || { log "go not found in PATH"; exit 1; }
mkdir -p "${bin_dir}"

# One build at a time: a concurrent caller (e.g. services.sh up) waits here
# and then finds the finished binary.
exec 9>"${cache_dir}/build-tidb.lock"
if ! flock -n 9; then
	log "another build is running; waiting for it"
	flock 9
fi

if [[ "${NECTAR_TIDB_REBUILD:-0}" != 1 ]] && binary_ok; then
	log "up to date: ${binary} ($("${binary}" -V 2>&1 | grep -m1 'Release Version' || true))"
	exit 0
fi

start=${SECONDS}
build_root="${cache_dir}/build"
mkdir -p "${build_root}"
work="$(mktemp -d "${build_root}/tidb.XXXXXX")"
cleanup() { rm -rf "${work}"; }
trap cleanup EXIT

cp "${module_dir}/go.mod" "${module_dir}/tools.go" "${work}/"
if [[ -f "${module_dir}/go.sum" ]]; then
	cp "${module_dir}/go.sum" "${work}/"
fi
cd "${work}"

# The module is go 1.25.8; the host Go (>= 1.25.8) can resolve it.
log "go mod tidy in ${work} (~35 s; downloads ~2.9 GB of modules when cold)"
GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod tidy
log "go get github.com/pingcap/tidb/cmd/tidb-server@${TIDB_VERSION}"
GOTOOLCHAIN=local go get "github.com/pingcap/tidb/cmd/tidb-server@${TIDB_VERSION}"

log "go build with ${TIDB_TOOLCHAIN} (~6 min cold, ~15 s relink)"
tmp_bin="${bin_dir}/.tidb-server.$$"
GOTOOLCHAIN="${TIDB_TOOLCHAIN}" go build \
	-ldflags "-s -w -X github.com/pingcap/tidb/pkg/parser/mysql.TiDBReleaseVersion=${TIDB_RELEASE}" \
	-o "${tmp_bin}" github.com/pingcap/tidb/cmd/tidb-server
mv -f "${tmp_bin}" "${binary}"

if ! binary_ok; then
	log "built binary does not answer -V with ${TIDB_RELEASE}:"
	"${binary}" -V >&2 || true
	exit 1
fi
log "built ${binary} in $((SECONDS - start)) s"
