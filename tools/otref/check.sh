#!/bin/sh
# Proves internal/ot against the reference ot-text-unicode on freshly
# generated cases: installs the reference, generates with a random seed
# (printed, so a failure can be reproduced with gen.js --seed), runs the
# Go golden tests on the result.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/tools/otref"
npm ci --no-audit --no-fund --silent
seed=${OT_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
count=${OT_COUNT:-2000}
tmp=$(mktemp "${TMPDIR:-/tmp}/ot-golden.XXXXXX")
trap 'rm -f "$tmp"' EXIT
echo "otref: seed $seed, $count cases (reproduce: OT_SEED=$seed $0)"
node gen.js --seed "$seed" --count "$count" --out "$tmp"
cd "$root"
OT_GOLDEN_FILE="$tmp" ${GO:-go} test ./internal/ot -run Golden -count=1
