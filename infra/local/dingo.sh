#!/usr/bin/env bash
# Local stand-in for a cardano-node's Node-to-Client interface, for tests and
# demos: dingo v0.66.0 (blinklabs-io/dingo, an independent Go node), serving
# the repository's 59,315 preview blocks (testdata/chains/preview) over N2C.
# It has no peers, so its chain is static: no new blocks, no rollbacks.
#
# Usage: dingo.sh up|down|status|env
#   up      build dingo and load the chunks if needed (once; cached), then
#           start `dingo serve` if it is not running (a no-op when it runs and
#           its socket accepts); writes STATE/dingo.env and prints its path
#   down    stop it (no-op when stopped); removes STATE/dingo.env
#   status  whether it runs, its socket and ports; exit 0 only if it accepts
#   env     print the path of STATE/dingo.env (exit 1 if dingo is not up):
#             source "$(infra/local/dingo.sh env)"
#           exports NECTAR_TEST_DINGO_SOCKET (N2C unix socket) and
#           NECTAR_TEST_DINGO_ADDRESS (the same, over TCP on 127.0.0.1)
#
# STATE = ${NECTAR_LOCAL_STATE:-${NECTAR_CACHE:-$HOME/.cache/nectar}/local}.
# CACHE = ${NECTAR_CACHE:-$HOME/.cache/nectar} holds the binary (CACHE/bin/dingo,
# ~3 min to build; NECTAR_DINGO_REBUILD=1 forces it) and the loaded database
# (CACHE/dingo/preview-db, ~95 s to load; reloaded only when the chunk files
# change, see CACHE/dingo/preview-db.loaded). Each start serves a fresh copy
# of that database from STATE/dingo/db, so the cached one is never written to.
# Config templates: infra/local/dingo/. Everything binds 127.0.0.1 or the socket.
set -euo pipefail

readonly DINGO_VERSION="v0.66.0"
readonly DINGO_COMMIT="c723c2f0931d916faee37551c70761cd17bf466c"
readonly DINGO_MODULE="github.com/blinklabs-io/dingo"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag=dingo
# shellcheck source=infra/local/lib.sh
source "${script_dir}/lib.sh"
repo_dir="$(cd "${script_dir}/../.." && pwd)"
tmpl_dir="${script_dir}/dingo"
chunks_dir="${repo_dir}/testdata/chains/preview"
dingo_bin="${cache_dir}/bin/dingo"
db_root="${cache_dir}/dingo"
db_cached="${db_root}/preview-db"
db_marker="${db_root}/preview-db.loaded"
run_dir="${state}/dingo"
db_run="${run_dir}/db"
socket="${run_dir}/node.socket"
pidfile="${run_dir}/dingo.pid"
meta="${run_dir}/meta"
run_log="${run_dir}/dingo.log"
env_file="${state}/dingo.env"

readonly start_wait_s=60
readonly stop_wait_s=30
readonly load_timeout_s=900

# ---------------------------------------------------------------- helpers


# socket_accepts PATH: a connection to the unix socket PATH succeeds.
socket_accepts() {
	local path=$1
	[[ -S "${path}" ]] || return 1
	if command -v socat >/dev/null 2>&1; then
		timeout 3 socat -u OPEN:/dev/null "UNIX-CONNECT:${path}" >/dev/null 2>&1
	elif command -v python3 >/dev/null 2>&1; then
		timeout 3 python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()' \
			"${path}" >/dev/null 2>&1
	else
		# Listening is the best this host can tell without a client.
		ss -Hxl 2>/dev/null | grep -qF " ${path} "
	fi
}

# render TEMPLATE OUT NAME=VALUE...: replaces each @NAME@ in TEMPLATE.
# Values are paths and port numbers; none may contain a double quote, a
# newline or the sed delimiter.
render() {
	local tmpl=$1 out=$2 kv name value
	shift 2
	local args=()
	for kv in "$@"; do
		name="${kv%%=*}"
		value="${kv#*=}"
		[[ "${value}" != *[\"\|$'\n']* ]] || die "cannot put ${value@Q} into ${tmpl}"
		args+=(-e "s|@${name}@|${value}|g")
	done
	sed "${args[@]}" "${tmpl}" >"${out}.tmp"
	if grep -q '@[A-Z_]*@' "${out}.tmp"; then
		die "unfilled placeholder in ${out}: $(grep -o '@[A-Z_]*@' "${out}.tmp" | head -1)"
	fi
	mv -f "${out}.tmp" "${out}"
}

# ---------------------------------------------------------------- build

binary_ok() {
	[[ -x "${dingo_bin}" ]] || return 1
	local out
	out="$(timeout 20 "${dingo_bin}" version 2>&1)" || return 1
	[[ "${out}" == *"${DINGO_VERSION}"* ]]
}

ensure_built() {
	command -v go >/dev/null 2>&1 || die "go not found in PATH"
	mkdir -p "${cache_dir}/bin" "${cache_dir}/build"
	# One build at a time; a concurrent caller waits and finds the binary.
	exec 7>"${cache_dir}/build-dingo.lock"
	if ! flock -n 7; then
		log "another dingo build is running; waiting for it"
		flock 7
	fi
	if [[ "${NECTAR_DINGO_REBUILD:-0}" != 1 ]] && binary_ok; then
		exec 7>&-
		return 0
	fi
	local start=${SECONDS} work src tmp_bin
	log "building dingo ${DINGO_VERSION} into ${dingo_bin} (~3 min cold)"
	work="$(mktemp -d "${cache_dir}/build/dingo.XXXXXX")"
	# dingo's blinklabs-io dependencies are not all in the checksum database.
	local mod_dir
	mod_dir="$(cd "${work}" && GONOSUMDB=github.com/blinklabs-io GOFLAGS='' GOWORK=off go mod download -json \
		"${DINGO_MODULE}@${DINGO_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	if [[ -z "${mod_dir}" || ! -d "${mod_dir}" ]]; then
		rm -rf "${work}"
		die "go mod download ${DINGO_MODULE}@${DINGO_VERSION} gave no directory"
	fi
	# The module cache is read-only; build from a writable copy.
	src="${work}/src"
	cp -r "${mod_dir}" "${src}"
	chmod -R u+w "${src}"
	tmp_bin="${cache_dir}/bin/.dingo.$$"
	if ! (cd "${src}" && GONOSUMDB=github.com/blinklabs-io GOFLAGS='' GOWORK=off CGO_ENABLED=0 go build \
		-ldflags "-s -w -X '${DINGO_MODULE}/internal/version.Version=${DINGO_VERSION}' -X '${DINGO_MODULE}/internal/version.CommitHash=${DINGO_COMMIT:0:7}'" \
		-o "${tmp_bin}" ./cmd/dingo); then
		rm -rf "${work}" "${tmp_bin}"
		die "go build of dingo failed"
	fi
	mv -f "${tmp_bin}" "${dingo_bin}"
	rm -rf "${work}"
	binary_ok || die "${dingo_bin} does not answer 'version' with ${DINGO_VERSION}"
	log "built ${dingo_bin} in $((SECONDS - start)) s"
	exec 7>&-
}

# ---------------------------------------------------------------- load

# chunks_digest: sha256 of the chunk files' names and contents.
chunks_digest() {
	(
		cd "${chunks_dir}"
		shopt -s nullglob
		local files=(*.chunk *.primary *.secondary)
		((${#files[@]} > 0)) || exit 1
		sha256sum "${files[@]}" | LC_ALL=C sort -k2 | sha256sum | cut -d' ' -f1
	)
}

# What the cached database must have been loaded from.
want_marker() {
	local digest
	digest="$(chunks_digest)" || die "no chunk files in ${chunks_dir}"
	printf 'dingo=%s\nchunks=%s\n' "${DINGO_VERSION}" "${digest}"
}

ensure_loaded() {
	[[ -d "${chunks_dir}" ]] || die "no chunk directory ${chunks_dir}"
	mkdir -p "${db_root}"
	exec 6>"${db_root}/load.lock"
	if ! flock -n 6; then
		log "another dingo load is running; waiting for it"
		flock 6
	fi
	local want
	want="$(want_marker)"
	if [[ -d "${db_cached}" && -s "${db_marker}" && "$(<"${db_marker}")" == "${want}" ]]; then
		exec 6>&-
		return 0
	fi
	local start=${SECONDS} work n
	n="$(find "${chunks_dir}" -maxdepth 1 -name '*.chunk' | wc -l)"
	log "loading ${n} chunks from ${chunks_dir} into ${db_cached} (~95 s)"
	rm -f "${db_marker}"
	rm -rf "${db_root}"/preview-db.tmp.*
	work="$(mktemp -d "${db_root}/preview-db.tmp.XXXXXX")"
	mkdir -p "${work}/db"
	cp "${tmpl_dir}/topology.json" "${work}/topology.json"
	# Load opens no listener; the ports only fill the template.
	render "${tmpl_dir}/dingo.yaml.tmpl" "${work}/dingo.yaml" \
		"DATABASE_PATH=${work}/db" "SOCKET_PATH=${work}/node.socket" \
		"TOPOLOGY=${work}/topology.json" RELAY_PORT=0 PRIVATE_PORT=0 METRICS_PORT=0
	if ! (cd "${work}" && timeout "${load_timeout_s}" "${dingo_bin}" --config "${work}/dingo.yaml" \
		load "${chunks_dir}" </dev/null >"${work}/load.log" 2>&1); then
		log_tail "${work}/load.log"
		die "dingo load failed; its log: ${work}/load.log"
	fi
	rm -rf "${db_cached}"
	mv "${work}/db" "${db_cached}"
	mv -f "${work}/load.log" "${db_root}/preview-db.load.log"
	rm -rf "${work}"
	printf '%s\n' "${want}" >"${db_marker}.tmp"
	mv -f "${db_marker}.tmp" "${db_marker}"
	log "loaded in $((SECONDS - start)) s ($(du -sh "${db_cached}" | cut -f1))"
	exec 6>&-
}

# ---------------------------------------------------------------- serve

healthy() {
	pid_alive "${pidfile}" dingo && socket_accepts "${socket}"
}

stop_dingo() {
	if pid_alive "${pidfile}" dingo; then
		log "stopping dingo (pid $(<"${pidfile}"))"
		stop_pid "${pidfile}" dingo
	fi
	rm -f "${pidfile}" "${socket}" "${meta}"
	rm -rf "${db_run}"
}

# One attempt to start dingo; returns 1 (after cleaning up) if it did not come up.
start_dingo_once() {
	local relay_port private_port metrics_port pid i
	pick_port relay_port
	pick_port private_port
	pick_port metrics_port

	rm -rf "${db_run}"
	rm -f "${socket}" "${pidfile}" "${meta}" "${run_log}"
	# A fresh copy of the loaded database: serving writes to it.
	cp -a --reflink=auto "${db_cached}" "${db_run}"
	cp "${tmpl_dir}/topology.json" "${run_dir}/topology.json"
	render "${tmpl_dir}/dingo.yaml.tmpl" "${run_dir}/dingo.yaml" \
		"DATABASE_PATH=${db_run}" "SOCKET_PATH=${socket}" "TOPOLOGY=${run_dir}/topology.json" \
		"RELAY_PORT=${relay_port}" "PRIVATE_PORT=${private_port}" "METRICS_PORT=${metrics_port}"

	log "starting dingo: N2C on ${socket} and ${bind_host}:${private_port} (relay ${relay_port}, metrics ${metrics_port})"
	(
		cd "${run_dir}"
		exec setsid "${dingo_bin}" --config "${run_dir}/dingo.yaml" serve \
			</dev/null >"${run_log}" 2>&1 8>&- 7>&- 6>&-
	) &
	pid=$!
	echo "${pid}" >"${pidfile}"

	for ((i = 0; i < start_wait_s * 5; i++)); do
		if ! kill -0 "${pid}" 2>/dev/null; then
			log "dingo exited during start"
			log_tail "${run_log}"
			rm -f "${pidfile}"
			return 1
		fi
		socket_accepts "${socket}" && break
		sleep 0.2
	done
	if ! socket_accepts "${socket}"; then
		log "dingo's socket did not accept within ${start_wait_s} s"
		log_tail "${run_log}"
		stop_dingo
		return 1
	fi
	if ! pid_alive "${pidfile}" dingo; then
		log "pid ${pid} is not dingo ($(cat "/proc/${pid}/comm" 2>/dev/null || true))"
		kill -KILL "${pid}" 2>/dev/null || true
		return 1
	fi
	write_meta "${meta}" "relay_port=${relay_port}" "private_port=${private_port}" \
		"metrics_port=${metrics_port}"
	log "dingo ready (pid ${pid})"
}

start_dingo() {
	local attempt
	mkdir -p "${run_dir}"
	for attempt in 1 2 3; do
		start_dingo_once && return 0
		log "dingo start attempt ${attempt} failed"
	done
	die "dingo did not start; logs in ${run_dir}"
}

write_env() {
	local d_private_port=""
	read_meta "${meta}" d || die "missing ${meta}"
	{
		echo "# Written by infra/local/dingo.sh up; removed by down."
		printf 'export NECTAR_TEST_DINGO_SOCKET=%q\n' "${socket}"
		printf 'export NECTAR_TEST_DINGO_ADDRESS=%q\n' "${bind_host}:${d_private_port}"
	} >"${env_file}.tmp"
	mv -f "${env_file}.tmp" "${env_file}"
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local start=${SECONDS}
	with_lock "${state}/dingo.lock"
	if healthy && [[ -s "${env_file}" ]]; then
		log "already up"
		echo "${env_file}"
		return 0
	fi
	ensure_built
	ensure_loaded
	stop_dingo
	start_dingo
	write_env
	log "up in $((SECONDS - start)) s; env: ${env_file}"
	echo "${env_file}"
}

cmd_down() {
	with_lock "${state}/dingo.lock"
	rm -f "${env_file}"
	stop_dingo
	log "down"
}

cmd_status() {
	local rc=0 d_relay_port="" d_private_port="" d_metrics_port=""
	if pid_alive "${pidfile}" dingo; then
		read_meta "${meta}" d || true
		if socket_accepts "${socket}"; then
			echo "dingo: running, pid $(<"${pidfile}"), N2C ${socket} and ${bind_host}:${d_private_port} (relay ${d_relay_port}, metrics ${d_metrics_port}), accepts"
		else
			echo "dingo: running, pid $(<"${pidfile}"), socket ${socket} NOT accepting"
			rc=1
		fi
	else
		echo "dingo: stopped"
		rc=1
	fi
	if [[ -s "${db_marker}" ]]; then
		echo "database: ${db_cached} ($(tr '\n' ' ' <"${db_marker}"))"
	else
		echo "database: not loaded"
	fi
	print_env_file "${env_file}"
	return "${rc}"
}

cmd_env() {
	[[ -s "${env_file}" ]] || die "no ${env_file}: run infra/local/dingo.sh up"
	healthy || die "dingo is not accepting on ${socket}: run infra/local/dingo.sh up"
	echo "${env_file}"
}

run_command "up down status env" "$@"
