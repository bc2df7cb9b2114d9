#!/usr/bin/env bash
# Local stand-in for AWS Lambda, for tests and demos: the AWS Lambda runtime
# interface emulator (aws-lambda-rie), built from the Go module proxy. It runs
# a function's real `bootstrap` and answers invocations on
#   POST http://127.0.0.1:PORT/2015-03-31/functions/function/invocations
# Tests start it themselves, one process per function (see
# infra/local/eventsource), so this script only builds it; nothing runs.
#
# Usage: lambda.sh up|down|status|env
#   up      build aws-lambda-rie if needed (once, ~35 s; cached; a no-op when
#           the pinned version is there); writes STATE/lambda.env and prints
#           its path on stdout
#   down    remove STATE/lambda.env (the cached binary stays)
#   status  the binary and its version; exit 0 only if it is built
#   env     print the path of STATE/lambda.env (exit 1 if it is not up):
#             source "$(infra/local/lambda.sh env)"
#           exports NECTAR_TEST_RIE (the aws-lambda-rie binary)
#
# CACHE = ${NECTAR_CACHE:-$HOME/.cache/nectar} holds the binary (CACHE/bin/
# aws-lambda-rie, with CACHE/bin/aws-lambda-rie.version naming the version it
# was built from; NECTAR_RIE_REBUILD=1 forces a build).
# STATE = ${NECTAR_LOCAL_STATE:-CACHE/local}. Both are outside the repository.
set -euo pipefail

readonly RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
readonly RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
readonly RIE_PKG="${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}"

tag=lambda
# shellcheck source=infra/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin_dir="${cache_dir}/bin"
rie_bin="${bin_dir}/aws-lambda-rie"
stamp="${rie_bin}.version"
env_file="${state}/lambda.env"

# built: the binary is there, runs on this machine, and is the pinned version.
built() {
	[[ -x "${rie_bin}" && -s "${stamp}" ]] || return 1
	[[ "$(<"${stamp}")" == "${RIE_PKG}" ]] || return 1
	file_ok "${rie_bin}"
}

# file_ok BIN: BIN is a complete Go binary of the pinned module version.
# (Never run it to check: aws-lambda-rie takes any argument, --help too, as the
# command of a function to start, and listens on 0.0.0.0:8080 by default.)
file_ok() {
	go version -m "$1" 2>/dev/null | awk -v m="${RIE_MODULE}" -v v="${RIE_VERSION}" \
		'$1 == "mod" && $2 == m && $3 == v { ok = 1 } END { exit !ok }'
}

build() {
	local start=${SECONDS} tmp
	command -v go >/dev/null 2>&1 || die "go is not installed (needed once, to build aws-lambda-rie)"
	mkdir -p "${bin_dir}"
	tmp="$(mktemp -d "${bin_dir}/.rie-build.XXXXXX")"
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '${tmp}'" EXIT
	log "building aws-lambda-rie ${RIE_VERSION} (~35 s)"
	# Outside any module and workspace, so the repository's go.mod has no say.
	if ! (cd "${tmp}" && GOBIN="${tmp}" GOFLAGS='' GOWORK=off CGO_ENABLED=0 go install "${RIE_PKG}") >&2; then
		die "go install ${RIE_PKG} failed"
	fi
	[[ -x "${tmp}/aws-lambda-rie" ]] || die "go install left no aws-lambda-rie in ${tmp}"
	file_ok "${tmp}/aws-lambda-rie" || die "the built aws-lambda-rie is not ${RIE_VERSION}"
	mv -f "${tmp}/aws-lambda-rie" "${rie_bin}"
	echo "${RIE_PKG}" >"${stamp}.tmp"
	mv -f "${stamp}.tmp" "${stamp}"
	rm -rf "${tmp}"
	trap - EXIT
	log "built ${rie_bin} in $((SECONDS - start)) s"
}

write_env() {
	mkdir -p "${state}"
	{
		echo "# Written by infra/local/lambda.sh up; removed by down."
		printf 'export NECTAR_TEST_RIE=%q\n' "${rie_bin}"
	} >"${env_file}.tmp"
	mv -f "${env_file}.tmp" "${env_file}"
}

cmd_up() {
	with_lock "${bin_dir}/.aws-lambda-rie.lock"
	if [[ "${NECTAR_RIE_REBUILD:-}" == 1 ]] || ! built; then
		build
	else
		log "aws-lambda-rie ${RIE_VERSION} already built"
	fi
	write_env
	echo "${env_file}"
}

cmd_down() {
	rm -f "${env_file}"
	log "down (the binary stays in ${bin_dir})"
}

cmd_status() {
	if built; then
		echo "lambda: aws-lambda-rie ${RIE_VERSION} at ${rie_bin}"
	else
		echo "lambda: aws-lambda-rie ${RIE_VERSION} not built (run infra/local/lambda.sh up)"
	fi
	print_env_file "${env_file}"
	built
}

cmd_env() {
	[[ -s "${env_file}" ]] || die "no ${env_file}: run infra/local/lambda.sh up"
	built || die "${rie_bin} is missing or not ${RIE_VERSION}: run infra/local/lambda.sh up"
	echo "${env_file}"
}

run_command "up down status env" "$@"
