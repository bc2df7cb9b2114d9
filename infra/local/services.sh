#!/usr/bin/env bash
# Local stand-ins for Nectar's databases, for tests and demos:
#   - TiDB v8.5.6 (tidb-server -store unistore, in memory), built by build-tidb.sh
#   - MariaDB (Debian mariadb-server, a fresh datadir at every start)
# Both bind 127.0.0.1 only, serve TLS with a local test CA, and have a user
# `nectar` with a random password (made at start) granted ALL on *.*.
#
# Usage: services.sh up|down|status|env
#   up      start whatever is not running (a no-op when both run and answer);
#           writes STATE/env and prints its path on stdout
#   down    stop both (no-op when stopped); removes STATE/env
#   status  what runs, on which ports; exit 0 only if both answer SQL
#   env     print the path of STATE/env (exit 1 if the services are not up):
#             source "$(infra/local/services.sh env)"
#
# STATE = ${NECTAR_LOCAL_STATE:-${NECTAR_CACHE:-$HOME/.cache/nectar}/local},
# outside the repository. The test CA in STATE/certs is kept across restarts.
set -euo pipefail

export PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag=services
# shellcheck source=infra/local/lib.sh
source "${script_dir}/lib.sh"
certs="${state}/certs"
tidb_dir="${state}/tidb"
maria_dir="${state}/mariadb"
env_file="${state}/env"
tidb_bin="${cache_dir}/bin/tidb-server"

readonly app_user="nectar"
readonly tidb_wait_s=90
readonly maria_wait_s=60
readonly stop_wait_s=30

# ---------------------------------------------------------------- helpers

# sql_socket SOCKET SQL: run SQL as root over a unix socket.
sql_socket() {
	local sock=$1 sql=$2
	mariadb --no-defaults --protocol=socket --socket="${sock}" -u root \
		--connect-timeout=3 -N -B -e "${sql}"
}

# sql_tcp PORT PASSWORD SQL: run SQL as the app user over TCP with verified TLS.
sql_tcp() {
	local port=$1 password=$2 sql=$3
	MYSQL_PWD="${password}" mariadb --no-defaults --protocol=tcp \
		-h "${bind_host}" -P "${port}" -u "${app_user}" --connect-timeout=3 \
		--ssl-ca="${certs}/ca.pem" --ssl-verify-server-cert -N -B -e "${sql}"
}

new_password() { openssl rand -hex 16; }

# ---------------------------------------------------------------- prerequisites

ensure_mariadb_installed() {
	if command -v mariadbd >/dev/null 2>&1 && command -v mariadb >/dev/null 2>&1 &&
		command -v mariadb-install-db >/dev/null 2>&1; then
		return 0
	fi
	[[ "$(id -u)" == 0 ]] || die "mariadb-server is not installed and this is not root"
	log "installing mariadb-server and mariadb-client with apt (~15 s)"
	local start=${SECONDS}
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		mariadb-server mariadb-client >/dev/null
	# The package may start a system instance; ours is separate, but don't
	# leave a stray server running on 3306.
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mariadb 2>/dev/null; then
		systemctl stop mariadb || true
	fi
	log "mariadb installed in $((SECONDS - start)) s"
}

ensure_tidb_built() {
	if [[ ! -x "${tidb_bin}" ]]; then
		log "tidb-server not found at ${tidb_bin}; building it (~6-8 min cold)"
	fi
	NECTAR_CACHE="${cache_dir}" bash "${script_dir}/build-tidb.sh"
}

ensure_certs() {
	mkdir -p "${certs}"
	if [[ -s "${certs}/ca.pem" && -s "${certs}/server-cert.pem" && -s "${certs}/server-key.pem" ]] &&
		openssl verify -CAfile "${certs}/ca.pem" "${certs}/server-cert.pem" >/dev/null 2>&1 &&
		openssl x509 -checkend 604800 -noout -in "${certs}/server-cert.pem" >/dev/null 2>&1; then
		return 0
	fi
	log "generating a test CA and server certificate in ${certs}"
	local tmp
	tmp="$(mktemp -d "${certs}/.gen.XXXXXX")"
	(
		cd "${tmp}"
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Nectar Test Local CA" \
			-keyout ca-key.pem -out ca.pem 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
			-keyout server-key.pem -out server.csr 2>/dev/null
		printf '%s\n' \
			"subjectAltName=DNS:localhost,DNS:db.local,IP:127.0.0.1" \
			"basicConstraints=CA:FALSE" \
			"keyUsage=digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
			-days 825 -extfile server.ext -out server-cert.pem 2>/dev/null
		chmod 600 ca-key.pem server-key.pem
		chmod 644 ca.pem server-cert.pem
		mv -f ca.pem ca-key.pem server-key.pem server-cert.pem "${certs}/"
	)
	rm -rf "${tmp}"
}

# ---------------------------------------------------------------- TiDB

tidb_pidfile="${tidb_dir}/tidb.pid"
tidb_sock="${tidb_dir}/tidb.sock"
tidb_meta="${tidb_dir}/meta"
tidb_log="${tidb_dir}/tidb.log"
tidb_stderr="${tidb_dir}/stderr.log"

tidb_healthy() {
	local tidb_port="" tidb_password=""
	pid_alive "${tidb_pidfile}" tidb-server || return 1
	read_meta "${tidb_meta}" tidb || return 1
	[[ -n "${tidb_port}" && -n "${tidb_password}" ]] || return 1
	sql_tcp "${tidb_port}" "${tidb_password}" 'SELECT 1' >/dev/null 2>&1
}

stop_tidb() {
	if pid_alive "${tidb_pidfile}" tidb-server; then
		log "stopping TiDB (pid $(<"${tidb_pidfile}"))"
		stop_pid "${tidb_pidfile}" tidb-server
	fi
	rm -f "${tidb_pidfile}" "${tidb_sock}" "${tidb_meta}"
}

# One attempt to start TiDB; returns 1 (after cleaning up) if it did not come up.
start_tidb_once() {
	local port status_port password pid i
	pick_port port
	pick_port status_port
	password="$(new_password)"

	rm -rf "${tidb_dir}/tmp"
	mkdir -p "${tidb_dir}/tmp"
	rm -f "${tidb_sock}" "${tidb_log}" "${tidb_stderr}" "${tidb_pidfile}" "${tidb_meta}"
	cat >"${tidb_dir}/tidb.toml" <<-EOF
		# Written by infra/local/services.sh; rewritten at every start.
		# Spill files of big sorts and joins stay under the state dir.
		tmp-storage-path = "${tidb_dir}/tmp/storage"

		[security]
		ssl-ca = "${certs}/ca.pem"
		ssl-cert = "${certs}/server-cert.pem"
		ssl-key = "${certs}/server-key.pem"
		auto-tls = false

		[log]
		level = "warn"
		slow-query-file = "${tidb_dir}/tidb-slow.log"
	EOF

	log "starting TiDB on ${bind_host}:${port} (status ${status_port})"
	(
		cd "${tidb_dir}"
		exec setsid "${tidb_bin}" -store unistore -path '' \
			-host "${bind_host}" -P "${port}" \
			-status-host "${bind_host}" -status "${status_port}" \
			-socket "${tidb_sock}" -temp-dir "${tidb_dir}/tmp" \
			-log-file "${tidb_log}" -config "${tidb_dir}/tidb.toml" \
			</dev/null >"${tidb_stderr}" 2>&1 8>&-
	) &
	pid=$!
	echo "${pid}" >"${tidb_pidfile}"

	for ((i = 0; i < tidb_wait_s * 5; i++)); do
		if ! kill -0 "${pid}" 2>/dev/null; then
			log "TiDB exited during start"
			log_tail "${tidb_stderr}" "${tidb_log}"
			rm -f "${tidb_pidfile}"
			return 1
		fi
		if [[ -S "${tidb_sock}" ]] && sql_socket "${tidb_sock}" 'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		sleep 0.2
	done
	if ! sql_socket "${tidb_sock}" 'SELECT 1' >/dev/null 2>&1; then
		log "TiDB did not accept SQL within ${tidb_wait_s} s"
		log_tail "${tidb_stderr}" "${tidb_log}"
		stop_tidb
		return 1
	fi
	if ! pid_alive "${tidb_pidfile}" tidb-server; then
		log "pid ${pid} is not tidb-server ($(cat "/proc/${pid}/comm" 2>/dev/null || true))"
		kill -KILL "${pid}" 2>/dev/null || true
		return 1
	fi

	# TiDB root has an empty password and is reachable only from this host.
	sql_socket "${tidb_sock}" "
		CREATE USER '${app_user}'@'%' IDENTIFIED BY '${password}';
		GRANT ALL PRIVILEGES ON *.* TO '${app_user}'@'%' WITH GRANT OPTION;
		SET GLOBAL max_allowed_packet = 67108864;
	" >/dev/null
	if ! sql_tcp "${port}" "${password}" 'SELECT 1' >/dev/null 2>&1; then
		log "TiDB is up but the ${app_user} user cannot log in over TLS"
		log_tail "${tidb_log}"
		stop_tidb
		return 1
	fi
	write_meta "${tidb_meta}" "port=${port}" "status_port=${status_port}" "password=${password}"
	log "TiDB ready (pid ${pid})"
}

start_tidb() {
	local attempt
	mkdir -p "${tidb_dir}"
	for attempt in 1 2 3; do
		start_tidb_once && return 0
		log "TiDB start attempt ${attempt} failed"
	done
	die "TiDB did not start; logs in ${tidb_dir}"
}

# ---------------------------------------------------------------- MariaDB

maria_pidfile="${maria_dir}/mariadbd.pid"
maria_sock="${maria_dir}/mariadbd.sock"
maria_meta="${maria_dir}/meta"
maria_log="${maria_dir}/error.log"

maria_healthy() {
	local maria_port="" maria_password=""
	pid_alive "${maria_pidfile}" mariadbd || return 1
	read_meta "${maria_meta}" maria || return 1
	[[ -n "${maria_port}" && -n "${maria_password}" ]] || return 1
	sql_tcp "${maria_port}" "${maria_password}" 'SELECT 1' >/dev/null 2>&1
}

stop_maria() {
	local i
	if pid_alive "${maria_pidfile}" mariadbd; then
		log "stopping MariaDB (pid $(<"${maria_pidfile}"))"
		if [[ -S "${maria_sock}" ]]; then
			mariadb-admin --no-defaults --socket="${maria_sock}" -u root \
				--connect-timeout=3 --shutdown-timeout="${stop_wait_s}" shutdown \
				>/dev/null 2>&1 || true
		fi
		for ((i = 0; i < 50; i++)); do
			pid_alive "${maria_pidfile}" mariadbd || break
			sleep 0.1
		done
		stop_pid "${maria_pidfile}" mariadbd
	fi
	rm -f "${maria_pidfile}" "${maria_sock}" "${maria_meta}"
}

start_maria_once() {
	local port password pid i
	pick_port port
	password="$(new_password)"

	rm -rf "${maria_dir}/data" "${maria_dir}/tmp"
	mkdir -p "${maria_dir}/data" "${maria_dir}/tmp"
	rm -f "${maria_sock}" "${maria_pidfile}" "${maria_meta}" "${maria_log}"

	if ! mariadb-install-db --no-defaults --datadir="${maria_dir}/data" --user="$(id -un)" \
		--auth-root-authentication-method=socket --skip-test-db \
		>"${maria_dir}/install-db.log" 2>&1; then
		log_tail "${maria_dir}/install-db.log"
		die "mariadb-install-db failed"
	fi

	log "starting MariaDB on ${bind_host}:${port}"
	setsid mariadbd --no-defaults --user="$(id -un)" \
		--datadir="${maria_dir}/data" --tmpdir="${maria_dir}/tmp" \
		--socket="${maria_sock}" --pid-file="${maria_pidfile}" \
		--port="${port}" --bind-address="${bind_host}" --skip-name-resolve \
		--log-error="${maria_log}" \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
		--ssl-ca="${certs}/ca.pem" --ssl-cert="${certs}/server-cert.pem" \
		--ssl-key="${certs}/server-key.pem" \
		--max-allowed-packet=64M --max-connections=300 \
		--innodb-flush-log-at-trx-commit=2 \
		</dev/null >"${maria_dir}/stdout.log" 2>&1 8>&- &
	pid=$!

	for ((i = 0; i < maria_wait_s * 5; i++)); do
		if ! kill -0 "${pid}" 2>/dev/null; then
			log "MariaDB exited during start"
			log_tail "${maria_log}" "${maria_dir}/stdout.log"
			rm -f "${maria_pidfile}"
			return 1
		fi
		if [[ -S "${maria_sock}" ]] && sql_socket "${maria_sock}" 'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		sleep 0.2
	done
	if ! sql_socket "${maria_sock}" 'SELECT 1' >/dev/null 2>&1; then
		log "MariaDB did not accept SQL within ${maria_wait_s} s"
		log_tail "${maria_log}"
		echo "${pid}" >"${maria_pidfile}"
		stop_maria
		return 1
	fi
	# mariadbd writes its own pid file; make sure it is the process we started.
	echo "${pid}" >"${maria_pidfile}"

	sql_socket "${maria_sock}" "
		CREATE USER '${app_user}'@'%' IDENTIFIED BY '${password}';
		GRANT ALL PRIVILEGES ON *.* TO '${app_user}'@'%' WITH GRANT OPTION;
	" >/dev/null
	if ! sql_tcp "${port}" "${password}" 'SELECT 1' >/dev/null 2>&1; then
		log "MariaDB is up but the ${app_user} user cannot log in over TLS"
		log_tail "${maria_log}"
		stop_maria
		return 1
	fi
	write_meta "${maria_meta}" "port=${port}" "password=${password}"
	log "MariaDB ready (pid ${pid})"
}

start_maria() {
	local attempt
	mkdir -p "${maria_dir}"
	for attempt in 1 2 3; do
		start_maria_once && return 0
		log "MariaDB start attempt ${attempt} failed"
	done
	die "MariaDB did not start; logs in ${maria_dir}"
}

# ---------------------------------------------------------------- env file

write_env() {
	local tidb_port="" tidb_status_port="" tidb_password="" maria_port="" maria_password=""
	read_meta "${tidb_meta}" tidb || die "missing ${tidb_meta}"
	read_meta "${maria_meta}" maria || die "missing ${maria_meta}"
	{
		echo "# Written by infra/local/services.sh up; removed by down."
		printf 'export NECTAR_TEST_TIDB_HOST=%q\n' "${bind_host}"
		printf 'export NECTAR_TEST_TIDB_PORT=%q\n' "${tidb_port}"
		printf 'export NECTAR_TEST_TIDB_STATUS_PORT=%q\n' "${tidb_status_port}"
		printf 'export NECTAR_TEST_TIDB_USER=%q\n' "${app_user}"
		printf 'export NECTAR_TEST_TIDB_PASSWORD=%q\n' "${tidb_password}"
		printf 'export NECTAR_TEST_MARIADB_HOST=%q\n' "${bind_host}"
		printf 'export NECTAR_TEST_MARIADB_PORT=%q\n' "${maria_port}"
		printf 'export NECTAR_TEST_MARIADB_USER=%q\n' "${app_user}"
		printf 'export NECTAR_TEST_MARIADB_PASSWORD=%q\n' "${maria_password}"
		printf 'export NECTAR_TEST_CA=%q\n' "${certs}/ca.pem"
		printf 'export NECTAR_TEST_SERVER_NAME=%q\n' "localhost"
	} >"${env_file}.tmp"
	chmod 600 "${env_file}.tmp"
	mv -f "${env_file}.tmp" "${env_file}"
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local start=${SECONDS}
	with_lock "${state}/lock"
	if tidb_healthy && maria_healthy && [[ -s "${env_file}" ]]; then
		log "already up"
		echo "${env_file}"
		return 0
	fi
	ensure_mariadb_installed
	ensure_tidb_built
	ensure_certs
	if tidb_healthy; then
		log "TiDB already running"
	else
		stop_tidb
		start_tidb
	fi
	if maria_healthy; then
		log "MariaDB already running"
	else
		stop_maria
		start_maria
	fi
	write_env
	log "up in $((SECONDS - start)) s; env: ${env_file}"
	echo "${env_file}"
}

cmd_down() {
	with_lock "${state}/lock"
	rm -f "${env_file}"
	stop_tidb
	stop_maria
	rm -rf "${tidb_dir}/tmp" "${maria_dir}/tmp"
	log "down"
}

cmd_status() {
	local rc=0 tidb_port="" tidb_status_port="" maria_port=""
	if pid_alive "${tidb_pidfile}" tidb-server; then
		read_meta "${tidb_meta}" tidb || true
		if tidb_healthy; then
			echo "tidb: running, pid $(<"${tidb_pidfile}"), ${bind_host}:${tidb_port} (status ${tidb_status_port}), answers SQL"
		else
			echo "tidb: running, pid $(<"${tidb_pidfile}"), NOT answering SQL as ${app_user}"
			rc=1
		fi
	else
		echo "tidb: stopped"
		rc=1
	fi
	if pid_alive "${maria_pidfile}" mariadbd; then
		read_meta "${maria_meta}" maria || true
		if maria_healthy; then
			echo "mariadb: running, pid $(<"${maria_pidfile}"), ${bind_host}:${maria_port}, answers SQL"
		else
			echo "mariadb: running, pid $(<"${maria_pidfile}"), NOT answering SQL as ${app_user}"
			rc=1
		fi
	else
		echo "mariadb: stopped"
		rc=1
	fi
	print_env_file "${env_file}"
	return "${rc}"
}

cmd_env() {
	[[ -s "${env_file}" ]] || die "no ${env_file}: run infra/local/services.sh up"
	tidb_healthy || die "TiDB is not answering: run infra/local/services.sh up"
	maria_healthy || die "MariaDB is not answering: run infra/local/services.sh up"
	echo "${env_file}"
}

run_command "up down status env" "$@"
