//! `runner <experiment> --set KEY=VALUE`: overrides over every run, in folders of their own,
//! with one-line located errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const RUN: &str = "[[runs]]\nname = \"p\"\nbatches = 30\nbackbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 16 } }\n";

fn summary(run_dir: &Path) -> rateme::train::RunSummary {
    serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap()
}

/// The one folder under `dir` whose name starts with `prefix`.
fn only_dir_starting(dir: &Path, prefix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

fn report(exp: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("report")
        .arg(exp)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn set_changes_what_runs_in_folders_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUN);
    let sets = [
        "--set",
        "batches=4",
        "--set",
        "eval_every=2",
        "--set",
        "backbone.options.input_size=24",
    ];
    let out = common::train(&exp, &sets);
    common::assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--set: experiment `t+set-"), "{stderr}");

    // The run's own `batches = 30` and the file's input size lost to the overrides.
    let smoke_runs = only_dir_starting(dir.path(), "runs+set-");
    let smoke = summary(&smoke_runs.join("p"));
    assert_eq!(smoke.batches, 4);
    assert_eq!(smoke.history.len(), 2, "evaluations at 2 and 4");
    let card = std::fs::read_to_string(smoke_runs.join("p/best/model.json")).unwrap();
    assert!(card.contains("\"input_size\": 24"), "{card}");
    // Results under the experiment's new name; the file's own folders are untouched.
    let results = dir.path().join("results");
    let suffix = smoke_runs.file_name().unwrap().to_str().unwrap();
    let suffix = suffix.strip_prefix("runs").unwrap();
    assert!(results.join(format!("t{suffix}.csv")).is_file());
    assert!(!dir.path().join("runs").exists());
    assert!(!results.join("t.csv").exists());
    // `report` reads them with the same --set; without, there are none.
    assert!(!report(&exp, &[]).status.success());
    let out = report(&exp, &sets);
    common::assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("| p | smallconv/tiny |"));

    // The file's own run is not refused for the smoke run's results, and trains its 30 batches.
    common::assert_ok(&common::train(&exp, &[]));
    assert_eq!(summary(&dir.path().join("runs/p")).batches, 30);
    assert_eq!(summary(&smoke_runs.join("p")).batches, 4, "smoke run kept");
    // The same overrides again meet their earlier results: refused as for the file's runs.
    let out = common::train(&exp, &sets);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--restart"), "{stderr}");
}

/// Runs `--check` with `sets` and returns its stderr, asserting it failed with one line.
fn check_fails(sets: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUN);
    let args: Vec<&str> = sets
        .iter()
        .flat_map(|s| ["--set", s])
        .chain(["--check"])
        .collect();
    let out = common::train(&exp, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!dir.path().join("runs").exists() && !dir.path().join("results").exists());
    stderr
}

#[test]
fn a_bad_set_is_one_located_line() {
    assert_eq!(
        check_fails(&["batches=many"]).trim_end(),
        "error: --set batches=many: runs[0]: invalid type: string \"many\", expected u64"
    );
    let e = check_fails(&["device=cpu", "batchs=3"]);
    assert!(
        e.starts_with("error: --set batchs=3: runs[0]: unknown field `batchs`, expected one of"),
        "{e}"
    );
    let e = check_fails(&["batches=0"]);
    assert!(
        e.starts_with("error: --set batches=0: runs[0] (p).batches: must be at least 1"),
        "{e}"
    );
    let e = check_fails(&["batches"]);
    assert!(
        e.starts_with("error: --set batches: expected KEY=VALUE"),
        "{e}"
    );
    // What the plugins check is located at the --set too.
    let e = check_fails(&["backbone.options.chanels=3"]);
    assert!(
        e.starts_with(
            "error: --set backbone.options.chanels=3: runs `p`: backbone.options.chanels: unknown field `chanels`"
        ),
        "{e}"
    );
    let e = check_fails(&["backbone.options={ input_size = \"x\" }"]);
    assert!(
        e.starts_with(
            "error: --set backbone.options={ input_size = \"x\" }: runs `p`: backbone.options: invalid type: string \"x\""
        ),
        "{e}"
    );
    let e = check_fails(&["backbone.variant=huge"]);
    assert!(
        e.starts_with(
            "error: --set backbone.variant=huge: runs `p`: backbone.variant: unknown variant `huge`"
        ),
        "{e}"
    );
}

#[test]
fn set_values_are_part_of_the_runs_resume_hash() {
    // With `output_dir` pinned by a --set, two override lists share the run folders; what they
    // set is in the run's settings hash, so one cannot resume the other's checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUN);
    let pinned = format!("output_dir={}", dir.path().join("pinned").display());
    let first = [
        "--set",
        &pinned,
        "--set",
        "batches=4",
        "--set",
        "eval_every=2",
    ];
    common::assert_ok(&common::train(&exp, &first));
    assert_eq!(summary(&dir.path().join("pinned/p")).batches, 4);
    let mut other = first.to_vec();
    other.extend(["--set", "optimizer.lr=1e-2", "--resume"]);
    let out = common::train(&exp, &other);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the run's settings changed since the checkpoint"),
        "{stderr}"
    );
    // Only `batches` (and the other documented keys) may change: a longer smoke run resumes.
    let mut longer = first.to_vec();
    longer[3] = "batches=6";
    longer.push("--resume");
    common::assert_ok(&common::train(&exp, &longer));
    assert_eq!(summary(&dir.path().join("pinned/p")).batches, 6);
}
