#!/usr/bin/env bash
# qemu user-mode emulation for arm64, so that the linux/arm64 `bootstrap`s
# `make build` produces (what Lambda runs) can be run here, on amd64, under the
# Lambda runtime interface emulator (functions/buildtest).
#
# Usage: qemu.sh up|status
#   up      install Debian's qemu-user-static if neither qemu-aarch64-static
#           nor qemu-aarch64 is on PATH (a no-op when one is; `apt-get update`
#           first only if the install fails, e.g. on a missing package list);
#           prints the emulator's path on stdout
#   status  the emulator's path; exit 0 only if there is one
#
# The tests look the emulator up on PATH (qemu-aarch64-static, then
# qemu-aarch64), or take NECTAR_TEST_QEMU when it is set. Nothing runs in the
# background and nothing is registered with binfmt_misc by this script.
set -euo pipefail

tag=qemu
# shellcheck source=infra/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# emulator: the path of an arm64 user-mode emulator, or nothing.
emulator() {
	command -v qemu-aarch64-static 2>/dev/null || command -v qemu-aarch64 2>/dev/null || true
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2
}

cmd_up() {
	local q
	q="$(emulator)"
	if [[ -n "${q}" ]]; then
		log "already installed: ${q}"
		echo "${q}"
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "no qemu-aarch64(-static) and no apt-get: install qemu user-mode emulation for arm64"
	if [[ "$(id -u)" != 0 ]]; then
		die "installing qemu-user-static needs root (apt-get install -y qemu-user-static)"
	fi
	# Serialise concurrent installs (apt holds its own lock, but would fail, not wait).
	exec 9>/tmp/.nectar-qemu-install.lock
	flock 9
	q="$(emulator)"
	if [[ -z "${q}" ]]; then
		log "installing qemu-user-static"
		if ! apt_install qemu-user-static; then
			log "install failed; updating the package lists and trying again"
			apt-get update >&2 || die "apt-get update failed"
			apt_install qemu-user-static || apt_install qemu-user || die "apt-get install qemu-user-static failed"
		fi
		q="$(emulator)"
	fi
	[[ -n "${q}" ]] || die "qemu installed, but neither qemu-aarch64-static nor qemu-aarch64 is on PATH"
	log "installed ${q}"
	echo "${q}"
}

cmd_status() {
	local q
	q="$(emulator)"
	if [[ -n "${q}" ]]; then
		echo "qemu: ${q}"
		return 0
	fi
	echo "qemu: no qemu-aarch64-static or qemu-aarch64 (run infra/local/qemu.sh up)"
	return 1
}

run_command "up status" "$@"
