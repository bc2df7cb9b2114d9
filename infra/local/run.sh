#!/usr/bin/env bash
# The one-machine mode: start the local TiDB, then run the follower with the
# local sink over the real chain data shipped in testdata/ (the preview chain,
# 59,315 blocks, and the first mainnet Conway chunk, 1,054 blocks), each into
# its own database. With NECTAR_NODE_SOCKET set, follow that node instead
# (network from NECTAR_NETWORK, default preview).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo}"
bin="${repo}/bin/nectar"
tag=run
# shellcheck source=infra/local/lib.sh
source infra/local/lib.sh

infra/local/services.sh up >/dev/null
# shellcheck disable=SC1090
source "$(infra/local/services.sh env)"
go build -o "${bin}" ./follower/cmd/nectar

export NECTAR_DB_HOST="${NECTAR_TEST_TIDB_HOST}" NECTAR_DB_PORT="${NECTAR_TEST_TIDB_PORT}"
export NECTAR_DB_USER="${NECTAR_TEST_TIDB_USER}" NECTAR_DB_PASSWORD="${NECTAR_TEST_TIDB_PASSWORD}"
export NECTAR_DB_SSL_CA="${NECTAR_TEST_CA}" NECTAR_DB_SERVER_NAME="${NECTAR_TEST_SERVER_NAME}"
export NECTAR_LOG_FORMAT=text
# Metrics on 127.0.0.1:9108 unless something else holds it: then on a free
# port (the follower logs which). NECTAR_HTTP_ADDR=off turns them off.
if [[ -z "${NECTAR_HTTP_ADDR:-}" ]]; then
	NECTAR_HTTP_ADDR=127.0.0.1:9108
	if ! port_free 9108 listen; then
		log "127.0.0.1:9108 is in use; serving metrics on a free port instead"
		NECTAR_HTTP_ADDR=127.0.0.1:0
	fi
fi
export NECTAR_HTTP_ADDR

sql() { # sql DATABASE STATEMENT...
	local db=$1
	shift
	MYSQL_PWD="${NECTAR_DB_PASSWORD}" mariadb -h "${NECTAR_DB_HOST}" -P "${NECTAR_DB_PORT}" -u "${NECTAR_DB_USER}" \
		--ssl-ca="${NECTAR_DB_SSL_CA}" --ssl-verify-server-cert ${db:+"${db}"} "$@"
}

prefix="${NECTAR_RUN_DB_PREFIX:-nectar}"

follow() { # follow NETWORK DATABASE [flags...]
	local network=$1 database=$2
	shift 2
	sql "" -e "CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
	log "following ${network} into database ${database}"
	local start=${SECONDS}
	NECTAR_NETWORK="${network}" NECTAR_DB_DATABASE="${database}" "${bin}" follow "$@"
	# Chunk files have no tip: the backfill is over, build the query indexes
	# (a no-op when the follower built them at a node's tip).
	log "building the query indexes of ${database}"
	NECTAR_NETWORK="${network}" NECTAR_DB_DATABASE="${database}" "${bin}" indexes create
	summary "${network}" "${database}" $((SECONDS - start))
}

# summary prints rows per table (tables with rows) in one line per table:
#   summary <network> <database> <table> <rows>
summary() {
	local network=$1 database=$2 took=$3 q="" t
	for t in $(sql "${database}" -N -e "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name"); do
		q+="${q:+ UNION ALL }SELECT '${t}', COUNT(*) FROM \`${t}\`"
	done
	echo
	echo "== ${network}: database ${database}, ${took} s"
	sql "${database}" -N -e "${q}" | awk -v n="${network}" -v d="${database}" '$2 > 0 { printf "summary %s %s %-26s %10d\n", n, d, $1, $2 }' | sort
}

if [[ -n "${NECTAR_NODE_SOCKET:-}" ]]; then
	follow "${NECTAR_NETWORK:-preview}" "${prefix}_${NECTAR_NETWORK:-preview}" --follower-node-socket "${NECTAR_NODE_SOCKET}"
else
	follow preview "${prefix}_preview" --follower-chunk-dir testdata/chains/preview
	follow mainnet "${prefix}_mainnet" --follower-chunk-dir testdata/chains/mainnet
fi

cat <<MSG

Open a SQL prompt on the result:
  source "\$(infra/local/services.sh env)"
  MYSQL_PWD="\$NECTAR_TEST_TIDB_PASSWORD" mariadb -h "\$NECTAR_TEST_TIDB_HOST" -P "\$NECTAR_TEST_TIDB_PORT" -u nectar --ssl-ca="\$NECTAR_TEST_CA" --ssl-verify-server-cert ${prefix}_preview
MSG
