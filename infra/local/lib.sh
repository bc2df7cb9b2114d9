# shellcheck shell=bash
# Helpers shared by the local stand-in scripts (services.sh, dingo.sh,
# sqs.sh, lambda.sh, qemu.sh, build-tidb.sh, run.sh). Source it with the
# script's log tag first:
#
#   tag=dingo
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets cache_dir and state (the locations every script shares, outside the
# repository) and bind_host. stop_pid waits stop_wait_s (default 30) when
# the sourcing script sets it.

: "${tag:?set tag before sourcing lib.sh}"
cache_dir="${NECTAR_CACHE:-${HOME}/.cache/nectar}"
# shellcheck disable=SC2034 # used by the sourcing scripts
state="${NECTAR_LOCAL_STATE:-${cache_dir}/local}"
readonly bind_host="127.0.0.1"

log() { printf '[%s %s] %s\n' "${tag}" "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# usage: print the sourcing script's leading comment block and exit 2.
usage() {
	sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# pid_running PID: PID exists and is not a zombie (an exited server waits for
# its new parent to reap it, which can take seconds in some containers).
pid_running() {
	local st=""
	kill -0 "$1" 2>/dev/null || return 1
	read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 1
	[[ -n "${st}" && "${st}" != Z ]]
}

# pid_alive PIDFILE COMM: the pid in PIDFILE runs and its command is COMM.
pid_alive() {
	local pidfile=$1 comm=$2 pid
	[[ -s "${pidfile}" ]] || return 1
	pid="$(<"${pidfile}")"
	[[ "${pid}" =~ ^[0-9]+$ ]] || return 1
	pid_running "${pid}" || return 1
	[[ "$(cat "/proc/${pid}/comm" 2>/dev/null)" == "${comm}" ]]
}

# stop_pid PIDFILE COMM: SIGTERM, a wait of stop_wait_s, then SIGKILL.
stop_pid() {
	local pidfile=$1 comm=$2 pid i wait_s=${stop_wait_s:-30}
	pid_alive "${pidfile}" "${comm}" || return 0
	pid="$(<"${pidfile}")"
	kill -TERM "${pid}" 2>/dev/null || true
	for ((i = 0; i < wait_s * 10; i++)); do
		pid_alive "${pidfile}" "${comm}" || return 0
		sleep 0.1
	done
	log "${comm} (pid ${pid}) ignored SIGTERM for ${wait_s} s; killing it"
	kill -KILL "${pid}" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pid_running "${pid}" || return 0
		sleep 0.1
	done
	die "could not stop ${comm} (pid ${pid})"
}

# Ports picked during this run, so that two listeners never get the same one.
picked_ports=" "

# port_free PORT [listen]: nothing uses PORT on bind_host; with "listen",
# nothing listens on it (sockets in TIME_WAIT after a stop do not keep a
# server from binding it again).
port_free() {
	local p=$1 states="all"
	[[ "${2:-}" != listen ]] || states="listening"
	[[ "${picked_ports}" != *" ${p} "* ]] || return 1
	if ss -Htan state "${states}" "( sport = :${p} )" 2>/dev/null | grep -q .; then
		return 1
	fi
	if (exec 3<>"/dev/tcp/${bind_host}/${p}") 2>/dev/null; then
		return 1
	fi
	return 0
}

# pick_port VAR: sets VAR to a free TCP port below the kernel's ephemeral range.
pick_port() {
	local var=$1 p i
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + RANDOM % 12000))
		if port_free "${p}"; then
			picked_ports+="${p} "
			printf -v "${var}" '%s' "${p}"
			return 0
		fi
	done
	die "no free port found"
}

# log_tail FILE...: the last lines of each non-empty FILE, to stderr.
log_tail() {
	local f
	for f in "$@"; do
		if [[ -s "${f}" ]]; then
			log "last lines of ${f}:"
			tail -n 30 "${f}" >&2
		fi
	done
}

# write_meta FILE KEY=VALUE...: a private file of hex or decimal values.
write_meta() {
	local file=$1
	shift
	printf '%s\n' "$@" >"${file}.tmp"
	chmod 600 "${file}.tmp"
	mv -f "${file}.tmp" "${file}"
}

# read_meta FILE PREFIX: sets PREFIX_KEY for each KEY=VALUE of FILE.
read_meta() {
	local file=$1 prefix=$2 key value
	[[ -s "${file}" ]] || return 1
	while IFS='=' read -r key value; do
		[[ "${key}" =~ ^[a-z_]+$ && "${value}" =~ ^[0-9a-f]+$ ]] || continue
		printf -v "${prefix}_${key}" '%s' "${value}"
	done <"${file}"
}

# with_lock LOCKFILE: serialises the script's up and down on fd 8. Servers
# are started with 8>&- so that they do not inherit, and hold, the lock.
with_lock() {
	mkdir -p "$(dirname "$1")"
	exec 8>"$1"
	if ! flock -n 8; then
		log "another $(basename "$0") is running; waiting for it"
		flock 8
	fi
}

# print_env_file FILE: status's last line, the env file or none.
print_env_file() {
	if [[ -s "$1" ]]; then
		echo "env: $1"
	else
		echo "env: none"
	fi
}

# run_command "WORD..." ARGS...: the scripts' command line, one of WORDs,
# run as cmd_WORD; anything else prints the usage.
run_command() {
	local words=" $1 "
	shift
	[[ $# -eq 1 && "${words}" == *" $1 "* ]] || usage
	"cmd_$1"
}
