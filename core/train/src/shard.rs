//! Sweeps split over machines: `--shard i/n` keeps the runs of the i-th of n disjoint slices
//! (counted from 0, as Slurm array indices and Kubernetes completion indices are). A run's slice
//! depends on its name alone (a stable hash of it, modulo n), so adding or removing a run never
//! moves another one to a different slice, and every process of a sweep agrees on the split
//! without talking to the others.

use rateme_util::fsutil::fnv1a;

/// One slice of a sweep: `index` of `count`, `0 <= index < count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This slice, from 0.
    pub index: u64,
    /// How many slices.
    pub count: u64,
}

/// Why `--shard` cannot be used; the message says what to pass instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--shard {given}: {message}")]
pub struct ShardError {
    /// The value given.
    pub given: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Where the scheduler's index came from, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSource {
    /// The slice.
    pub shard: Shard,
    /// `SLURM_ARRAY_TASK_ID=1`, `JOB_COMPLETION_INDEX=0` or `--shard 1/2`.
    pub from: String,
}

impl Shard {
    /// Whether the run named `name` belongs to this slice.
    pub fn contains(&self, name: &str) -> bool {
        slice_of(name, self.count) == self.index
    }

    /// Parses `i/n`, `auto` or `auto/n`. `auto` takes the index from the scheduler's environment
    /// (`env` looks a variable up): `SLURM_ARRAY_TASK_ID` (the count from `/n`, else from
    /// `SLURM_ARRAY_TASK_COUNT` when the array is exactly `0-(count-1)`), or Kubernetes'
    /// `JOB_COMPLETION_INDEX` (the count from `/n`: a Job does not tell its pods its
    /// completions).
    pub fn parse(
        given: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ShardSource, ShardError> {
        let fail = |message: String| ShardError {
            given: given.to_owned(),
            message,
        };
        let (index, count) = given
            .split_once('/')
            .map_or((given, None), |(i, n)| (i, Some(n)));
        let count = count
            .map(|n| match n.trim().parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(fail(format!(
                    "the count `{n}` is not a whole number of at least 1 (the form is i/n, auto or auto/n)"
                ))),
            })
            .transpose()?;
        if index.trim() != "auto" {
            let Some(count) = count else {
                return Err(fail(
                    "give the slice and the count, i/n (i from 0 to n-1), or auto to read them from Slurm or Kubernetes".into(),
                ));
            };
            let index = index.trim().parse::<u64>().map_err(|_| {
                fail(format!(
                    "the slice `{index}` is not a whole number (the form is i/n, auto or auto/n)"
                ))
            })?;
            return Self::checked(index, count, format!("--shard {given}")).map_err(fail);
        }
        let var = |name: &str| -> Result<Option<u64>, ShardError> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| fail(format!("{name}={v} is not a whole number")))
                })
                .transpose()
        };
        if let Some(id) = var("SLURM_ARRAY_TASK_ID")? {
            let from = format!("SLURM_ARRAY_TASK_ID={id}");
            let count = match count {
                Some(n) => n,
                None => {
                    let task_count = var("SLURM_ARRAY_TASK_COUNT")?;
                    let (min, max) = (var("SLURM_ARRAY_TASK_MIN")?, var("SLURM_ARRAY_TASK_MAX")?);
                    match (task_count, min, max) {
                        (Some(n), Some(0), Some(max)) if max + 1 == n => n,
                        _ => {
                            return Err(fail(format!(
                                "the Slurm array is not 0-(N-1) (SLURM_ARRAY_TASK_COUNT={}, MIN={}, MAX={}), or this task was resubmitted alone: give the count, --shard auto/N, with the array's indices 0 to N-1",
                                show(task_count),
                                show(min),
                                show(max)
                            )));
                        }
                    }
                }
            };
            return Self::checked(id, count, from).map_err(fail);
        }
        if let Some(id) = var("JOB_COMPLETION_INDEX")? {
            let Some(count) = count else {
                return Err(fail(format!(
                    "JOB_COMPLETION_INDEX={id} is set but a Kubernetes Job does not tell its pods how many completions it has: give them, --shard auto/N with N the Job's `completions`"
                )));
            };
            return Self::checked(id, count, format!("JOB_COMPLETION_INDEX={id}")).map_err(fail);
        }
        Err(fail(
            "neither SLURM_ARRAY_TASK_ID (a Slurm array task) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set: run inside one of them, or give the slice, --shard i/n".into(),
        ))
    }

    fn checked(index: u64, count: u64, from: String) -> Result<ShardSource, String> {
        if index >= count {
            return Err(format!(
                "slice {index} of {count} does not exist: slices count from 0 to {} (Slurm: --array=0-{}; Kubernetes: completions: {count})",
                count - 1,
                count - 1
            ));
        }
        Ok(ShardSource {
            shard: Shard { index, count },
            from,
        })
    }
}

fn show(v: Option<u64>) -> String {
    v.map_or("unset".into(), |v| v.to_string())
}

/// The slice a run named `name` falls in among `count`: FNV-1a of the name (stable across
/// builds and machines), modulo `count`.
pub fn slice_of(name: &str, count: u64) -> u64 {
    fnv1a(name.as_bytes()) % count.max(1)
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn parse(given: &str, vars: &[(&str, &str)]) -> Result<Shard, String> {
        Shard::parse(given, env(vars))
            .map(|s| s.shard)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn slices_are_disjoint_cover_every_run_and_never_move_when_runs_are_added() {
        let names: Vec<String> = (0..200).map(|i| format!("run-{i}")).collect();
        for count in 1..=7u64 {
            let mut seen = 0;
            for index in 0..count {
                let shard = Shard { index, count };
                seen += names.iter().filter(|n| shard.contains(n)).count();
            }
            // Every run in exactly one slice.
            assert_eq!(seen, names.len(), "count {count}");
            for n in &names {
                let owners = (0..count)
                    .filter(|&index| Shard { index, count }.contains(n))
                    .count();
                assert_eq!(owners, 1, "{n} in {owners} of {count} slices");
            }
        }
        // A run's slice is a function of its name and the count only: the same in any list.
        let before: Vec<u64> = names.iter().map(|n| slice_of(n, 4)).collect();
        let mut more = names.clone();
        more.insert(0, "a-new-run".into());
        let after: Vec<u64> = more[1..].iter().map(|n| slice_of(n, 4)).collect();
        assert_eq!(before, after);
        // Spread: with 200 names over 4 slices, none is far from 50.
        for index in 0..4 {
            let k = before.iter().filter(|&&s| s == index).count();
            assert!((30..=70).contains(&k), "slice {index} has {k} of 200");
        }
        // Stable across builds: pinned values (FNV-1a, not a per-process hash).
        assert_eq!(
            slice_of("smallconv-tiny", 1_000_003),
            fnv1a(b"smallconv-tiny") % 1_000_003
        );
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn explicit_slices_parse_and_bad_ones_say_what_to_give() {
        assert_eq!(parse("1/2", &[]), Ok(Shard { index: 1, count: 2 }));
        assert_eq!(parse(" 0 / 3", &[]), Ok(Shard { index: 0, count: 3 }));
        let e = parse("2/2", &[]).unwrap_err();
        assert!(
            e.contains("slice 2 of 2 does not exist") && e.contains("0 to 1"),
            "{e}"
        );
        assert!(
            parse("1", &[])
                .unwrap_err()
                .contains("give the slice and the count")
        );
        assert!(
            parse("x/2", &[])
                .unwrap_err()
                .contains("`x` is not a whole number")
        );
        assert!(parse("0/0", &[]).unwrap_err().contains("at least 1"));
        assert!(parse("0/-1", &[]).unwrap_err().contains("at least 1"));
    }

    #[test]
    fn auto_reads_slurm_and_kubernetes_and_refuses_what_it_cannot_know() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "1"),
        ];
        assert_eq!(parse("auto", &slurm), Ok(Shard { index: 1, count: 2 }));
        let from = Shard::parse("auto", env(&slurm)).unwrap().from;
        assert_eq!(from, "SLURM_ARRAY_TASK_ID=1");
        // A task resubmitted alone (`sbatch --array=1`): its array is 1-1, the count unknown.
        let alone = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "1"),
        ];
        let e = parse("auto", &alone).unwrap_err();
        assert!(e.contains("--shard auto/N"), "{e}");
        assert_eq!(parse("auto/2", &alone), Ok(Shard { index: 1, count: 2 }));
        assert!(
            parse("auto/1", &alone)
                .unwrap_err()
                .contains("slice 1 of 1")
        );
        // Kubernetes: the index from the pod, the count from the flag.
        let k8s = [("JOB_COMPLETION_INDEX", "3")];
        assert_eq!(parse("auto/4", &k8s), Ok(Shard { index: 3, count: 4 }));
        let e = parse("auto", &k8s).unwrap_err();
        assert!(e.contains("completions"), "{e}");
        // Neither.
        let e = parse("auto/2", &[]).unwrap_err();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID") && e.contains("--shard i/n"),
            "{e}"
        );
        let e = parse("auto", &[("SLURM_ARRAY_TASK_ID", "one")]).unwrap_err();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID=one is not a whole number"),
            "{e}"
        );
    }
}
