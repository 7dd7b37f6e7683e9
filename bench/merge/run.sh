#!/bin/sh
# Builds the C loop and our TypeScript, then runs the offline merge benchmark
# in a scratch directory on a real disk (not tmpfs). Usage: bench/merge/run.sh [DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-/var/tmp/snapstore-bench-merge}
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
gcc -O2 -Wall -Wextra -o "$work/merge-loop" "$here/merge-loop.c"
cd "$root"
npx tsc --ignoreConfig --outDir "$work/js" --rootDir . --module nodenext --moduleResolution nodenext \
  --target es2022 --skipLibCheck --types node bench/merge/bench.ts bench/merge/merge-process.ts
echo '{"type":"module"}' > "$work/js/package.json"
node "$work/js/bench/merge/bench.js" "$work" "$work/merge-loop" "$work/js/bench/merge/merge-process.js"
