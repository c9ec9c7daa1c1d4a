#!/usr/bin/env bash
# Times the 10,000-point sweep with 1 and 2 threads and checks the outputs are identical.
# Usage: benches/sweep-scaling.sh   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/tiersim
out=$(mktemp -d)
for t in 1 2; do
  start=$(date +%s.%N)
  "$bin" sweep benches/sweep-10k.yaml --threads "$t" --out "$out/t$t" --no-plots --no-progress > /dev/null
  end=$(date +%s.%N)
  echo "threads $t: $(echo "$end - $start" | bc) s"
done
cmp "$out/t1/sweep-10k.csv" "$out/t2/sweep-10k.csv" && echo "outputs identical"
ls -l "$out/t1/sweep-10k.csv" | awk '{print "csv bytes:", $5}'
rm -rf "$out"
