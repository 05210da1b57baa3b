#!/usr/bin/env bash
# Where inside one method the time goes, without hardware counters (docs/benchmarks.md, "Finding a method's hot
# blocks"). Runs the Bench console under perf, then prints the blocks of the method's tier-1 machine code that hold
# at least 3 % of its samples, with their first instructions.
#
#   scripts/hot-blocks.sh Class:Method [Bench console arguments...]
#   scripts/hot-blocks.sh DynamicBits:Materialize --workload l1-cpuid --policy lazy --repetitions 1000
#
# Needs perf and python3. Samples land on the instruction after the one that waited, so a hot block often starts
# just after a slow load or a call.
set -euo pipefail

if [[ $# -lt 1 || "$1" != *:* ]]; then
    echo "usage: $0 Class:Method [Bench console arguments...]" >&2
    exit 2
fi
method=$1
shift
for tool in perf python3; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet build -c Release "$root/Bench" -o "$work/bench" >/dev/null

# Write-xor-execute maps JIT code through a memfd that perf cannot name; without it the perf map resolves the code.
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 \
DOTNET_JitDisasm="${method#*:}" DOTNET_JitStdOutFile="$work/jit.txt" \
    perf record -q -F 9999 -o "$work/perf.data" "$work/bench/CpuidFunctional.Bench" "$@" >/dev/null
perf script -i "$work/perf.data" -F pid,ip,sym 2>/dev/null >"$work/samples.txt"

python3 - "$method" "$work" <<'EOF'
import collections, os, re, sys
method, work = sys.argv[1], sys.argv[2]
cls, name = method.split(':', 1)
in_map = f'{cls}::{name}('
in_listing = f'{cls}:{name}('
samples = [l.split(None, 2) for l in open(f'{work}/samples.txt') if in_map in l and 'OptimizedTier1' in l]
if not samples:
    sys.exit(f'no tier-1 samples in {method}: is the name right, and did the run last long enough to tier up?')
pid = collections.Counter(s[0] for s in samples).most_common(1)[0][0]
start = size = None
for line in open(f'/tmp/perf-{pid}.map'):
    address, length, symbol = line.rstrip('\n').split(' ', 2)
    if in_map in symbol and 'OptimizedTier1' in symbol:
        start, size = int(address, 16), int(length, 16)
offsets = collections.Counter()
for s in samples:
    offset = int(s[1], 16) - start
    if 0 <= offset < size:
        offsets[offset] += 1
total = sum(offsets.values())

listing, blocks, current = None, [], None
for line in open(f'{work}/jit.txt'):
    if line.startswith('; Assembly listing for method'):
        listing = in_listing in line and '(Tier1)' in line
        continue
    if not listing:
        continue
    m = re.search(r';; offset=0x([0-9A-F]+)', line)
    if m:
        current = [int(m.group(1), 16), []]
        blocks.append(current)
    elif current and line.strip() and not line.startswith(';'):
        current[1].append(line.rstrip())
print(f'{method}: {total} samples in {size} bytes of tier-1 code')
for i, (offset, body) in enumerate(blocks):
    end = blocks[i + 1][0] if i + 1 < len(blocks) else size
    share = 100 * sum(n for o, n in offsets.items() if offset <= o < end) / total
    if share >= 3:
        print(f'--- 0x{offset:x}-0x{end:x}: {share:.1f} %')
        print('\n'.join(body[:12]))
for leftover in (f'/tmp/perf-{pid}.map', f'/tmp/perfinfo-{pid}.map'):
    if os.path.exists(leftover):
        os.remove(leftover)
EOF
