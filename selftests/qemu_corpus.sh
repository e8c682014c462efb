#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Make sure OUTDIR holds the QEMU `info mtree` corpus of
# scripts/qemu-corpus.py, building it only when OUTDIR/index.txt is missing
# or older than the script (index.txt is written last, on full success).
#   bash selftests/qemu_corpus.sh OUTDIR
# Prints nothing on success. The exit status is the script's: 77 when the
# host lacks QEMU or KVM (tests SKIP), non-zero otherwise on failure.
# Concurrent callers are serialised by a lock on OUTDIR/.lock.
set -u

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: qemu_corpus.sh OUTDIR" >&2
	exit 2
fi
out=$1
script=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/qemu-corpus.py

fresh() {
	[ -f "$out/index.txt" ] && ! [ "$out/index.txt" -ot "$script" ]
}

fresh && exit 0
mkdir -p "$out" || exit 1
exec 9>"$out/.lock" || exit 1
flock 9 || exit 1
# Another caller may have built it while we waited for the lock.
fresh && exit 0
python3 "$script" "$out"
