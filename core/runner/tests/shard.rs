//! A sweep split over processes (`--shard`), as a Slurm array or a Kubernetes Indexed Job runs
//! it: two shards at once in one shared folder, one killed mid-run and resubmitted, and
//! `runner report` afterwards gives what one machine training the whole sweep gives.
//! (`scripts/test-slurm.sh` does the same through a real Slurm cluster.)

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use rateme::report::{ResultRow, read_rows};
use rateme::train::shard::slice_of;

/// Two backbones × two seeds; the names fall two in each of two slices.
const RUNS: &str = r#"
[[runs]]
name = "tiny-a"
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 16 } }

[[runs]]
name = "tiny-b"
seed = 4
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 16 } }

[[runs]]
name = "small-a"
backbone = { plugin = "smallconv", variant = "small", options = { input_size = 16 } }

[[runs]]
name = "small-b"
seed = 4
backbone = { plugin = "smallconv", variant = "small", options = { input_size = 16 } }
"#;

const SETTINGS: &str = "batches = 30\neval_every = 10\ncheckpoint_every = 10";

fn spawn(exp: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .arg(exp)
        .arg("--plugins")
        .arg(common::plugin_dir())
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the runner")
}

fn report(exp: &Path) -> Vec<ResultRow> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("report")
        .arg(exp)
        .output()
        .expect("run the runner");
    common::assert_ok(&out);
    read_rows(&exp.parent().unwrap().join("results/t.csv")).unwrap()
}

/// The columns that do not depend on timing or on the folder.
fn deterministic(rows: &[ResultRow]) -> Vec<ResultRow> {
    rows.iter()
        .map(|r| ResultRow {
            wall_s: None,
            images_per_s: None,
            ..r.clone()
        })
        .collect()
}

#[test]
fn two_shards_one_killed_and_resubmitted_report_what_one_machine_trains() {
    let names = ["tiny-a", "tiny-b", "small-a", "small-b"];
    let slices: Vec<u64> = names.iter().map(|n| slice_of(n, 2)).collect();
    assert_eq!(slices.iter().filter(|&&s| s == 0).count(), 2, "{slices:?}");

    // One machine, the whole sweep.
    let one = tempfile::tempdir().unwrap();
    let exp_one = common::experiment(one.path(), SETTINGS, RUNS);
    common::assert_ok(&common::train(&exp_one, &[]));
    let reference = read_rows(&one.path().join("results/t.csv")).unwrap();
    assert_eq!(reference.len(), 4);
    assert!(reference.iter().all(|r| r.status == "ok"), "{reference:?}");

    // Two shards at once in one folder; the second dies by SIGKILL in its second run.
    let shared = tempfile::tempdir().unwrap();
    let exp = common::experiment(shared.path(), SETTINGS, RUNS);
    let first = spawn(&exp, &["--shard", "0/2", "--resume"], &[]);
    let killed = spawn(
        &exp,
        &["--shard", "1/2", "--resume"],
        &[(rateme::util::crash::ENV, "batch@55")],
    );
    let first = first.wait_with_output().unwrap();
    let killed = killed.wait_with_output().unwrap();
    common::assert_ok(&first);
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(
        log.contains("shard 0/2 (from --shard 0/2): 2 of the experiment's 4 runs"),
        "{log}"
    );
    // Shards write only their runs' folders: no experiment-wide results yet.
    assert!(!shared.path().join("results").exists());

    // The report lists what is missing: the killed shard's first run finished, its second has
    // a checkpoint.
    let partial = report(&exp);
    let status = |rows: &[ResultRow], run: &str| {
        rows.iter()
            .find(|r| r.run == run)
            .map(|r| r.status.clone())
            .unwrap()
    };
    let killed_runs: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| slice_of(n, 2) == 1)
        .collect();
    assert_eq!(status(&partial, killed_runs[0]), "ok");
    // Killed at its 25th batch; checkpoints every 10 are written by a thread of their own, so
    // the last one there is at 10 or 20.
    let unfinished = status(&partial, killed_runs[1]);
    let at = ["10", "20"]
        .into_iter()
        .find(|b| {
            unfinished
                == format!("unfinished: checkpoint at batch {b} of 30 (--resume continues it)")
        })
        .unwrap_or_else(|| panic!("{unfinished}"));

    // Resubmitted as a scheduler would (same command): it resumes from the checkpoint.
    let again = spawn(&exp, &["--shard", "1/2", "--resume"], &[])
        .wait_with_output()
        .unwrap();
    common::assert_ok(&again);
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(
        log.lines()
            .any(|l| l.contains("resuming from checkpoint") && l.contains(&format!("batch={at}"))),
        "{log}"
    );
    let merged = report(&exp);
    assert_eq!(deterministic(&merged), deterministic(&reference));
    // The loss curves too.
    assert_eq!(
        std::fs::read_to_string(shared.path().join("results/t.svg")).unwrap(),
        std::fs::read_to_string(one.path().join("results/t.svg")).unwrap()
    );
}

#[test]
fn a_run_another_process_trains_is_left_alone_and_not_marked_failed() {
    let d = tempfile::tempdir().unwrap();
    let exp = common::experiment(d.path(), SETTINGS, RUNS);
    // Another process holds tiny-b's lock (as a shard started twice would).
    let dir = d.path().join("runs/tiny-b");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::File::create(dir.join("run.lock")).unwrap();
    lock.lock().unwrap();
    let out = common::train(&exp, &["--run", "tiny-b"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("run `tiny-b` is being trained by another process now"),
        "{stderr}"
    );
    assert!(!dir.join("failed.json").exists());
    assert!(!dir.join("metrics.csv").exists());
    drop(lock);
    // Released (as when that process ends, however it ends): the run trains.
    common::assert_ok(&common::train(&exp, &["--run", "tiny-b"]));
    assert!(dir.join("summary.json").exists());
}

#[test]
fn a_failed_run_is_reported_from_its_folder_until_it_runs_again() {
    let d = tempfile::tempdir().unwrap();
    // small-a diverges (a huge learning rate and no clipping).
    let runs = RUNS.replace(
        "name = \"small-a\"\n",
        "name = \"small-a\"\noptimizer = { name = \"sgd\", lr = 1e12 }\n",
    );
    let exp = common::experiment(d.path(), SETTINGS, &runs);
    let out = common::train(&exp, &["--run", "small-a", "--run", "tiny-a"]);
    assert_eq!(out.status.code(), Some(2));
    let rows = report(&exp);
    let small_a = rows.iter().find(|r| r.run == "small-a").unwrap();
    assert!(small_a.status.starts_with("failed: "), "{small_a:?}");
    assert_eq!(
        rows.iter().find(|r| r.run == "tiny-a").unwrap().status,
        "ok"
    );
    for run in ["tiny-b", "small-b"] {
        assert_eq!(
            rows.iter().find(|r| r.run == run).unwrap().status,
            "not run yet"
        );
    }
    let md = std::fs::read_to_string(d.path().join("results/t.md")).unwrap();
    assert!(md.contains("| tiny-b | not run yet |"), "{md}");
    assert!(d.path().join("runs/small-a/failed.json").exists());

    // A run's folder removed (to save space): its row stays as the results file has it.
    let tiny_a = rows.iter().find(|r| r.run == "tiny-a").unwrap().clone();
    std::fs::remove_dir_all(d.path().join("runs/tiny-a")).unwrap();
    assert_eq!(
        report(&exp).iter().find(|r| r.run == "tiny-a"),
        Some(&tiny_a)
    );

    // Fixed and trained again: the failure record goes, the row is the new result.
    let exp = common::experiment(d.path(), SETTINGS, RUNS);
    common::assert_ok(&common::train(&exp, &["--run", "small-a", "--restart"]));
    assert!(!d.path().join("runs/small-a/failed.json").exists());
    let rows = report(&exp);
    assert_eq!(
        rows.iter().find(|r| r.run == "small-a").unwrap().status,
        "ok"
    );
}
