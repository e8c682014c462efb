#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run kselftest-harness binaries and sum up their TAP results.
#   bash selftests/run.sh [--kernels "K..."] [--runner PATH] [--rw DIR]...
#                         BINARY... [-- GUEST-BINARY...]
# Each binary runs with no stdin; its stdout is streamed and parsed, its
# stderr passes through. Only top-level result lines count:
#   ok N name | ok N name # SKIP reason | not ok N name [# reason]
# ("# ..." lines, nested or not, are comments). A binary that crashes,
# times out, exits non-zero without a "not ok" line of its own, or reports
# fewer or more tests than it planned counts as one more failure. XFAIL
# counts as a pass, XPASS as a failure (the expected-failure mark is stale).
#
# The GUEST-BINARYs (those that need KVM) run on the host too when no
# kernel is given; with --kernels they run instead inside each guest
# kernel, through the kernel-in-the-loop runner (--runner, default
# selftests/vmtest.sh; --rw DIRs are shared read-write), by this script
# there, and one "<kernel>: N passed, M failed, K skipped" line per kernel
# precedes the total. A guest that cannot boot or report counts as one
# failure.
#
# The last line is always "selftests: N passed, M failed, K skipped"; the
# exit status is non-zero iff M > 0. MEMSLOT_TEST_TIMEOUT (seconds, default
# 600) bounds each binary, times MEMSLOT_TIMEOUT_SCALE (default 1; the
# runner sets it under emulation).
set -u

kernels=''
runner=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/vmtest.sh
rw=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--kernels) kernels=$2; shift 2 ;;
	--runner) runner=$2; shift 2 ;;
	--rw) rw+=(--rw "$2"); shift 2 ;;
	*) break ;;
	esac
done
host_bins=()
guest_bins=()
while [[ $# -gt 0 && $1 != -- ]]; do
	host_bins+=("$1")
	shift
done
[[ $# -gt 0 ]] && shift
guest_bins=("$@")
if [[ -z ${kernels// } ]]; then
	host_bins+=("${guest_bins[@]}")
	guest_bins=()
fi

scale=${MEMSLOT_TIMEOUT_SCALE:-1}
[[ $scale =~ ^[1-9][0-9]*$ ]] || scale=1
timeout_s=$(( ${MEMSLOT_TEST_TIMEOUT:-600} * scale ))
passed=0 failed=0 skipped=0
notes=()
rcfile=$(mktemp) || exit 1
trap 'rm -f "$rcfile"' EXIT

for bin in "${host_bins[@]}"; do
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

# One guest per kernel runs this script on the guest binaries. Its
# stream passes through but for its notes and summary, which are taken in.
per_kernel=()
for k in $kernels; do
	((${#guest_bins[@]})) || break
	echo "# selftests: guest $k"
	g_sum=''
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line =~ ^selftests:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
			g_sum="${BASH_REMATCH[1]} passed, ${BASH_REMATCH[2]} failed, ${BASH_REMATCH[3]} skipped"
			passed=$((passed + BASH_REMATCH[1]))
			failed=$((failed + BASH_REMATCH[2]))
			skipped=$((skipped + BASH_REMATCH[3]))
		elif [[ $line =~ ^(FAIL|SKIP)\ (test_[A-Za-z0-9_]+:\ .*)$ ]]; then
			notes+=("${BASH_REMATCH[1]} $k: ${BASH_REMATCH[2]}")
		else
			printf '%s\n' "$line"
		fi
	done < <("$runner" -k "$k" "${rw[@]}" -- bash "${BASH_SOURCE[0]}" "${guest_bins[@]}" </dev/null
		 echo "# vmtest exit status $?")
	if [[ -z $g_sum ]]; then
		failed=$((failed + 1))
		notes+=("FAIL $k: the guest did not report a summary")
		g_sum="no summary (counted as 1 failure)"
	fi
	per_kernel+=("$k: $g_sum")
done

for n in "${notes[@]}"; do
	echo "$n"
done
for n in "${per_kernel[@]}"; do
	echo "$n"
done
echo "selftests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
