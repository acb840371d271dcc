//! A run killed with SIGKILL anywhere (in a step, in an evaluation, in a checkpoint swap) and
//! resumed ends exactly where an uninterrupted run ends, having started at its checkpoint; and a
//! rerun deletes nothing unless asked to.

mod common;

use std::os::unix::process::ExitStatusExt;

use rateme::train::RunSummary;
use rateme::train::checkpoint::TrainState;

const RUN: &str = "[[runs]]\nname = \"k\"\nbackbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 24 } }\nhead = { plugin = \"linear\", options = { dropout = 0.2 } }\n";

fn summary(dir: &std::path::Path) -> RunSummary {
    serde_json::from_str(&std::fs::read_to_string(dir.join("runs/k/summary.json")).unwrap())
        .unwrap()
}

/// Batches 120, evaluations every 14, checkpoints every 20: no checkpoint but the last falls on
/// an evaluation, so every resume starts from a checkpoint written between two evaluations
/// (where batch-norm statistics are not synced by an evaluation), and kills land between
/// checkpoints, in evaluations and in checkpoint swaps.
const SETTINGS: &str = "batches = 120\neval_every = 14\ncheckpoint_every = 20";

fn state_at(dir: &std::path::Path) -> TrainState {
    let found = rateme::train::checkpoint::find(&dir.join("runs/k/checkpoint"))
        .expect("a checkpoint to resume from");
    serde_json::from_str(&std::fs::read_to_string(found.join("state.json")).unwrap()).unwrap()
}

/// Runs the experiment in a new folder with `RATEME_CRASH_AT=<crash_at>` (the runner SIGKILLs
/// itself there), then resumes it, and checks the result against the uninterrupted `reference`
/// and that the second process really started at the checkpoint.
fn kill_then_resume(run: &str, reference: &RunSummary, crash_at: &str) {
    let d = tempfile::tempdir().unwrap();
    let exp = common::experiment(d.path(), SETTINGS, run);
    let out = common::train_with_env(&exp, &[], &[(rateme::util::crash::ENV, crash_at)]);
    assert_eq!(
        out.status.signal(),
        Some(9), // SIGKILL
        "{crash_at}: the runner should have died by SIGKILL: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d.path().join("runs/k/summary.json").exists());
    let ckpt = d.path().join("runs/k/checkpoint");
    if crash_at.starts_with("checkpoint-swap@") {
        assert!(
            !ckpt.exists() && d.path().join("runs/k/checkpoint.old/state.json").exists(),
            "{crash_at}: killed between the renames: only checkpoint.old is left"
        );
    }
    let at_kill = state_at(d.path());
    assert!(at_kill.batch > 0 && at_kill.batch < 120, "{crash_at}");

    let out = common::train(&exp, &["--resume"]);
    common::assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("resuming from checkpoint"))
        .unwrap_or_else(|| panic!("{crash_at}: no resume reported: {stderr}"));
    assert!(
        line.contains(&format!("batch={}", at_kill.batch)),
        "{crash_at}: resumed elsewhere than the checkpoint at batch {}: {line}",
        at_kill.batch
    );

    let got = summary(d.path());
    assert_eq!(reference.history.len(), got.history.len(), "{crash_at}");
    for (ra, rb) in reference.history.iter().zip(&got.history) {
        assert_eq!(
            (
                ra.batch,
                ra.lr,
                ra.train_loss,
                ra.val_loss,
                ra.val_mae,
                ra.val_spearman
            ),
            (
                rb.batch,
                rb.lr,
                rb.train_loss,
                rb.val_loss,
                rb.val_mae,
                rb.val_spearman
            ),
            "{crash_at}: at batch {}",
            ra.batch
        );
    }
    // The evaluations before the checkpoint are the first process's, to the bit (a run that
    // started over would have measured its own times).
    assert_eq!(
        &got.history[..at_kill.history.len()],
        &at_kill.history[..],
        "{crash_at}: the history up to the checkpoint was not kept"
    );
    assert_eq!(
        (
            reference.val_loss,
            reference.val_mae,
            reference.best_batch,
            reference.batches
        ),
        (got.val_loss, got.val_mae, got.best_batch, got.batches),
        "{crash_at}"
    );
    // metrics.csv holds each evaluation exactly once, as in the uninterrupted run.
    let csv = std::fs::read_to_string(d.path().join("runs/k/metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + got.history.len(),
        "{crash_at}: {csv}"
    );
}

#[test]
fn killed_anywhere_then_resumed_matches_an_uninterrupted_run() {
    let a = tempfile::tempdir().unwrap();
    let exp_a = common::experiment(a.path(), SETTINGS, RUN);
    common::assert_ok(&common::train(&exp_a, &[]));
    let reference = summary(a.path());

    // Random places, a new draw each time the test runs; the seed is printed to replay one.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash-point seed {seed}");
    let mut rng = rateme::rng::Rng::new(seed, &[]);
    let mut pick = |lo: u64, hi: u64| lo + rng.below((hi - lo + 1) as usize) as u64;
    let crashes = [
        // A training step between two checkpoints (the first checkpoint is at batch 20).
        format!("batch@{}", pick(22, 118)),
        // Half-way through an evaluation (evaluations 2..8 are at batches 28..112).
        format!("eval@{}", pick(2, 8)),
        // Between the two renames of a checkpoint swap: only checkpoint.old remains.
        format!("checkpoint-swap@{}", pick(2, 5)),
    ];
    for crash_at in &crashes {
        eprintln!("crash at {crash_at}");
        kill_then_resume(RUN, &reference, crash_at);
    }
}

#[test]
fn sparing_norm_and_bias_from_decay_logs_them_and_resumes_exactly() {
    // Two optimizer groups (with and without decay) in one state record: a resumed run steps
    // each parameter by its own group again.
    let run = format!("{RUN}optimizer = {{ weight_decay = 0.05, decay_norm_and_bias = false }}\n");
    let a = tempfile::tempdir().unwrap();
    let exp_a = common::experiment(a.path(), SETTINGS, &run);
    let out = common::train(&exp_a, &[]);
    common::assert_ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    for part in ["backbone", "head"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("{part}: no weight decay on")) && l.contains("bias")),
            "{part}: {log}"
        );
    }
    let reference = summary(a.path());
    kill_then_resume(&run, &reference, "batch@57");
}

#[test]
fn a_rerun_without_resume_or_restart_deletes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let exp = common::experiment(d.path(), "batches = 10", RUN);
    common::assert_ok(&common::train(&exp, &[]));
    let run_dir = d.path().join("runs/k");
    let files = [
        "summary.json",
        "metrics.csv",
        "checkpoint/state.json",
        "best/head.bpk",
    ];
    let snapshot = || -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|f| std::fs::read(run_dir.join(f)).unwrap())
            .collect()
    };
    let unchanged = |before: &[Vec<u8>], what: &str| {
        for (file, (now, then)) in files.iter().zip(snapshot().iter().zip(before)) {
            assert!(now == then, "{what} changed {file}");
        }
    };
    let before = snapshot();

    let out = common::train(&exp, &[]);
    assert!(!out.status.success(), "a refusal is an error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let refusal: Vec<&str> = stderr.lines().filter(|l| l.contains("run `k`")).collect();
    assert_eq!(refusal.len(), 1, "one line for the run: {stderr}");
    for needed in [
        "already has results",
        "--resume",
        "--restart",
        "nothing was deleted",
    ] {
        assert!(refusal[0].contains(needed), "`{needed}` in: {}", refusal[0]);
    }
    unchanged(&before, "a refused rerun");

    // --resume keeps a finished run as it is; --restart trains it again from scratch.
    common::assert_ok(&common::train(&exp, &["--resume"]));
    unchanged(&before, "--resume of a finished run");
    let out = common::train(&exp, &["--restart"]);
    common::assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("starting from scratch: deleting"));
    let after: RunSummary =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(after.batches, 10);
    assert!(snapshot()[0] != before[0], "summary.json rewritten");
}

#[test]
fn resume_refuses_changed_settings() {
    let d = tempfile::tempdir().unwrap();
    let exp = common::experiment(d.path(), "batches = 10", RUN);
    let out = common::train(&exp, &[]);
    assert!(out.status.success());
    let exp = common::experiment(d.path(), "batches = 20\nseed = 99", RUN);
    let out = common::train(&exp, &["--resume"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot resume from") && stderr.contains("settings changed"),
        "{stderr}"
    );
}
