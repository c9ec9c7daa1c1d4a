//! `sweep --shard auto` as a Slurm job array task runs it: the shard comes from the array
//! variables given to the child process (the test's own environment is never changed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{fails_with, merge_shards, scratch, stdout};
use tiersim::sweep::shard::slurm;

/// The checked-in spec `scripts/slurm-sweep.sh` submits.
fn demo_spec() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sweeps/shard-demo.yaml")
}

/// Runs `tiersim sweep SPEC --out OUT --shard auto` with exactly the array variables `vars`.
fn auto_task(out: &Path, vars: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tiersim"));
    cmd.args(["sweep", demo_spec().to_str().unwrap(), "--out"])
        .arg(out)
        .args(["--shard", "auto", "--threads", "1", "--no-progress"]);
    for var in slurm::ALL {
        cmd.env_remove(var);
    }
    cmd.envs(vars.iter().map(|(k, v)| (*k, v)));
    cmd.output().expect("the binary runs")
}

#[test]
fn an_array_numbered_from_one_merges_to_the_single_run() {
    let dir = scratch("shard-auto");
    let single = dir.join("single");
    let spec = demo_spec();
    stdout(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        single.to_str().unwrap(),
        "--no-plots",
        "--threads",
        "1",
    ]);
    let reference = std::fs::read(single.join("shard-demo.csv")).unwrap();

    // `sbatch --array=1-4`: ids 1 to 4 are shards 0 to 3, and each task writes only its own.
    let shards = dir.join("shards");
    for id in 1..=4u64 {
        let out = auto_task(
            &shards,
            &[
                (slurm::TASK_ID, id.to_string()),
                (slurm::TASK_COUNT, "4".into()),
                (slurm::TASK_MIN, "1".into()),
                (slurm::TASK_MAX, "4".into()),
                (slurm::TASK_STEP, "1".into()),
            ],
        );
        assert!(
            out.status.success(),
            "task {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            shards
                .join(format!("shard-demo.shard-{}-of-4.csv", id - 1))
                .exists(),
            "task {id} wrote no shard {}",
            id - 1
        );
    }
    assert!(!shards.join("shard-demo.shard-4-of-4.csv").exists());

    let merged = dir.join("merged.csv");
    merge_shards(&shards, "shard-demo", 4, &merged);
    assert_eq!(std::fs::read(&merged).unwrap(), reference);
}

#[test]
fn auto_outside_a_job_array_or_in_a_listed_one_fails_in_one_sentence() {
    let dir = scratch("shard-auto-bad");
    let check = |vars: &[(&str, String)], needles: &[&str]| {
        let out = auto_task(&dir, vars);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for n in needles {
            assert!(err.contains(n), "`{err}` lacks `{n}`");
        }
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_none(),
            "wrote results: {err}"
        );
    };
    check(&[], &["--shard", slurm::TASK_ID, "sbatch --array"]);
    check(
        &[(slurm::TASK_ID, "2".into())],
        &["--shard", slurm::TASK_COUNT],
    );
    // `sbatch --array=0,3,7`: Slurm sets COUNT=3 MIN=0 MAX=7 STEP=1.
    check(
        &[
            (slurm::TASK_ID, "3".into()),
            (slurm::TASK_COUNT, "3".into()),
            (slurm::TASK_MIN, "0".into()),
            (slurm::TASK_MAX, "7".into()),
            (slurm::TASK_STEP, "1".into()),
        ],
        &["--shard", "SLURM_ARRAY_TASK_MAX is 7", "--array=A-B"],
    );
    check(
        &[
            (slurm::TASK_ID, "one".into()),
            (slurm::TASK_COUNT, "4".into()),
        ],
        &["SLURM_ARRAY_TASK_ID=`one`"],
    );
    // A typo is not taken for auto.
    fails_with(
        &["sweep", demo_spec().to_str().unwrap(), "--shard", "atuo"],
        &["--shard", "`atuo`", "auto"],
    );
}
