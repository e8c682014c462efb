#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run kselftest-harness binaries and sum up their TAP results.
#   bash selftests/run.sh BINARY...
# Each binary runs with no stdin; its stdout is streamed and parsed, its
# stderr passes through. Only top-level result lines count:
#   ok N name | ok N name # SKIP reason | not ok N name [# reason]
# ("# ..." lines, nested or not, are comments). A binary that crashes,
# times out, exits non-zero without a "not ok" line of its own, or reports
# fewer or more tests than it planned counts as one more failure. XFAIL
# counts as a pass, XPASS as a failure (the expected-failure mark is stale).
# The last line is always "selftests: N passed, M failed, K skipped"; the
# exit status is non-zero iff M > 0. MEMSLOT_TEST_TIMEOUT (seconds, default
# 600) bounds each binary.
set -u

timeout_s=${MEMSLOT_TEST_TIMEOUT:-600}
passed=0 failed=0 skipped=0
notes=()
rcfile=$(mktemp) || exit 1
trap 'rm -f "$rcfile"' EXIT

for bin in "$@"; do
	name=${bin##*/}
	plan='' results=0 bad=0
	echo "# selftests: $name"
	while IFS= read -r line || [[ -n $line ]]; do
		printf '%s\n' "$line"
		line=${line%$'\r'}
		[[ $line =~ ^(not )?ok\ [0-9]+(\ (.*))?$ ]] || {
			[[ $line =~ ^1\.\.([0-9]+) ]] && plan=${BASH_REMATCH[1]}
			continue
		}
		desc=${BASH_REMATCH[3]}
		test=${desc%% #*}
		directive=''
		[[ $desc == *' # '* ]] && directive=${desc#* # }
		directive=${directive# }
		results=$((results + 1))
		if [[ -n ${BASH_REMATCH[1]} ]]; then
			failed=$((failed + 1)) bad=$((bad + 1))
			notes+=("FAIL $name: $test${directive:+: $directive}")
		elif [[ ${directive^^} == SKIP* ]]; then
			skipped=$((skipped + 1))
			reason=${directive:4}
			reason=${reason# }
			notes+=("SKIP $name: $test: ${reason:-no reason given}")
		elif [[ ${directive^^} == XPASS* ]]; then
			failed=$((failed + 1)) bad=$((bad + 1))
			notes+=("FAIL $name: $test: passed but is marked XFAIL")
		else
			passed=$((passed + 1))
		fi
	done < <(timeout -k 10 "$timeout_s" "$bin" </dev/null; echo $? >"$rcfile")
	rc=$(<"$rcfile")

	# A non-zero exit is explained by the binary's own "not ok" lines only
	# if it is the harness's plain failure status and every test reported.
	why=''
	if ((rc == 124)); then
		why="timed out after ${timeout_s}s"
	elif ((rc == 126 || rc == 127)); then
		why="could not be run (exit status $rc)"
	elif ((rc > 128)); then
		why="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
	elif ((rc != 0 && (rc != 1 || bad == 0))); then
		why="exited with status $rc"
	fi
	if [[ -z $plan ]]; then
		why="${why:+$why, }printed no TAP plan"
	elif ((results != plan)); then
		why="${why:+$why, }reported $results of $plan planned tests"
	fi
	if [[ -n $why ]]; then
		failed=$((failed + 1))
		notes+=("FAIL $name: $why")
		echo "# selftests: $name: $why"
	fi
done

for n in "${notes[@]}"; do
	echo "$n"
done
echo "selftests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
