#!/usr/bin/env bash
# Runs a sharded tiersim sweep as a real Slurm job array on this machine and checks that the
# merged shards are, byte for byte, the CSV one run writes.
#
# It installs Debian's slurm-wlm and munge when missing, starts a private single-node cluster
# (munged, slurmctld and slurmd in a temporary directory, on free ports, this host as controller
# and only node), submits scripts/sweep-array.sbatch as `sbatch --array=0-3` (each task runs
# `tiersim sweep --shard auto`), polls the array's tasks with `scontrol` until they finish, merges
# the shards with `tiersim sweep merge`, runs the same spec once without shards, and `cmp`s the
# two CSVs. Every daemon it started is stopped on exit, however it exits.
#
# Where no Slurm can run here (no root, no package, a daemon that will not start or a node that
# never comes up), it says why, quoting the daemons' log lines, and runs the same job script as
# four parallel processes with the variables Slurm would set. The last line names the path taken:
# "path: slurm" or "path: emulated".
#
# usage: scripts/slurm-sweep.sh [--emulate] [SPEC]
#   --emulate  skip Slurm and run the emulated array (to exercise that path)
#   SPEC       the sweep spec (default: models/sweeps/shard-demo.yaml, 16 points)
# environment: TIERSIM (the binary; default: build target/release/tiersim),
#   SLURM_SWEEP_TIMEOUT (seconds the array may take, default 300), KEEP=1 (keep the work dir).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
emulate=""
if [ "${1:-}" = "--emulate" ]; then
  emulate="asked for with --emulate"
  shift
fi
# A spec or binary given is taken from the caller's directory; the default spec, like the job
# script, from the repository's root, where everything below runs (a Slurm job starts in the
# directory sbatch ran in), so the commands printed are those the README shows.
if [ -n "${TIERSIM:-}" ]; then
  TIERSIM=$(realpath "$TIERSIM")
fi
if [ -n "${1:-}" ]; then
  spec=$(realpath "$1")
else
  spec=models/sweeps/shard-demo.yaml
fi
cd "$repo"
tasks=4
timeout_s=${SLURM_SWEEP_TIMEOUT:-300}
job_script=scripts/sweep-array.sbatch

say() { echo "slurm-sweep: $*"; }
fail() {
  say "FAILED: $*" >&2
  exit 1
}

work=$(mktemp -d /tmp/tiersim-slurm.XXXXXX)
# munged refuses a socket directory that others cannot traverse.
chmod 755 "$work"
mkdir -p "$work/logs" "$work/shards" "$work/single" "$work/merged"
daemon_pids=()
daemon_names=()
task_pids=()
jobid=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$jobid" ]; then
    scancel "$jobid" 2>/dev/null || true
  fi
  local i pid
  for pid in "${task_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  # Stop in reverse start order: slurmd, slurmctld, then munged they authenticate through.
  for ((i = ${#daemon_pids[@]} - 1; i >= 0; i--)); do
    pid=${daemon_pids[i]}
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      if kill -0 "$pid" 2>/dev/null; then
        say "${daemon_names[i]} (pid $pid) ignored SIGTERM for 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP:-}" = 1 ]; then
    say "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the binary ----------------------------------------------------------------------------------
if [ -z "${TIERSIM:-}" ]; then
  cargo build --quiet --release
  TIERSIM="$repo/target/release/tiersim"
fi
export TIERSIM
name=$(sed -n 's/^name:[[:space:]]*//p' "$spec" | head -n 1 | tr -d "\"'")
[ -n "$name" ] || fail "$spec has no top-level name:"

# --- Slurm: install, configure, start -----------------------------------------------------------
have_slurm() {
  command -v sbatch && command -v scontrol && command -v slurmctld && command -v slurmd &&
    command -v munged && command -v munge
} >/dev/null 2>&1

install_slurm() {
  have_slurm && return 0
  if [ "$(id -u)" -ne 0 ]; then
    emulate="Slurm is not installed and installing it needs root"
    return 1
  fi
  say "installing slurm-wlm and munge (apt-get)"
  if ! timeout 300 apt-get update -qq >"$work/logs/apt.log" 2>&1 ||
    ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
      slurm-wlm munge >>"$work/logs/apt.log" 2>&1; then
    emulate="apt-get could not install slurm-wlm and munge: $(tail -n 3 "$work/logs/apt.log" | tr '\n' ' ')"
    return 1
  fi
  have_slurm || {
    emulate="slurm-wlm installed but its commands are not on PATH"
    return 1
  }
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

start_daemon() {
  local name=$1
  shift
  "$@" >"$work/logs/$name.out" 2>&1 &
  daemon_pids+=("$!")
  daemon_names+=("$name")
}

# The error lines of the named daemons' logs (all three when none is named), less the ones every
# fresh start prints (no saved state yet, no PMIx library): what to quote when a start fails.
daemon_errors() {
  local names=("$@") files=() n
  [ "${#names[@]}" -gt 0 ] || names=(munged slurmctld slurmd)
  for n in "${names[@]}"; do
    files+=("$work/logs/$n.out" "$work/logs/$n.log")
  done
  grep -hiE 'error|fatal|fail|denied|not permitted' "${files[@]}" 2>/dev/null |
    grep -viE 'pmix|state file|Trying backup state|MPI: Cannot create context' | tail -n 10 || true
}

start_cluster() {
  if [ "$(id -u)" -ne 0 ]; then
    emulate="slurmd must run as root to start jobs, and this is uid $(id -u)"
    return 1
  fi
  local node cpus ctld_port slurmd_port
  node=$(hostname -s)
  cpus=$(nproc)
  ctld_port=$(free_port 6817)
  slurmd_port=$(free_port $((ctld_port + 1)))
  mkdir -p "$work/munge" "$work/state" "$work/spool"
  chmod 755 "$work/munge"
  # A key of this cluster's own, so the system's munge key (and its ownership) does not matter.
  head -c 1024 /dev/urandom >"$work/munge/munge.key"
  chmod 400 "$work/munge/munge.key"
  cat >"$work/slurm.conf" <<EOF
ClusterName=tiersim
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/logs/slurmctld.log
SlurmdLogFile=$work/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=tiersim Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$work/slurm.conf"
  say "starting munged, slurmctld (port $ctld_port) and slurmd (port $slurmd_port) as node $node with $cpus CPUs"
  local sock="$work/munge/munge.socket"
  start_daemon munged munged --foreground --force --socket="$sock" \
    --key-file="$work/munge/munge.key" --pid-file="$work/munge/munged.pid" \
    --log-file="$work/logs/munged.log" --seed-file="$work/munge/munged.seed"
  local ok=""
  for _ in $(seq 50); do
    if munge -S "$sock" -n 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.2
  done
  [ -n "$ok" ] || {
    emulate="munged did not answer within 10 s: $(daemon_errors munged | tr '\n' ' ')"
    return 1
  }
  start_daemon slurmctld slurmctld -D -c -f "$SLURM_CONF"
  start_daemon slurmd slurmd -D -f "$SLURM_CONF" -N "$node"
  local state=""
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    local i
    for i in "${!daemon_pids[@]}"; do
      if ! kill -0 "${daemon_pids[i]}" 2>/dev/null; then
        emulate="${daemon_names[i]} exited while starting: $(daemon_errors "${daemon_names[i]}" | tr '\n' ' ')"
        return 1
      fi
    done
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    emulate="node $node is '${state:-unknown}', not idle, 30 s after slurmd started ($(sinfo -h -R 2>/dev/null | tr '\n' ' ')): $(daemon_errors | tr '\n' ' ')"
    return 1
  fi
  say "node $node is idle: slurmd $(slurmd -V | cut -d' ' -f2) is up"
}

# --- the array ------------------------------------------------------------------------------------
terminal='COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE'

run_with_slurm() {
  local cmd=(sbatch --parsable --array=0-$((tasks - 1)) --cpus-per-task=1
    --output="$work/logs/task-%A_%a.out" "$job_script" "$spec" "$work/shards")
  say "running: ${cmd[*]}"
  jobid=$("${cmd[@]}")
  jobid=${jobid%%;*}
  say "submitted array job $jobid"
  local deadline=$((SECONDS + timeout_s)) lines done_count
  while :; do
    lines=$(scontrol -o show job "$jobid" 2>/dev/null || true)
    # Tasks not yet started share one pending record, so all are finished only when $tasks
    # records are, each in a final state.
    done_count=$(grep -cE "JobState=($terminal) " <<<"$lines" || true)
    if [ "$done_count" -eq "$tasks" ] && ! grep -qvE "JobState=($terminal) " <<<"$lines"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "array job $jobid not finished after $timeout_s s:"
      sed -E 's/.*(ArrayTaskId=[^ ]*).*(JobState=[^ ]*).*(Reason=[^ ]*).*/  \1 \2 \3/' <<<"$lines"
      daemon_errors
      fail "timed out waiting for the array"
    fi
    sleep 1
  done
  say "array job $jobid finished; per task (from scontrol):"
  sed -E 's/.*(ArrayTaskId=[^ ]*).*(JobState=[^ ]*).*(RunTime=[^ ]*).*(NodeList=[^ ]*).*/  \1 \2 \3 \4/' <<<"$lines" |
    sort -t= -k2 -n
  local bad
  bad=$(grep -vE "JobState=COMPLETED .* ExitCode=0:0" <<<"$lines" || true)
  if [ -n "$bad" ]; then
    cat "$work"/logs/task-*.out >&2 || true
    fail "some array tasks did not complete: $(sed -E 's/.*(ArrayTaskId=[^ ]*).*(JobState=[^ ]*).*(ExitCode=[^ ]*).*/\1 \2 \3/' <<<"$bad" | tr '\n' ' ')"
  fi
  jobid=""
  cat "$work"/logs/task-*.out
}

run_emulated() {
  say "running the job script as $tasks parallel processes with Slurm's array variables"
  local i failed=""
  for ((i = 0; i < tasks; i++)); do
    env SLURM_ARRAY_JOB_ID=0 SLURM_JOB_ID="$i" SLURM_ARRAY_TASK_ID="$i" \
      SLURM_ARRAY_TASK_COUNT="$tasks" SLURM_ARRAY_TASK_MIN=0 \
      SLURM_ARRAY_TASK_MAX=$((tasks - 1)) SLURM_ARRAY_TASK_STEP=1 SLURM_CPUS_PER_TASK=1 \
      timeout "$timeout_s" bash "$job_script" "$spec" "$work/shards" \
      >"$work/logs/emulated-$i.out" 2>&1 &
    task_pids+=("$!")
  done
  for i in "${!task_pids[@]}"; do
    wait "${task_pids[i]}" || failed+=" $i"
  done
  task_pids=()
  cat "$work"/logs/emulated-*.out
  [ -z "$failed" ] || fail "emulated tasks failed:$failed"
}

path=slurm
if [ -z "$emulate" ] && install_slurm && start_cluster; then
  run_with_slurm
else
  path=emulated
  say "NOT running under Slurm: $emulate"
  run_emulated
fi

# --- merge and compare ----------------------------------------------------------------------------
shards=()
for ((i = 0; i < tasks; i++)); do
  shards+=("$work/shards/$name.shard-$i-of-$tasks.csv")
done
say "running: tiersim sweep merge $work/shards/$name.shard-*-of-$tasks.csv --out $work/merged/$name.csv"
"$TIERSIM" sweep merge "${shards[@]}" --out "$work/merged/$name.csv"
say "running: tiersim sweep $spec --out $work/single --no-plots --no-progress"
"$TIERSIM" sweep "$spec" --out "$work/single" --no-plots --no-progress >/dev/null
say "running: cmp $work/single/$name.csv $work/merged/$name.csv"
if ! cmp "$work/single/$name.csv" "$work/merged/$name.csv"; then
  fail "the merged shards differ from the single run"
fi
say "merged $tasks shards = single run: $(wc -c <"$work/merged/$name.csv") bytes, $(($(wc -l <"$work/merged/$name.csv") - 1)) rows, identical (cmp)"
if [ "$path" = slurm ]; then
  say "ok (path: slurm: slurmd ran the $tasks array tasks)"
else
  say "ok (path: emulated: Slurm did not run; $emulate)"
fi
