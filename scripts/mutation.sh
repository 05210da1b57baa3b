#!/usr/bin/env bash
# Mutation testing of Core's semantic files with Stryker.NET (docs/testing.md, "Mutation testing"). Not run by CI:
# each mutant costs a few seconds on 2 cores, so a file takes from minutes (CpuidLookup.cs) to an hour (Kvm.cs).
#
#   scripts/mutation.sh                     every shard, one Stryker run each, one after the other
#   scripts/mutation.sh lookup              one shard: lookup, table, dynamic, xsave, validity, kvm
#   scripts/mutation.sh dynamic xsave       several shards in ONE Stryker run (one build, about 5 minutes
#                                           saved per extra shard; the union of their test filters)
#   scripts/mutation.sh progress dynamic+xsave+validity
#                                           the mutants a running (or stopped) run has tested so far
#   scripts/mutation.sh scores dynamic+xsave+validity
#                                           per-file scores and survivors of a finished run
#   scripts/mutation.sh apply kvm 3426     writes one mutant of a finished run into the source (its span
#                                           and replacement from the JSON report), to run any tests against
#                                           it by hand; undo with `git checkout -- Core`
#   STRYKER_ADDITIONAL_TIMEOUT=60000 scripts/mutation.sh kvm
#                                           a longer time-out allowance (ms; default 10000, see run())
#   MUTATE_LINES=414..836 scripts/mutation.sh kvm
#                                           only those lines of the shard's files, to run a long file in
#                                           parts (Stryker's --mutate span counts characters, not lines: the
#                                           script converts)
#   SHARD_TESTS='Core Mutation Scenarios' scripts/mutation.sh kvm
#                                           a leaner test filter (namespaces or Namespace.Class of
#                                           Properties) for a quick first pass: a mutant it kills is killed;
#                                           recheck its survivors with the shard's own filter
#
# Each shard mutates its files and runs only the tests that can see them (a test filter: without one every mutant
# runs the whole suite, minutes each). Always left out: the purity test (Stryker's instrumentation adds exactly the
# environment and threading references it forbids, so it would "kill" every mutant), and tests that check the
# source's shape, not its values (GuardTests compile snippets, ArchitectureTests scan references). Never in any
# filter: Live (no /dev/kvm), Tcg, Fuzz, Packaging, CliTool, Bench, Checking and Docs (slow, and what they see of
# these files the namespaces below see first).
# Reports go to ${STRYKER_OUTPUT:-/tmp/cpuidf-stryker}/<shards>/ (html, json and a plain-text table in the log).
# Run it under `nice` on a shared machine; never two Stryker runs in one checkout at once (they share
# Properties/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${STRYKER_OUTPUT:-/tmp/cpuidf-stryker}"
lines="${MUTATE_LINES:-}"
dotnet tool restore >/dev/null

# Test selectors: whole namespaces of Properties, or single classes (Namespace.Class).
sel() { printf 'FullyQualifiedName~CpuidFunctional.Properties.%s.|' "$@" | sed 's/|$//'; }

# Stryker 5.1.0 reads a span after a --mutate pattern, `File.cs{from..to}`, as character positions in the file (a
# span given as line numbers selects the wrong code, or none: "0 total mutants will be tested"). Prints the span of
# characters of lines FROM..TO (1-based, inclusive) of a file.
char_span() {
  python3 - "$1" "$2" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8-sig").read()
first, last = (int(n) for n in sys.argv[2].split(".."))
starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
if not 1 <= first <= last or first > len(starts):
    sys.exit(f"MUTATE_LINES={sys.argv[2]}: {sys.argv[1]} has {len(starts)} lines")
end = starts[last] - 1 if last < len(starts) else len(text)
print(f"{{{starts[first - 1]}..{end}}}")
PY
}

# shard name | files to mutate, space-separated, relative to Core/ | tests
shards=(
  "lookup|Cpuid/CpuidLookup.cs|$(sel Core Mutation)"
  "table|Cpuid/CpuidTable.cs|$(sel Core Mutation)"
  "dynamic|Dynamic/DynamicBits.cs|$(sel Core Mutation Scenarios Host.DumpXsaveSizeTests Host.SpecWorkedXsaveValueTests)"
  "xsave|Host/XsaveLayout.cs|$(sel Core Mutation Scenarios Host)"
  "validity|State/Xcr0.cs State/Cr0.cs State/Efer.cs Dynamic/GuestCpuCaps.cs|$(sel Core Mutation Scenarios Interpreter.SystemInstructionTests)"
  "kvm|Model/Kvm.cs|$(sel Core Mutation Scenarios Interpreter Equivalence.TeethTests Equivalence.MwaitQuirkDivergenceTests)"
)
# GuestMemoryTests (Interpreter namespace) test the interpreter's memory, which no Core file reaches, and are a quarter
# of the kvm filter's test time.
excluded='FullyQualifiedName!~PurityTests&FullyQualifiedName!~GuardTests&FullyQualifiedName!~ArchitectureTests&FullyQualifiedName!~GuestMemoryTests'

# One Stryker run: its name, then the shards' files and test filters.
run() {
  local run_name="$1" filter="$2"; shift 2
  mkdir -p "$out"
  # STRYKER_ADDITIONAL_TIMEOUT (ms) replaces the config's 10 s. A mutant's time-out is twice the initial run plus this,
  # and after a time-out Stryker restarts the test host, so the next mutant runs cold (JIT, statics): under load one
  # time-out then makes every later mutant time out too (seen on the kvm shard at load 7: 16 of 16). The allowance
  # must cover a cold run of the shard's filter.
  local config=../stryker-config.json
  if [ -n "${STRYKER_ADDITIONAL_TIMEOUT:-}" ]; then
    config="$out/$run_name.config.json"
    sed "s/\"additional-timeout\": [0-9]*/\"additional-timeout\": $STRYKER_ADDITIONAL_TIMEOUT/" stryker-config.json >"$config"
  fi
  echo "== $run_name: $*"
  # Under heavy load Buildalyzer's `dotnet --info` can time out ("Could not find build environment"): try again.
  for attempt in 1 2 3; do
    (cd Properties && nice -n 10 dotnet dotnet-stryker -f "$config" "$@" \
        --test-case-filter "($filter)&$excluded" --output "$out/$run_name" --log-to-file) >"$out/$run_name.log" 2>&1 || true
    grep -q "Could not find build environment" "$out/$run_name.log" || break
    echo "attempt $attempt: Could not find build environment (load?), again"
  done
  grep -E "score|Killed|Survived|Timeout|No coverage|tests found|ERR" "$out/$run_name.log" || true
}

# `scripts/mutation.sh progress RUN` (RUN as named under $out, e.g. dynamic+xsave+validity): the mutants tested so far
# by a run still going (or stopped), read from its debug log, since Stryker writes its report only at the end.
# Timeout: the run exceeded the time-out (the host was restarted); look at each. Survived lines show the mutation.
if [ "${1:-}" = progress ]; then
  log="$(ls -t "$out/$2"/logs/log-*.txt | head -1)"
  awk '
    /Stryker started with options/ { delete created; delete timedout; delete status; n = 0 }
    match($0, /Mutant [0-9]+ created ".*" -> ".*" using/) {
      s = substr($0, RSTART + 7); id = s + 0; sub(/^[0-9]+ created /, "", s); sub(/ using.*/, "", s); created[id] = s }
    match($0, /Testing mutant\(s\) \["[0-9]+"\]/) { current = substr($0, RSTART + 20) + 0 }
    /Test run timed out/ { timedout[current] = 1 }
    match($0, /Test run for "[0-9]+: [^"]*" is "[a-z]+"/) {
      s = substr($0, RSTART + 14); id = s + 0
      st = timedout[id] ? "Timeout" : (s ~ /is "failed"/ ? "Killed" : "Survived")
      if (!(id in status)) order[++n] = id
      status[id] = st }
    END {
      for (i = 1; i <= n; i++) { id = order[i]; count[status[id]]++
        if (status[id] != "Killed") printf "%s %s %s\n", id, status[id], substr(created[id], 1, 200) }
      printf "tested %d: killed %d, survived %d, timeout %d\n", n, count["Killed"], count["Survived"], count["Timeout"] }
  ' "$log"
  exit 0
fi

# `scripts/mutation.sh scores RUN`: per-file scores of a finished run from its JSON report (Stryker's own table in the
# log is cut to the terminal's width), and every survivor with its line, for the list in docs/testing.md. A time-out
# counts as detected, as Stryker counts it.
if [ "${1:-}" = scores ]; then
  python3 - "$(ls -t "$out/$2"/reports/mutation-report.json | head -1)" <<'PY'
import collections, json, sys
report = json.load(open(sys.argv[1]))
for name, f in sorted(report["files"].items()):
    status = collections.Counter(m["status"] for m in f["mutants"])
    tested = sum(status[k] for k in ("Killed", "Survived", "Timeout", "NoCoverage"))
    if tested == 0:
        continue
    detected = status["Killed"] + status["Timeout"]
    print(f"{name.split('/Core/')[-1]}: {detected}/{tested} detected ({status['Timeout']} by time-out), "
          f"{status['Survived'] + status['NoCoverage']} survived, score {100 * detected / tested:.1f} %"
          f"{f', and {n} that crashed the test host (not scored)' if (n := status['RuntimeError']) else ''}")
    lines = f["source"].split("\n")
    for m in f["mutants"]:
        if m["status"] in ("Survived", "NoCoverage"):
            line = m["location"]["start"]["line"]
            print(f"  {m['id']} line {line}: {lines[line - 1].strip()[:100]}  ->  {m.get('replacement', '')[:100]}")
PY
  exit 0
fi

# `scripts/mutation.sh apply RUN ID`: one mutant of a finished run written into the source file it mutates.
if [ "${1:-}" = apply ]; then
  python3 - "$(ls -t "$out/$2"/reports/mutation-report.json | head -1)" "$3" <<'PY'
import json, os, sys
report, wanted = json.load(open(sys.argv[1])), sys.argv[2]
for name, f in report["files"].items():
    for m in f["mutants"]:
        if m["id"] != wanted:
            continue
        path = os.path.join("Core", name.split("/Core/")[-1])
        text = open(path, encoding="utf-8-sig").read()
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        at = lambda p: starts[p["line"] - 1] + p["column"] - 1
        a, b = at(m["location"]["start"]), at(m["location"]["end"])
        open(path, "w", encoding="utf-8").write(text[:a] + m["replacement"] + text[b:])
        print(f"{path}:{m['location']['start']['line']}: {text[a:b]!r} -> {m['replacement']!r}")
        sys.exit(0)
sys.exit(f"no mutant {wanted} in {sys.argv[1]}")
PY
  exit 0
fi

names=() mutate=() filters=()
for shard in "${shards[@]}"; do
  IFS='|' read -r name shard_files _ <<<"$shard"
  shard_tests="${shard#*|*|}"
  [ -z "${SHARD_TESTS:-}" ] || shard_tests="$(sel $SHARD_TESTS)"
  [ $# -eq 0 ] || [[ " $* " == *" $name "* ]] || continue
  shard_mutate=()
  for f in $shard_files; do
    [ -z "$lines" ] || f="$f$(char_span "Core/$f" "$lines")"
    shard_mutate+=(--mutate "**/$f")
  done
  if [ $# -eq 0 ]; then
    run "$name" "$shard_tests" "${shard_mutate[@]}"
  else
    names+=("$name") mutate+=("${shard_mutate[@]}") filters+=("$shard_tests")
  fi
done
if [ $# -gt 0 ]; then
  [ ${#names[@]} -eq $# ] || { echo "unknown shard among: $* (lookup dynamic xsave validity kvm)" >&2; exit 2; }
  run "$(IFS=+; echo "${names[*]}")" "$(printf '%s\n' "${filters[@]}" | tr '|' '\n' | sort -u | paste -sd'|')" "${mutate[@]}"
fi
# Stryker leaves the mutated Core in Properties/bin: rebuild before the next dotnet test.
echo "rebuild before testing: dotnet build CpuidFunctional.sln -c Release"
