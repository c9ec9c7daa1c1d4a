#!/usr/bin/env bash
# Runs every `cargo run --release -- ...` command of README.md's shell blocks, as written, from
# the repository's root, and fails on the first that does not exit 0. Commands that write go
# where the README says (results/..., /tmp/...); run it on a clean clone.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
n=0
# Join continuation lines, keep the commands of ```sh blocks that start with cargo run.
commands=$(awk '
  /^```sh/ { inblock = 1; next }
  /^```/   { inblock = 0; next }
  inblock {
    line = $0
    if (cont != "") { line = cont " " line; cont = "" }
    if (line ~ /\\$/) { sub(/\\$/, "", line); cont = line; next }
    if (line ~ /^cargo run --release --/) print line
  }' README.md)
while IFS= read -r cmd; do
  [ -z "$cmd" ] && continue
  n=$((n + 1))
  echo "readme[$n]: $cmd"
  if ! timeout 600 bash -c "$cmd" > /dev/null; then
    echo "readme-commands: failed: $cmd" >&2
    exit 1
  fi
done <<< "$commands"
echo "readme-commands: all $n commands ran"
