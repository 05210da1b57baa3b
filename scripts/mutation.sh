#!/usr/bin/env bash
# Mutation testing of Core's semantic files with Stryker.NET (docs/testing.md, "Mutation testing"). Not run by CI:
# each mutant costs about 13 s on 2 cores, so a whole file takes from minutes (CpuidLookup.cs) to hours (Kvm.cs).
#
#   scripts/mutation.sh             every shard, one after the other
#   scripts/mutation.sh lookup      one shard: lookup, dynamic, xsave, validity, kvm
#
# Each shard mutates one file and runs only the tests that exercise it (a test filter: without one every mutant
# runs the whole suite, minutes each). The purity test is always excluded: Stryker's instrumentation adds exactly
# the environment and threading references it forbids, so it would "kill" every mutant. Reports go to
# ${STRYKER_OUTPUT:-/tmp/cpuidf-stryker}/<shard>/ (html, json and a plain-text table in stryker.log).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${STRYKER_OUTPUT:-/tmp/cpuidf-stryker}"
dotnet tool restore >/dev/null

# shard name | file to mutate (relative to Core/) | tests (dotnet test --filter syntax, namespaces of Properties)
shards=(
  "lookup|Cpuid/CpuidLookup.cs|FullyQualifiedName~Properties.Core.|FullyQualifiedName~Properties.Mutation."
  "dynamic|Dynamic/DynamicBits.cs|FullyQualifiedName~Properties.Core.|FullyQualifiedName~Properties.Mutation.|FullyQualifiedName~Properties.Scenarios."
  "xsave|Host/XsaveLayout.cs|FullyQualifiedName~Properties.Host.|FullyQualifiedName~Properties.Mutation.|FullyQualifiedName~Properties.Core."
  "validity|State/Xcr0.cs|FullyQualifiedName~Properties.Core.|FullyQualifiedName~Properties.Mutation."
  "kvm|Model/Kvm.cs|FullyQualifiedName~Properties.Core.|FullyQualifiedName~Properties.Mutation.|FullyQualifiedName~Properties.Equivalence.|FullyQualifiedName~Properties.Scenarios."
)

run_shard() {
  local name="$1" file="$2" tests="$3"
  echo "== shard $name: Core/$file"
  (cd Properties && dotnet dotnet-stryker -f ../stryker-config.json \
      --mutate "**/$file" \
      --test-case-filter "($tests)&FullyQualifiedName!~PurityTests" \
      --output "$out/$name" --log-to-file) | tee "$out/$name.log" | grep -E "score|Killed|Survived|Timeout|No coverage|tests found|ERR" || true
}

mkdir -p "$out"
for shard in "${shards[@]}"; do
  IFS='|' read -r name file tests <<<"${shard%%|FullyQualified*}"
  tests="${shard#*|*|}"
  if [ $# -eq 0 ] || [ "$1" = "$name" ]; then
    run_shard "$name" "$file" "$tests"
  fi
done
# Stryker leaves the mutated Core in Properties/bin: rebuild before the next dotnet test.
echo "rebuild before testing: dotnet build CpuidFunctional.sln -c Release"
