#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run libFuzzer targets side by side and sum up (make fuzz).
#   bash fuzz/run.sh --seconds S --dir DIR TARGET...
# Each DIR/fuzz_TARGET runs for S seconds from the committed seeds in
# fuzz/corpus/TARGET/ (read only), writing new inputs to
# DIR/corpus/TARGET/ and findings (crash-*, leak-*, timeout-*, oom-*) to
# DIR/findings/TARGET/, emptied first; its output is DIR/TARGET.log. One
# line per target: executions, libFuzzer's final cov: and ft:, corpus
# size, findings. Exit status 1 if any target found something or failed
# to run.
set -u

seconds=60 dir=build/fuzz
while [[ $# -gt 0 ]]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	*) break ;;
	esac
done
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

pids=()
for t in "$@"; do
	mkdir -p "$dir/corpus/$t"
	rm -rf "$dir/findings/$t" && mkdir -p "$dir/findings/$t"
	# -timeout: an input running 10 s is a finding; -rss_limit_mb likewise
	"$dir/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$dir/findings/$t/" \
		"$dir/corpus/$t" "$top/fuzz/corpus/$t" >"$dir/$t.log" 2>&1 &
	pids+=($!)
done

status=0
printf '%-10s %12s %8s %8s %8s  %s\n' target execs cov ft corpus findings
i=0
for t in "$@"; do
	wait "${pids[$i]}"
	rc=$?
	i=$((i + 1))
	log=$dir/$t.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
	mapfile -t found < <(find "$dir/findings/$t" -type f | sort)
	if [[ -z $execs ]]; then
		# a crash ends the run before the final stats: count the lines
		execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
	fi
	printf '%-10s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
		"${corp:-?}" "${#found[@]}"
	for f in "${found[@]}"; do
		printf '  finding: %s\n' "$f"
	done
	if [[ ${#found[@]} -gt 0 ]]; then
		grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z_]+: )' "$log" | sed 's/^/  /'
		status=1
	elif [[ $rc -ne 0 ]]; then
		printf '  %s: exit status %d, see %s\n' "$t" "$rc" "$log"
		status=1
	fi
done
exit $status
