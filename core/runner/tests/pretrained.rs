//! Pretrained weights and partial freezing through the runner, with the `efficientnet` plugin
//! loaded from its library: the load report, a located error for a file that does not fit,
//! and `--resume` / `predict` without the pretrained file.

mod common;

use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    common::root()
        .join("plugins/efficientnet/tests/fixtures")
        .join(name)
}

/// A run of a small EfficientNet-B0 (the EfficientNet-PyTorch fixture's shape) on synthetic
/// 50-pixel images.
fn experiment(dir: &Path, backbone_extra: &str, batches: u32) -> std::path::PathBuf {
    common::experiment(
        dir,
        &format!("batches = {batches}\neval_every = 4\ncheckpoint_every = 4"),
        &format!(
            "[[runs]]\nname = \"e\"\nbackbone = {{ plugin = \"efficientnet\", variant = \"b0\", \
             {backbone_extra} options = {{ input_size = 50, width_mult = 0.25, depth_mult = 0.5 }} }}\n"
        ),
    )
}

fn trainable_params(dir: &Path) -> u64 {
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("runs/e/summary.json")).expect("summary.json"),
    )
    .unwrap();
    summary["trainable_params"].as_u64().unwrap()
}

#[test]
fn pretrained_weights_load_once_and_a_stage_freeze_trains_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("b0.pth");
    std::fs::copy(fixture("lukemelas-b0.pth"), &weights).unwrap();
    let exp = experiment(
        dir.path(),
        &format!(
            "pretrained = \"{}\", freeze = \"stage:3\",",
            weights.display()
        ),
        8,
    );
    let out = common::train(&exp, &[]);
    common::assert_ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    let report = log
        .lines()
        .find(|l| l.contains("pretrained ") && l.contains("tensors applied"))
        .unwrap_or_else(|| panic!("no load report: {log}"));
    assert!(
        report.contains("pytorch (legacy pickle), under `model_state_dict`")
            && report.contains("scheme `efficientnet-pytorch`")
            && report.contains("0 missing")
            && report.contains("0 mis-shaped")
            && report.contains("2 unexpected"),
        "{report}"
    );
    let frozen = trainable_params(dir.path());

    // The same run without the freeze trains more parameters; frozen entirely, only the head.
    for (extra, expect_more) in [("", true), ("freeze = true,", false)] {
        let other = tempfile::tempdir().unwrap();
        let exp = experiment(other.path(), extra, 4);
        common::assert_ok(&common::train(&exp, &[]));
        let n = trainable_params(other.path());
        assert_eq!(n > frozen, expect_more, "{extra}: {n} vs {frozen}");
    }

    // The run's own weights hold the pretrained ones: resume and predict without the file.
    std::fs::remove_file(&weights).unwrap();
    let exp = experiment(
        dir.path(),
        &format!(
            "pretrained = \"{}\", freeze = \"stage:3\",",
            weights.display()
        ),
        12,
    );
    let out = common::train(&exp, &["--resume"]);
    common::assert_ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("resuming from checkpoint"), "{log}");
    assert!(!log.contains("tensors applied"), "loaded again: {log}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["predict", "--checkpoint"])
        .arg(dir.path().join("runs/e"))
        .arg("--plugins")
        .arg(common::plugin_dir())
        .arg(dir.path().join("data/images/00000.png"))
        .output()
        .unwrap();
    common::assert_ok(&out);
}

#[test]
fn weights_that_do_not_fit_are_a_located_error_naming_the_tensors() {
    let dir = tempfile::tempdir().unwrap();
    // torchvision's small B5 into a small B0: same names, other shapes.
    let exp = experiment(
        dir.path(),
        &format!(
            "pretrained = \"{}\",",
            fixture("torchvision-b5.pth").display()
        ),
        4,
    );
    let out = common::train(&exp, &[]);
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("backbone.pretrained"), "{log}");
    assert!(log.contains("exp.toml:"), "{log}");
    assert!(
        log.contains("mis-shaped: ") && log.contains(" expects ["),
        "{log}"
    );
    assert!(log.contains("pretrained_partial = true"), "{log}");

    let exp = experiment(dir.path(), "pretrained = \"no/such/file.pth\",", 4);
    let out = common::train(&exp, &["--restart"]);
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("no/such/file.pth"), "{log}");

    let exp = experiment(dir.path(), "freeze = \"stage:9\",", 4);
    let out = common::train(&exp, &["--restart"]);
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("backbone.freeze") && log.contains("stem, stage:1"),
        "{log}"
    );
}

#[test]
fn weights_inspect_names_the_plugin_and_scheme_a_file_fits() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["weights", "inspect"])
        .arg(fixture("torchvision-b0.safetensors"))
        .arg("--plugins")
        .arg(common::plugin_dir())
        .output()
        .unwrap();
    common::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("features.0.0.weight"), "{stdout}");
    let best = stdout
        .lines()
        .skip_while(|l| !l.starts_with("fits"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        best.contains("backbone efficientnet b0, scheme `torchvision`"),
        "{stdout}"
    );
}

#[test]
fn the_lite0_experiment_checks_with_the_shipped_plugins() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg(common::root().join("experiments/lite0_pretrained.toml"))
        .args(["--check", "--plugins"])
        .arg(common::plugin_dir())
        .current_dir(common::root())
        .output()
        .unwrap();
    common::assert_ok(&out);
}
