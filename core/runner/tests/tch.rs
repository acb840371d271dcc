//! The LibTorch (`tch`) build, on CPU: a run trains on `tch-cpu` through the runner binary, and
//! `cuda` on a machine without CUDA stops the sweep at once with one line, before any data is
//! read. (`bash scripts/tch-test.sh` runs these; the default build compiles this file empty.)
#![cfg(feature = "tch")]

mod common;

fn tiny_run(device: &str) -> String {
    format!(
        r#"[[runs]]
name = "s"
device = "{device}"
backbone = {{ plugin = "smallconv", variant = "tiny", options = {{ input_size = 24 }} }}
"#
    )
}

#[test]
fn a_run_trains_on_libtorch_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "batches = 20", &tiny_run("tch-cpu"));
    let out = common::train(&exp, &[]);
    common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("runs/s/summary.json")).expect("summary.json"),
    )
    .unwrap();
    assert_eq!(summary["batches"], 20, "{summary}");
    let val_loss = summary["val_loss"].as_f64().expect("val_loss");
    assert!(val_loss.is_finite() && val_loss < 10.0, "{summary}");
    assert_eq!(summary["device"], "tch-cpu", "{summary}");
}

/// `precision = "bf16"` on `tch-cpu`: the run trains (convolutions and the head's matrix
/// product in bfloat16, batch norm and the loss in float32), learns, and says its precision.
#[test]
fn a_bf16_run_trains_on_libtorch_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "batches = 20", &tiny_run("tch-cpu"));
    let out = common::train(&exp, &["--set", "precision=bf16"]);
    common::assert_ok(&out);
    // `--set` renames the output folder (`runs+set-<hash>`).
    let runs = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("runs+set-"))
        .expect("the runs folder of the --set experiment");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs.join("s/summary.json")).expect("summary.json"))
            .unwrap();
    assert_eq!(summary["device"], "tch-cpu bf16", "{summary}");
    let val_loss = summary["val_loss"].as_f64().expect("val_loss");
    let baseline = summary["baseline_mae"].as_f64().expect("baseline_mae");
    assert!(val_loss.is_finite() && val_loss < 10.0, "{summary}");
    assert!(baseline > 0.0, "{summary}");
}

#[test]
fn cuda_without_cuda_stops_before_reading_data() {
    if std::path::Path::new("/dev/nvidia0").exists() {
        return; // a GPU machine: scripts/gpu-check.sh covers it
    }
    let dir = tempfile::tempdir().unwrap();
    // A CPU run first, and a table that does not exist: the device error comes first.
    let runs = format!(
        "{}\n{}",
        tiny_run("cpu"),
        tiny_run("cuda").replace("\"s\"", "\"g\"")
    );
    let exp = common::experiment(dir.path(), "", &runs);
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("synthetic = { count = 120, size = 24, seed = 5 }\n", "")
        .replace("data/ratings.csv", "data/missing.csv");
    std::fs::write(&exp, text).unwrap();
    let out = common::train(&exp, &[]);
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("run `g`: device:"))
        .unwrap_or_else(|| panic!("no device error:\n{log}"));
    assert!(
        line.contains("libtorch_cuda.so") || line.contains("no CUDA"),
        "{line}"
    );
    assert!(!log.contains("missing.csv"), "data was read first:\n{log}");
    assert!(
        !dir.path().join("runs/s").exists(),
        "the CPU run started:\n{log}"
    );
}
