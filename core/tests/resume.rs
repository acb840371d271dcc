//! A run killed with SIGKILL mid-way and resumed ends exactly where an uninterrupted run ends.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use rateme::train::RunSummary;

const RUN: &str = "[[runs]]\nname = \"k\"\nbackbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 24 } }\nhead = { plugin = \"linear\", options = { dropout = 0.2 } }\n";

fn summary(dir: &std::path::Path) -> RunSummary {
    serde_json::from_str(&std::fs::read_to_string(dir.join("runs/k/summary.json")).unwrap())
        .unwrap()
}

#[test]
fn sigkill_then_resume_matches_an_uninterrupted_run() {
    let plugins = common::plugin_dir();
    let settings = "batches = 300\neval_every = 20\ncheckpoint_every = 20";
    let a = tempfile::tempdir().unwrap();
    let exp_a = common::experiment(a.path(), settings, RUN);
    let out = common::train(&exp_a, &[]);
    common::assert_ok(&out);

    let b = tempfile::tempdir().unwrap();
    let exp_b = common::experiment(b.path(), settings, RUN);
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg(&exp_b)
        .arg("--plugins")
        .arg(&plugins)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = b.path().join("runs/k/checkpoint/state.json");
    let start = Instant::now();
    while !state.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !b.path().join("runs/k/summary.json").exists(),
        "killed before the end"
    );
    let at_kill: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            rateme::train::checkpoint::find(&b.path().join("runs/k/checkpoint"))
                .unwrap()
                .join("state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let killed_at = at_kill["batch"].as_u64().unwrap();
    assert!(killed_at < 300, "killed mid-way, at batch {killed_at}");

    let out = common::train(&exp_b, &["--resume"]);
    common::assert_ok(&out);
    let (sa, sb) = (summary(a.path()), summary(b.path()));
    assert_eq!(sa.history.len(), sb.history.len());
    for (ra, rb) in sa.history.iter().zip(&sb.history) {
        assert_eq!(ra.batch, rb.batch);
        assert_eq!(ra.lr, rb.lr);
        assert_eq!(
            (ra.train_loss, ra.val_loss, ra.val_mae),
            (rb.train_loss, rb.val_loss, rb.val_mae),
            "at batch {}",
            ra.batch
        );
    }
    assert_eq!(
        (sa.val_loss, sa.val_mae, sa.best_batch),
        (sb.val_loss, sb.val_mae, sb.best_batch)
    );
    // metrics.csv holds each evaluation exactly once.
    let csv = std::fs::read_to_string(b.path().join("runs/k/metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + sb.history.len(), "{csv}");
    let csv_a = std::fs::read_to_string(a.path().join("runs/k/metrics.csv")).unwrap();
    let strip = |s: &str| {
        s.lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&csv), strip(&csv_a));
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
