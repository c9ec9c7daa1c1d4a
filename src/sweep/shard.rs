//! Shards: the slice of a sweep one process of a cluster job runs, written `i/n` or taken from a
//! Slurm job array's environment (`--shard auto`).
//!
//! A job array's task ids need not start at 0 (`--array=1-64`) nor be consecutive
//! (`--array=0-126:2`), so the shard is the task's position in the array, not its id.

use std::collections::HashMap;

use crate::error::Error;

/// A slice of a sweep: the points whose id is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

/// The Slurm variables `--shard auto` reads, as Slurm names them in a job array task.
pub mod slurm {
    /// This task's id in the array.
    pub const TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
    /// Number of tasks in the array.
    pub const TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
    /// The lowest task id.
    pub const TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
    /// The highest task id.
    pub const TASK_MAX: &str = "SLURM_ARRAY_TASK_MAX";
    /// The distance between consecutive task ids (`--array=0-15:4`).
    pub const TASK_STEP: &str = "SLURM_ARRAY_TASK_STEP";
    /// Every variable above, for collecting them from the process environment.
    pub const ALL: [&str; 5] = [TASK_ID, TASK_COUNT, TASK_MIN, TASK_MAX, TASK_STEP];
}

/// Why a `--shard` value, or the job array environment behind `--shard auto`, names no shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// The value is neither `auto` nor `i/n`.
    #[error("`{text}` is not a shard; expected i/n with 0 <= i < n, e.g. 3/16, or auto")]
    NotAShard {
        /// The value as typed.
        text: String,
    },
    /// A variable Slurm sets in every array task is absent.
    #[error(
        "auto reads {var}, which is not set; Slurm sets it only in a job array task (sbatch --array), elsewhere give i/n"
    )]
    Missing {
        /// The variable.
        var: &'static str,
    },
    /// A variable is not a whole number.
    #[error("auto read {var}=`{value}`, which is not a whole number")]
    NotANumber {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// The variables contradict each other.
    #[error("auto cannot place task {id} in the job array: {why}")]
    Inconsistent {
        /// The task id.
        id: u64,
        /// What does not fit, with the values involved.
        why: String,
    },
}

impl From<ShardError> for Error {
    fn from(e: ShardError) -> Self {
        Error::usage("--shard", e.to_string())
    }
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Self = Self { index: 0, count: 1 };

    /// The shard a `--shard` value names: `i/n`, or `auto` for the job array task described by
    /// `env` (the Slurm variables in [`slurm`]).
    pub fn from_flag(text: &str, env: &HashMap<String, String>) -> Result<Self, ShardError> {
        if text.trim() == "auto" {
            Self::from_slurm(env)
        } else {
            Self::parse(text)
        }
    }

    /// Parses `i/n` (0-based `i < n`).
    pub fn parse(text: &str) -> Result<Self, ShardError> {
        let bad = || ShardError::NotAShard {
            text: text.to_owned(),
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// The shard of the Slurm job array task whose environment is `env`: its position among the
    /// array's `SLURM_ARRAY_TASK_COUNT` ids, which run from `SLURM_ARRAY_TASK_MIN` (0 if unset)
    /// by `SLURM_ARRAY_TASK_STEP` (1 if unset).
    pub fn from_slurm(env: &HashMap<String, String>) -> Result<Self, ShardError> {
        let id = required(env, slurm::TASK_ID)?;
        let count = required(env, slurm::TASK_COUNT)?;
        let min = optional(env, slurm::TASK_MIN)?.unwrap_or(0);
        let step = optional(env, slurm::TASK_STEP)?.unwrap_or(1);
        let max = optional(env, slurm::TASK_MAX)?;
        let bad = |why: String| ShardError::Inconsistent { id, why };
        if count == 0 {
            return Err(bad(format!("{} is 0", slurm::TASK_COUNT)));
        }
        if step == 0 {
            return Err(bad(format!("{} is 0", slurm::TASK_STEP)));
        }
        // An array given as a list (`--array=0,3,7`) has no step that maps ids onto 0..count;
        // its highest id then differs from the one evenly spaced ids would end on.
        let last = min
            .checked_add((count - 1).saturating_mul(step))
            .ok_or_else(|| bad(format!("{count} tasks spaced {step} from {min} overflow")))?;
        if let Some(max) = max
            && max != last
        {
            return Err(bad(format!(
                "{count} task ids from {min} spaced {step} end at {last}, but {} is {max}; \
                 submit the array as a range (--array=A-B or A-B:S), not a list",
                slurm::TASK_MAX
            )));
        }
        if id < min || id > last || (id - min) % step != 0 {
            return Err(bad(format!(
                "it is not one of the {count} ids from {min} to {last} spaced {step}"
            )));
        }
        Ok(Self {
            index: (id - min) / step,
            count,
        })
    }

    /// Whether point `id` belongs to this shard.
    pub fn owns(self, id: u64) -> bool {
        id % self.count == self.index
    }
}

fn required(env: &HashMap<String, String>, var: &'static str) -> Result<u64, ShardError> {
    optional(env, var)?.ok_or(ShardError::Missing { var })
}

fn optional(env: &HashMap<String, String>, var: &'static str) -> Result<Option<u64>, ShardError> {
    env.get(var)
        .map(|v| {
            v.trim().parse().map_err(|_| ShardError::NotANumber {
                var,
                value: v.clone(),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The variables Slurm sets in task `id` of `--array=min-max:step` (`max` the last id run).
    fn array(id: u64, min: u64, max: u64, step: u64) -> HashMap<String, String> {
        let count = (max - min) / step + 1;
        let (id, count, min, max, step) = (
            id.to_string(),
            count.to_string(),
            min.to_string(),
            max.to_string(),
            step.to_string(),
        );
        env(&[
            (slurm::TASK_ID, &id),
            (slurm::TASK_COUNT, &count),
            (slurm::TASK_MIN, &min),
            (slurm::TASK_MAX, &max),
            (slurm::TASK_STEP, &step),
        ])
    }

    fn shard(index: u64, count: u64) -> Shard {
        Shard { index, count }
    }

    #[test]
    fn explicit_shards_parse_and_bad_ones_name_the_value() {
        assert_eq!(Shard::parse("3/16"), Ok(shard(3, 16)));
        assert_eq!(Shard::from_flag(" 0 / 1 ", &HashMap::new()), Ok(Shard::ALL));
        for text in ["3/2", "2/2", "0/0", "3", "a/4", "-1/4", "auto/4"] {
            let e = Shard::parse(text).unwrap_err();
            assert_eq!(
                e,
                ShardError::NotAShard {
                    text: text.to_owned()
                }
            );
            assert!(e.to_string().contains(&format!("`{text}`")), "{e}");
        }
    }

    #[test]
    fn an_array_from_zero_maps_ids_to_shards() {
        for id in 0..4 {
            assert_eq!(Shard::from_slurm(&array(id, 0, 3, 1)), Ok(shard(id, 4)));
        }
        assert_eq!(
            Shard::from_flag("auto", &array(2, 0, 3, 1)),
            Ok(shard(2, 4))
        );
    }

    #[test]
    fn an_array_from_one_or_with_a_step_counts_positions_not_ids() {
        assert_eq!(Shard::from_slurm(&array(1, 1, 64, 1)), Ok(shard(0, 64)));
        assert_eq!(Shard::from_slurm(&array(64, 1, 64, 1)), Ok(shard(63, 64)));
        assert_eq!(Shard::from_slurm(&array(7, 1, 7, 2)), Ok(shard(3, 4)));
        // `--array=0-15:4`: Slurm reports the last id run (12) as the maximum, not 15.
        assert_eq!(Shard::from_slurm(&array(12, 0, 12, 4)), Ok(shard(3, 4)));
    }

    #[test]
    fn only_id_and_count_are_needed() {
        let e = env(&[(slurm::TASK_ID, "5"), (slurm::TASK_COUNT, "8")]);
        assert_eq!(Shard::from_slurm(&e), Ok(shard(5, 8)));
    }

    #[test]
    fn outside_a_job_array_auto_names_the_missing_variable() {
        let e = Shard::from_flag("auto", &HashMap::new()).unwrap_err();
        assert_eq!(
            e,
            ShardError::Missing {
                var: slurm::TASK_ID
            }
        );
        assert!(e.to_string().contains("sbatch --array"), "{e}");
        let e = Shard::from_slurm(&env(&[(slurm::TASK_ID, "0")])).unwrap_err();
        assert_eq!(
            e,
            ShardError::Missing {
                var: slurm::TASK_COUNT
            }
        );
    }

    #[test]
    fn values_that_are_not_whole_numbers_are_quoted() {
        let mut e = array(0, 0, 3, 1);
        e.insert(slurm::TASK_MIN.to_owned(), "x1".to_owned());
        let err = Shard::from_slurm(&e).unwrap_err();
        assert_eq!(
            err,
            ShardError::NotANumber {
                var: slurm::TASK_MIN,
                value: "x1".to_owned()
            }
        );
        assert!(
            err.to_string().contains("SLURM_ARRAY_TASK_MIN=`x1`"),
            "{err}"
        );
    }

    #[test]
    fn contradictory_arrays_are_refused_with_their_values() {
        // Ids from 1 but no minimum set: task 4 of 4 would be shard 4.
        let no_min = env(&[(slurm::TASK_ID, "4"), (slurm::TASK_COUNT, "4")]);
        // `--array=0,3,7` and `--array=0,2,4`, as Slurm 22.05 sets them: the step of a list
        // is 1 whatever its spacing.
        let list = |id: &str, max: &str| {
            env(&[
                (slurm::TASK_ID, id),
                (slurm::TASK_COUNT, "3"),
                (slurm::TASK_MIN, "0"),
                (slurm::TASK_MAX, max),
                (slurm::TASK_STEP, "1"),
            ])
        };
        let mut zero_count = array(0, 0, 3, 1);
        zero_count.insert(slurm::TASK_COUNT.to_owned(), "0".to_owned());
        let mut zero_step = array(0, 0, 3, 1);
        zero_step.insert(slurm::TASK_STEP.to_owned(), "0".to_owned());
        let cases = [
            (no_min, "from 0 to 3"),
            (list("3", "7"), "SLURM_ARRAY_TASK_MAX is 7"),
            (list("2", "4"), "SLURM_ARRAY_TASK_MAX is 4"),
            (array(0, 1, 4, 1), "from 1 to 4"),
            (array(2, 0, 6, 3), "spaced 3"),
            (zero_count, "SLURM_ARRAY_TASK_COUNT is 0"),
            (zero_step, "SLURM_ARRAY_TASK_STEP is 0"),
        ];
        for (e, needle) in cases {
            let err = Shard::from_slurm(&e).unwrap_err();
            assert!(
                matches!(err, ShardError::Inconsistent { .. }),
                "{err:?} for {e:?}"
            );
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn every_point_belongs_to_exactly_one_shard() {
        let n = 7;
        for id in 0..100 {
            assert_eq!((0..n).filter(|&i| shard(i, n).owns(id)).count(), 1);
        }
    }
}
