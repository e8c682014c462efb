#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Gather the benches' JSON fragments into one results file.

    bench-results.py OUTPUT FRAGMENT_DIR [SECONDS]

Every bench run with a directory argument writes DIR/<bench>.json (see
bench/bench.h): {"bench", "where", "figures": {name: figure}}. OUTPUT gets

    {"figures": {name: figure + {"bench", "where"}},
     "benches": {bench: where}, "run_seconds": SECONDS}

with the figures sorted by name (SECONDS: how long the benches ran), and
a summary table goes to stdout: every figure with its value, its goal and
met / NOT met. A figure that no bench measured is absent; a missed goal
is a result, so the exit status is 0 unless a fragment cannot be read or
two benches claim one figure.
"""
import json
import os
import sys


def fmt_goal(f):
    g = f.get("goal")
    if not g:
        return "no goal", ""
    return "%s %g" % (g["op"], g["value"]), "met" if f["met"] else "NOT met"


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: bench-results.py OUTPUT FRAGMENT_DIR [SECONDS]")
    out, frag_dir = sys.argv[1], sys.argv[2]
    figures, benches = {}, {}
    for name in sorted(os.listdir(frag_dir)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(frag_dir, name)
        try:
            with open(path) as f:
                frag = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit("bench-results.py: %s: %s" % (path, e))
        benches[frag["bench"]] = frag["where"]
        for fig, v in frag["figures"].items():
            if fig in figures:
                sys.exit("bench-results.py: %s: figure %s also from %s"
                         % (path, fig, figures[fig]["bench"]))
            v = dict(v, bench=frag["bench"], where=frag["where"])
            figures[fig] = v
    doc = {"figures": {k: figures[k] for k in sorted(figures)}, "benches": benches}
    if len(sys.argv) == 4:
        doc["run_seconds"] = int(sys.argv[3])
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)

    print("\nbench figures (%s): ratios, goal met / NOT met; raw medians and p99 in the file"
          % out)
    print("%-46s %12s  %-10s %-8s %s" % ("figure", "value", "goal", "", "where"))
    for k in sorted(figures):
        f = figures[k]
        goal, met = fmt_goal(f)
        print("%-46s %12.4f  %-10s %-8s %s" % (k, f["value"], goal, met, f["where"]))
    if len(sys.argv) == 4:
        print("the benches ran for %s s" % sys.argv[3])


if __name__ == "__main__":
    main()
