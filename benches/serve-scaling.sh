#!/usr/bin/env bash
# Times `tiersim serve` on the default workload (qwen2.5-3b-instruct-q4_k_m on h100-hbf, 16
# slots, 4 requests/s) at 1k, 4k, 16k and 100k requests, and prints the seconds and the seconds
# per 1,000 requests: linear cost keeps the last column flat. The bar (issue 14): 100,000
# requests within 30 s on the 2-core reference machine, with room for a loaded machine: they
# take 22-23 s there (0.22-0.23 s per 1,000 requests).
# Usage: benches/serve-scaling.sh [REQUESTS...]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/tiersim
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 4000 16000 100000)
printf '%9s %9s %13s\n' requests seconds 's_per_1k_req'
for n in "${counts[@]}"; do
  start=$(date +%s.%N)
  "$bin" serve --set "serve.requests=$n" -o csv > /dev/null
  end=$(date +%s.%N)
  awk -v n="$n" -v s="$start" -v e="$end" \
    'BEGIN { t = e - s; printf "%9d %9.2f %13.3f\n", n, t, t / n * 1000 }'
done
