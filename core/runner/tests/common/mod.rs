//! Shared test helpers: make sure the workspace's plugin libraries are built, and find them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

/// The directory holding the plugin libraries (`target/<profile>`), after building them once
/// per test process with the same cargo, profile and target dir as the tests (`cargo test -p
/// rateme` alone does not build the plugin crates). Any selection builds the same SDK (its
/// feature pins), so the plugins link the SDK the tests link.
pub fn plugin_dir() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // The features these tests were built with: another set would rebuild the SDK library
        // in place, and the plugin libraries built against this one would stop loading.
        let features: &[&str] = if cfg!(feature = "tch") {
            &["--features", "rateme/tch"]
        } else {
            &[]
        };
        let mut cmd = std::process::Command::new(cargo);
        without_package_env(&mut cmd);
        let status = cmd
            .args([
                "build",
                "--workspace",
                "--lib",
                "--bins",
                "--tests",
                "--benches",
                "--quiet",
            ])
            .args(features)
            .current_dir(root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the plugin libraries failed");
    });
    rateme::plugins::default_dir()
}

/// Removes the variables `cargo test` gives a test process about its own package
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, ...) from a nested cargo command. Some build scripts
/// (ring's) rerun when those change, so a nested build that inherits them rebuilds ring and
/// everything above it (in the LibTorch build: torch-sys, burn, the SDK, every plugin), and the
/// next outer cargo command rebuilds it all again.
pub fn without_package_env(cmd: &mut std::process::Command) {
    const SET_BY_CARGO_TEST: [&str; 7] = [
        "CARGO_MANIFEST_",
        "CARGO_PKG_",
        "CARGO_CRATE_",
        "CARGO_BIN_",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if SET_BY_CARGO_TEST.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

/// A plugin library file in the plugin dir.
pub fn library(name: &str) -> PathBuf {
    let p = plugin_dir().join(format!("lib{name}{}", std::env::consts::DLL_SUFFIX));
    assert!(p.exists(), "{} missing", p.display());
    p
}

/// A temporary plugin directory with symlinks to the given libraries under plugin names.
pub fn plugin_dir_with(libs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (lib, as_name) in libs {
        std::os::unix::fs::symlink(
            library(lib),
            dir.path()
                .join(format!("lib{as_name}{}", std::env::consts::DLL_SUFFIX)),
        )
        .unwrap();
    }
    dir
}

/// A small experiment file (synthetic data in `dir`) with the given runs appended.
pub fn experiment(dir: &Path, defaults_extra: &str, runs: &str) -> PathBuf {
    let text = format!(
        r#"name = "t"
results_dir = "{dir}/results"

[defaults]
{base}batch_size = 16
output_dir = "{dir}/runs"
head = {{ plugin = "linear", options = {{ init_bias = 5.5 }} }}
{defaults_extra}

[defaults.data]
table = "{dir}/data/ratings.csv"
synthetic = {{ count = 120, size = 24, seed = 5 }}
augment = true

[defaults.optimizer]
lr = 3e-3
grad_clip = 1.0

{runs}
"#,
        dir = dir.display(),
        base = [
            "seed = 3",
            "batches = 40",
            "eval_every = 10",
            "checkpoint_every = 10"
        ]
        .iter()
        .filter(|kv| !defaults_extra.contains(kv.split(' ').next().unwrap()))
        .map(|kv| format!("{kv}\n"))
        .collect::<String>(),
    );
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `runner <experiment> --plugins <plugin dir> <extra...>` and returns its output. MLflow
/// settings of the calling environment are removed: tests opt in to tracking explicitly. The log
/// level is the runner's default (info), whatever `RUST_LOG` the caller has: tests read its log.
pub fn train(experiment: &Path, extra: &[&str]) -> std::process::Output {
    train_with_env(experiment, extra, &[])
}

/// [`train`] with extra environment variables.
pub fn train_with_env(
    experiment: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .arg(experiment)
        .arg("--plugins")
        .arg(plugin_dir())
        .args(extra)
        .output()
        .expect("run the runner")
}

/// Asserts the command succeeded, showing its stderr when it did not.
pub fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// zstd as real dumps are written: long-distance matching, a 2^31 window declared in the frame
/// (streamed, so no content size lets a decoder shrink it).
pub fn compress_long31(src: &[u8], dst: &Path) {
    let file = std::fs::File::create(dst).unwrap();
    use std::io::Write;
    let mut enc = zstd::stream::write::Encoder::new(file, 3).unwrap();
    enc.long_distance_matching(true).unwrap();
    enc.window_log(31).unwrap();
    enc.write_all(src).unwrap();
    enc.finish().unwrap();
}

/// Trains one tiny run (smallconv + linear head, 6 batches) on the data table `table` with its
/// working files under `dir`, asserts success and returns the results CSV's path.
pub fn train_tiny_on(table: &Path, dir: &Path, name: &str) -> PathBuf {
    let exp = dir.join(format!("{name}.toml"));
    std::fs::write(
        &exp,
        format!(
            r#"name = "{name}"
results_dir = "{d}/results"
[defaults]
batches = 6
eval_every = 3
batch_size = 8
output_dir = "{d}/runs"
head = {{ plugin = "linear" }}
[defaults.data]
table = "{t}"
[[runs]]
name = "small"
backbone = {{ plugin = "smallconv", variant = "tiny", options = {{ input_size = 24 }} }}
"#,
            d = dir.display(),
            t = table.display()
        ),
    )
    .unwrap();
    assert_ok(&train(&exp, &[]));
    let results = dir.join(format!("results/{name}.csv"));
    assert!(results.exists(), "{} missing", results.display());
    results
}
