//! Whole sweeps through the library and the `runner` binary: failures stay inside their run,
//! bad files fail fast with located messages.

mod common;

use std::process::Command;

use rateme::spec::Experiment;
use rateme::sweep::{self, SweepOptions};

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runner"))
}

#[test]
fn a_panicking_plugin_fails_only_its_run() {
    let plugins = common::plugin_dir_with(&[
        ("rateme_smallconv", "rateme_smallconv"),
        ("rateme_linear_head", "rateme_linear_head"),
        ("testkit_plugins", "rateme_testkit"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let exp_path = common::experiment(
        dir.path(),
        "batches = 20",
        r#"
[[runs]]
name = "panics-in-forward"
backbone = { plugin = "panicky", options = { panic_after = 3 } }

[[runs]]
name = "panics-in-constructor"
backbone = { plugin = "panicky", options = { panic_after = 0 } }

[[runs]]
name = "nan-loss"
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 16 } }
optimizer = { name = "sgd", lr = 1e12 }

[[runs]]
name = "healthy"
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 16 } }
"#,
    );
    let exp = Experiment::load(&exp_path).unwrap();
    let dirs = vec![plugins.path().to_owned()];
    let host = sweep::load_plugins(&dirs).unwrap();
    sweep::check(&exp, &host, &dirs).unwrap();
    let outcomes = sweep::run_all(&exp, &host, &SweepOptions::default(), |_| Vec::new()).unwrap();
    assert_eq!(outcomes.len(), 4);
    let err = |i: usize| outcomes[i].result.as_ref().unwrap_err().clone();
    assert!(
        err(0).contains("panicked: panicky backbone: deliberate panic in forward call 3"),
        "{}",
        err(0)
    );
    assert!(
        err(1).contains("panicked: panicky backbone: deliberate panic in the constructor"),
        "{}",
        err(1)
    );
    assert!(
        err(2).contains("training loss is") && err(2).contains("at batch"),
        "{}",
        err(2)
    );
    let healthy = outcomes[3].result.as_ref().expect("the healthy run trains");
    assert_eq!(healthy.batches, 20);
    assert!(healthy.val_loss.is_finite());

    let path = rateme::report::write_results(&exp).unwrap();
    let md = std::fs::read_to_string(path).unwrap();
    assert!(
        md.contains("| panics-in-forward | failed: panicked"),
        "{md}"
    );
    assert!(md.contains("| healthy | smallconv/tiny | linear |"), "{md}");
}

#[test]
fn unknown_plugin_option_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let exp_path = common::experiment(
        dir.path(),
        "",
        "[[runs]]\nname = \"typo\"\nbackbone = { plugin = \"smallconv\", options = { input_size = 16, chanels = 3 } }\n",
    );
    let out = common::train(&exp_path, &["--check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&exp_path).unwrap();
    let line = text.lines().position(|l| l.contains("chanels")).unwrap() + 1;
    let col = text.lines().nth(line - 1).unwrap().find("chanels").unwrap() + 1;
    assert!(
        stderr.contains(&format!(
            "exp.toml:{line}:{col}: runs `typo`: backbone.options.chanels: unknown field `chanels`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("expected one of `widths`, `input_size`, `batch_norm`"),
        "{stderr}"
    );
}

#[test]
fn unknown_variant_and_plugin_are_located_and_list_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let exp_path = common::experiment(
        dir.path(),
        "",
        "[[runs]]\nname = \"v\"\nbackbone = { plugin = \"smallconv\", variant = \"huge\" }\n",
    );
    let out = common::train(&exp_path, &["--check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exp.toml:")
            && stderr.contains("unknown variant `huge` of `smallconv`; valid: tiny, small, medium"),
        "{stderr}"
    );

    let exp_path = common::experiment(
        dir.path(),
        "",
        "[[runs]]\nname = \"p\"\nbackbone = { plugin = \"resnet\" }\n",
    );
    let out = common::train(&exp_path, &["--check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "missing plugins: backbone `resnet`; loaded: backbones [clip, convnext, efficientnet, smallconv, vit], heads [attention-mlp, linear, mlp]"
        ),
        "{stderr}"
    );
}

#[test]
fn all_backbones_resolves_every_plugin_and_its_options() {
    // `--check` builds nothing and trains nothing: plugins, variants and options only.
    let out = runner()
        .arg(common::root().join("experiments/all_backbones.toml"))
        .arg("--plugins")
        .arg(common::plugin_dir())
        .arg("--check")
        .current_dir(common::root())
        .output()
        .unwrap();
    common::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 runs, plugins ok"), "{stdout}");
}

#[test]
fn bad_toml_is_located_with_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "[defaults]\nbatchs = 3\n\n[[runs]]\nname = \"a\"\n").unwrap();
    let out = runner().arg(&p).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.toml:2:1: runs[0]: unknown field `batchs`, expected one of"),
        "{stderr}"
    );
    assert!(stderr.contains("2 | batchs = 3\n  | ^"), "{stderr}");
}

#[test]
fn predict_scores_images_with_a_trained_run() {
    let dir = tempfile::tempdir().unwrap();
    let exp_path = common::experiment(
        dir.path(),
        "batches = 30",
        "[[runs]]\nname = \"p\"\nbackbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 24 } }\n",
    );
    let out = common::train(&exp_path, &[]);
    common::assert_ok(&out);
    let run_dir = dir.path().join("runs/p");
    let images = [
        dir.path().join("data/images/00000.png"),
        dir.path().join("data/images/00001.png"),
    ];
    let out = runner()
        .args(["predict", "--checkpoint"])
        .arg(&run_dir)
        .arg("--plugins")
        .arg(common::plugin_dir())
        .args(&images)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let scores: Vec<f32> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(scores.len(), 2);
    // The same numbers through the library API.
    let mut host = rateme::plugins::PluginHost::new();
    host.load_dir(&common::plugin_dir()).unwrap();
    let predictor =
        rateme::Predictor::load(&run_dir, &host, &rateme::device::DeviceSpec::Cpu).unwrap();
    let lib_scores = predictor.predict_paths(&images).unwrap();
    for (a, b) in scores.iter().zip(&lib_scores) {
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        assert!(b.is_finite());
    }
}

#[test]
fn report_rewrites_the_readme_table_from_results_alone() {
    let dir = tempfile::tempdir().unwrap();
    let exp_path = common::experiment(
        dir.path(),
        "batches = 10",
        "[[runs]]\nname = \"r\"\nbackbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 16 } }\n",
    );
    let out = common::train(&exp_path, &[]);
    common::assert_ok(&out);
    // Remove the run outputs: the report must not need them.
    std::fs::remove_dir_all(dir.path().join("runs")).unwrap();
    let readme = dir.path().join("README.md");
    std::fs::write(
        &readme,
        "intro\n<!-- results:t:start -->\nold\n<!-- results:t:end -->\noutro\n",
    )
    .unwrap();
    let out = runner()
        .arg("report")
        .arg(&exp_path)
        .arg("--readme")
        .arg(&readme)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(
        text.starts_with("intro\n<!-- results:t:start -->\n| run | backbone |"),
        "{text}"
    );
    assert!(text.contains("| r | smallconv/tiny | linear |"), "{text}");
    assert!(text.ends_with("<!-- results:t:end -->\noutro\n"), "{text}");
    assert!(!text.contains("old"));
    // Idempotent.
    let out = runner()
        .arg("report")
        .arg(&exp_path)
        .arg("--readme")
        .arg(&readme)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), text);
}

#[test]
fn the_reddit_experiment_checks_with_the_shipped_plugins() {
    // The README points to it: it parses and its plugins resolve.
    let reddit = common::root().join("experiments/reddit.toml");
    let out = common::train(&reddit, &["--check"]);
    common::assert_ok(&out);
}

#[test]
fn backbone_lr_scale_scales_the_backbone_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let bb =
        "backbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 24 }";
    let exp_path = common::experiment(
        dir.path(),
        "batches = 12\neval_every = 6",
        &format!(
            "[[runs]]\nname = \"default\"\n{bb} }}\n\n[[runs]]\nname = \"one\"\n{bb}, lr_scale = 1.0 }}\n\n\
             [[runs]]\nname = \"tenth\"\n{bb}, lr_scale = 0.1 }}\n\n\
             [[runs]]\nname = \"frozen\"\n{bb}, freeze = true }}\n"
        ),
    );
    common::assert_ok(&common::train(&exp_path, &[]));
    let read = |run: &str, file: &str| {
        std::fs::read(dir.path().join("runs").join(run).join(file)).unwrap()
    };
    let history = |run: &str| -> Vec<f64> {
        let s: rateme::train::RunSummary =
            serde_json::from_slice(&read(run, "summary.json")).unwrap();
        s.history
            .iter()
            .flat_map(|r| [r.train_loss, r.val_loss])
            .collect()
    };
    // An explicit 1 is the default, to the bit.
    assert_eq!(history("default"), history("one"));
    // A tenth is neither the default nor a frozen backbone.
    assert_ne!(history("tenth"), history("default"), "lr_scale ignored");
    assert_ne!(history("tenth"), history("frozen"));
}
