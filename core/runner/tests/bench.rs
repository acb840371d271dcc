//! `runner bench`: each selected run's training step measured on synthetic data on its device,
//! model alone (no data read, nothing written); and the `precision` key's checks.

mod common;

use std::process::{Command, Output};

const RUNS: &str = r#"[[runs]]
name = "a"
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 24 } }

[[runs]]
name = "b"
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 32 } }
batch_size = 6
"#;

fn bench(exp: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("bench")
        .arg(exp)
        .arg("--plugins")
        .arg(common::plugin_dir())
        .args(extra)
        .output()
        .unwrap()
}

/// The images/s column of the table row of `run`.
fn rate(stdout: &str, run: &str) -> f64 {
    let row = stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {run} |")))
        .unwrap_or_else(|| panic!("no row for `{run}`:\n{stdout}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    cells[9].parse().unwrap_or_else(|_| panic!("{row}"))
}

#[test]
fn bench_measures_every_run_without_reading_data_or_writing() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUNS);
    // No data: the bench must not need it.
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("synthetic = { count = 120, size = 24, seed = 5 }\n", "");
    std::fs::write(&exp, text).unwrap();
    let out = bench(&exp, &["--warmup", "1", "--steps", "3"]);
    common::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        rate(&stdout, "a") > 0.0 && rate(&stdout, "b") > 0.0,
        "{stdout}"
    );
    let row_b = stdout.lines().find(|l| l.starts_with("| b |")).unwrap();
    assert!(
        row_b.contains("| 32×32 | 6 | cpu | f32 |"),
        "input, batch, device and precision of run b: {row_b}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["exp.toml"], "the bench wrote files");

    let only_b = bench(&exp, &["--run", "b", "--steps", "1", "--warmup", "0"]);
    common::assert_ok(&only_b);
    let stdout = String::from_utf8_lossy(&only_b.stdout);
    assert!(
        !stdout.contains("| a |") && stdout.contains("| b |"),
        "{stdout}"
    );

    let unknown = bench(&exp, &["--run", "c"]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("--run c: no such run; the experiment has a, b"),
        "{err}"
    );
}

#[test]
fn bf16_on_flex_stops_before_any_data_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUNS);
    for out in [
        common::train(&exp, &["--set", "precision=bf16"]),
        bench(&exp, &["--set", "precision=bf16"]),
    ] {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("precision `bf16` needs a LibTorch device (tch-cpu or cuda)"),
            "{err}"
        );
        assert!(!dir.path().join("runs").exists(), "a run started:\n{err}");
        assert!(!dir.path().join("data").exists(), "data was made:\n{err}");
    }
}

#[test]
fn an_unknown_precision_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "precision = \"fp16\"", RUNS);
    let out = common::train(&exp, &["--check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("precision: unknown precision `fp16`; valid: f32, bf16"),
        "{err}"
    );
    assert!(err.contains("exp.toml:"), "no location: {err}");
}
