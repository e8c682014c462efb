#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install the Debian packages memslot needs to build and test.
# Idempotent: does nothing when every package is already installed.
set -eu

pkgs=(
	make gcc pkg-config binutils		# build
	libjson-c-dev				# JSON output
	linux-source-6.12 xz-utils		# kselftest harness headers
	python3-docutils			# rst2man
	clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev	# BPF
	qemu-system-x86 ovmf socat		# QEMU fidelity oracle
	busybox-static kmod cpio file		# kernel-in-the-loop runner
	libclang-rt-14-dev			# sanitizer runtime
	chromium				# renders the --svg pictures in test_svg
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]} (run as root to install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
