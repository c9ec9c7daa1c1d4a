#!/bin/sh
# Regenerates the fitted profiles and fit/validation reports in calibration/.
# Run from the repository root:  sh calibration/regenerate.sh
# (TIERSIM=path/to/tiersim to use a built binary; by default cargo builds the release one.)
# Each fit takes from 30 s to a few minutes on 2 cores; everything is deterministic.
set -eu
T=${TIERSIM:-"cargo run --quiet --release --"}
C=calibration
R=tests/data/llama-bench/runs
Q=qwen2.5-3b-instruct-q4_k_m
S=smollm2-135m-instruct-q4_1

# (a) The seeds' laptop: Ryzen 3 5300U, Qwen2.5-3B Q4_K_M, 8 threads, Findings V1.
# The tables hold three distinct pp tests and three tg tests at depth 0: they determine the
# effective bandwidth and the prefill rate, not the attention rate (no depth), nor the overheads
# apart from the bandwidth (one model), nor the decode matmul rate (decode is memory-bound).
# Those four stay at the preset's values.
FIX="--fix decode_efficiency,attention_efficiency,layer_overhead,step_overhead"
# All 18 post-restart (cold) medians:
$T calibrate $C/findings_v1_cold.csv --model $Q --system laptop-ryzen3-5300u --name laptop-ryzen3-5300u $FIX \
  --out $C/laptop-ryzen3-5300u.all-points.profile.yaml \
  --report $C/laptop-ryzen3-5300u.all-points.fit.md > /dev/null
# Without the three p = 64 sweep points (their pp64 takes longer than pp128 at twice the tokens:
# the first points after the restart; see laptop-ryzen3-5300u.md):
$T calibrate $C/findings_v1_cold.csv --model $Q --system laptop-ryzen3-5300u --name laptop-ryzen3-5300u $FIX \
  --exclude n_prompt=64 \
  --out $C/laptop-ryzen3-5300u.profile.yaml --report $C/laptop-ryzen3-5300u.fit.md > /dev/null
# The warm table, predicted by that profile:
$T validate $C/findings_v1_warm.csv --system $C/laptop-ryzen3-5300u.profile.yaml --model $Q \
  --report $C/laptop-ryzen3-5300u.validate-warm.md > /dev/null
$T validate $C/findings_v1_cold.csv --system $C/laptop-ryzen3-5300u.profile.yaml --model $Q \
  --report $C/laptop-ryzen3-5300u.validate-cold-all.md > /dev/null

# (b) The 2-core Zen 4 of data/llama-bench-2core-zen4, SmolLM2-135M Q4_1, 2 threads.
# Settings the simulator has no physics for (q8_0 KV caches: dequantisation cost; flash
# attention off; repacking off) are left out of fits and of the "default settings" validations.
DEFAULTS="--exclude type_k=q8_0 --exclude type_v=q8_0 --exclude flash_attn=0 --exclude repack=false"
HELDOUT="$R/smollm2-135m-q4_1__pp128_depth__t2.json $R/smollm2-135m-q4_1__pp512_ubatch__t2.json \
  $R/smollm2-135m-q4_1__pg128-64__t2.json $R/smollm2-135m-q4_1__kvtype_tg32_d0-2048__t2.json \
  $R/smollm2-135m-q4_1__kvtype_pp512__t2.json $R/smollm2-135m-q4_1__fa_tg32_d0-2048__t2.json \
  $R/smollm2-135m-q4_1__loadmode_pp512_tg128__t2.json $R/smollm2-135m-q4_1__repack_pp512_tg128__t2.json"
# Held-out split A: fit on the pp and tg sweeps only (depth 0), validate on every other run.
$T calibrate $R/smollm2-135m-q4_1__pp_sweep__t2.json $R/smollm2-135m-q4_1__tg_sweep__t2.json \
  --model $S --system $C/zen4-2core-base.yaml --name zen4-2core-t2-split-a \
  --out $C/zen4-2core-t2.split-a.profile.yaml --report $C/zen4-2core-t2.split-a.fit.md > /dev/null
$T validate $R/smollm2-135m-q4_1__tg32_depth__t2.json $HELDOUT --model $S \
  --system $C/zen4-2core-t2.split-a.profile.yaml \
  --report $C/zen4-2core-t2.split-a.heldout-all.md > /dev/null
$T validate $R/smollm2-135m-q4_1__tg32_depth__t2.json $HELDOUT --model $S $DEFAULTS \
  --system $C/zen4-2core-t2.split-a.profile.yaml \
  --report $C/zen4-2core-t2.split-a.heldout-defaults.md > /dev/null
# Held-out split B: the sweeps and the tg32 depth series (decode at depth 0-4096), validate on
# the rest (prompt at depth, ubatch, pg, KV types, flash attention, load mode, repacking).
$T calibrate $R/smollm2-135m-q4_1__pp_sweep__t2.json $R/smollm2-135m-q4_1__tg_sweep__t2.json \
  $R/smollm2-135m-q4_1__tg32_depth__t2.json \
  --model $S --system $C/zen4-2core-base.yaml --name zen4-2core-t2-split-b \
  --out $C/zen4-2core-t2.split-b.profile.yaml --report $C/zen4-2core-t2.split-b.fit.md > /dev/null
$T validate $HELDOUT --model $S --system $C/zen4-2core-t2.split-b.profile.yaml \
  --report $C/zen4-2core-t2.split-b.heldout-all.md > /dev/null
$T validate $HELDOUT --model $S $DEFAULTS --system $C/zen4-2core-t2.split-b.profile.yaml \
  --report $C/zen4-2core-t2.split-b.heldout-defaults.md > /dev/null
# The profile: every 2-thread run at the default settings.
$T calibrate $R/smollm2-135m-q4_1__*__t2.json --model $S --system $C/zen4-2core-base.yaml \
  $DEFAULTS --name zen4-2core-t2 --out $C/zen4-2core-t2.profile.yaml \
  --report $C/zen4-2core-t2.fit.md > /dev/null
$T validate $R/smollm2-135m-q4_1__*__t2.json --model $S --system $C/zen4-2core-t2.profile.yaml \
  --report $C/zen4-2core-t2.validate-all.md > /dev/null

# (c) The same machine at 1 thread: nominal rates of one core (83.2 GFLOP/s, ~23 GB/s read).
$T calibrate $R/smollm2-135m-q4_1__pp_sweep__t1.json $R/smollm2-135m-q4_1__tg_sweep__t1.json \
  --model $S --system $C/zen4-2core-base.yaml --threads 1 \
  --set compute.peak_flops=83.2GFLOP/s --set tiers.dram.read_bw=23GB/s \
  --set "compute.device=AMD EPYC Zen 4 (Genoa) KVM guest, llama.cpp CPU backend, 1 thread" \
  --name zen4-2core-t1-sweeps \
  --out $C/zen4-2core-t1.sweeps.profile.yaml --report $C/zen4-2core-t1.sweeps.fit.md > /dev/null
$T validate $R/smollm2-135m-q4_1__tg32_depth__t1.json --model $S \
  --system $C/zen4-2core-t1.sweeps.profile.yaml \
  --report $C/zen4-2core-t1.sweeps.heldout.md > /dev/null
# The 1-thread profile: all three 1-thread runs (sweeps and the tg32 depth series).
$T calibrate $R/smollm2-135m-q4_1__*__t1.json --model $S --system $C/zen4-2core-base.yaml \
  --threads 1 --set compute.peak_flops=83.2GFLOP/s --set tiers.dram.read_bw=23GB/s \
  --set "compute.device=AMD EPYC Zen 4 (Genoa) KVM guest, llama.cpp CPU backend, 1 thread" \
  --name zen4-2core-t1 --out $C/zen4-2core-t1.profile.yaml --report $C/zen4-2core-t1.fit.md > /dev/null

# (c) Per-kernel profiles (DESIGN §2.4: a rate per weight type, one-token and many-token,
# repacked layouts, per-node and per-token costs, prompt and decode attention, the measured
# bandwidth-against-working-set curve). The Xeon: six models (SmolLM2-135M in five weight types
# and Gemma-3-270M Q4_K_M) fitted jointly; the report's LOO columns are leave-one-model-out.
X=tests/data/llama-bench/xeon
XM=$X/gemma3-270m-q4_k_m.yaml,$X/smollm2-135m-f16.yaml,$X/smollm2-135m-q4_0.yaml,$X/smollm2-135m-q4_1.yaml,$X/smollm2-135m-q4_k_m.yaml,$X/smollm2-135m-q8_0.yaml
$T calibrate $X/*.json --model $XM --system $C/xeon-2core-base.yaml --name xeon-2core-t2 \
  --loo model --out $C/xeon-2core-t2.profile.yaml --report $C/xeon-2core-t2.fit.md > /dev/null
# The Zen 4 at 2 and 1 threads (one model, SmolLM2-135M Q4_1), every row: flash attention off,
# q8_0 KV caches and repacking off are settings the per-kernel model covers. Leave-one-group-out.
for t in 2 1; do
  $T calibrate $R/*__t$t.json --model $S --system $C/zen4-2core-t$t-kernels-base.yaml \
    --name zen4-2core-t$t-kernels --loo group \
    --out $C/zen4-2core-t$t-kernels.profile.yaml --report $C/zen4-2core-t$t-kernels.fit.md > /dev/null
done
# One Zen 4 profile covering both thread counts: the 2-thread figures as `compute`, the
# 1-thread ones under `compute_at_threads`, so that `simulate -t 1,2` uses each count's own.
awk 'FNR == NR {
       if ($0 ~ /^compute:/) { on = 1; next }
       if (on && $0 !~ /^ /) on = 0
       if (on) { if (!started) { sub(/^  /, "  - "); started = 1 } else sub(/^/, "  "); block = block $0 "\n" }
       next
     }
     /^tiers:/ { printf "compute_at_threads:\n%s", block }
     { print }' $C/zen4-2core-t1-kernels.profile.yaml $C/zen4-2core-t2-kernels.profile.yaml \
  | sed 's/^name: zen4-2core-t2-kernels$/name: zen4-2core-kernels/' > $C/zen4-2core-kernels.profile.yaml
