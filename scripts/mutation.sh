#!/usr/bin/env bash
# Mutation testing of Core's semantic files with Stryker.NET (docs/testing.md, "Mutation testing"). Not run by CI:
# each mutant costs a few seconds on 2 cores, so a file takes from minutes (CpuidLookup.cs) to an hour (Kvm.cs).
#
#   scripts/mutation.sh                     every shard, one Stryker run each, one after the other
#   scripts/mutation.sh lookup              one shard: lookup, dynamic, xsave, validity, kvm
#   scripts/mutation.sh dynamic xsave       several shards in ONE Stryker run (one build, about 5 minutes
#                                           saved per extra shard; the union of their test filters)
#   MUTATE_SPAN='{1..300}' scripts/mutation.sh kvm
#                                           only those lines of the shard's files (Stryker's --mutate
#                                           line span), to run a long file in parts
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
span="${MUTATE_SPAN:-}"
dotnet tool restore >/dev/null

# Test selectors: whole namespaces of Properties, or single classes (Namespace.Class).
sel() { printf 'FullyQualifiedName~CpuidFunctional.Properties.%s.|' "$@" | sed 's/|$//'; }

# shard name | files to mutate, space-separated, relative to Core/ (a {from..to} line span allowed) | tests
shards=(
  "lookup|Cpuid/CpuidLookup.cs|$(sel Core Mutation)"
  "dynamic|Dynamic/DynamicBits.cs|$(sel Core Mutation Scenarios Host.DumpXsaveSizeTests Host.SpecWorkedXsaveValueTests)"
  "xsave|Host/XsaveLayout.cs|$(sel Core Mutation Scenarios Host)"
  "validity|State/Xcr0.cs State/Cr0.cs State/Efer.cs Dynamic/GuestCpuCaps.cs Model/Kvm.cs{48..76}|$(sel Core Mutation Scenarios Interpreter.SystemInstructionTests)"
  "kvm|Model/Kvm.cs|$(sel Core Mutation Scenarios Interpreter Equivalence.TeethTests Equivalence.MwaitQuirkDivergenceTests)"
)
excluded='FullyQualifiedName!~PurityTests&FullyQualifiedName!~GuardTests&FullyQualifiedName!~ArchitectureTests'

# One Stryker run: its name, then the shards' files and test filters.
run() {
  local run_name="$1" filter="$2"; shift 2
  # Stryker's MTP runner tells the reused test host the active mutant through a file in the temp directory,
  # named by process id: a private TMPDIR keeps runs of other checkouts from ever sharing it.
  mkdir -p "$out/tmp"
  echo "== $run_name: $*"
  (cd Properties && TMPDIR="$out/tmp" nice -n 10 dotnet dotnet-stryker -f ../stryker-config.json "$@" \
      --test-case-filter "($filter)&$excluded" --output "$out/$run_name" --log-to-file) \
    | tee "$out/$run_name.log" | grep -E "score|Killed|Survived|Timeout|No coverage|tests found|ERR" || true
}

names=() mutate=() filters=()
for shard in "${shards[@]}"; do
  IFS='|' read -r name shard_files _ <<<"$shard"
  shard_tests="${shard#*|*|}"
  shard_mutate=()
  for f in $shard_files; do [[ $f == *"{"* ]] || f="$f$span"; shard_mutate+=(--mutate "**/$f"); done
  if [ $# -eq 0 ]; then
    run "$name" "$shard_tests" "${shard_mutate[@]}"
  elif [[ " $* " == *" $name "* ]]; then
    names+=("$name") mutate+=("${shard_mutate[@]}") filters+=("$shard_tests")
  fi
done
if [ $# -gt 0 ]; then
  [ ${#names[@]} -eq $# ] || { echo "unknown shard among: $* (lookup dynamic xsave validity kvm)" >&2; exit 2; }
  run "$(IFS=+; echo "${names[*]}")" "$(printf '%s\n' "${filters[@]}" | tr '|' '\n' | sort -u | paste -sd'|')" "${mutate[@]}"
fi
# Stryker leaves the mutated Core in Properties/bin: rebuild before the next dotnet test.
echo "rebuild before testing: dotnet build CpuidFunctional.sln -c Release"
