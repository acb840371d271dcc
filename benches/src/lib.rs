//! Helpers for the benchmarks: build the plugin libraries for the running profile and load them.

use std::path::PathBuf;

use rateme::plugins::PluginHost;

/// Builds the workspace's plugin libraries with the same profile and targets as the running
/// benchmark (so they link the same SDK), and returns their directory.
pub fn plugin_dir() -> PathBuf {
    let dir = rateme::plugins::default_dir();
    let release = dir.components().any(|c| c.as_os_str() == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = std::process::Command::new(cargo);
    // Without the variables a bench process gets about its own package (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, ...): ring's build script reruns when they change, which would rebuild
    // it and everything above it, here and in the next outer cargo command.
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
        ]
        .iter()
        .any(|p| name.starts_with(p))
        {
            cmd.env_remove(&key);
        }
    }
    cmd.args([
        "build",
        "--workspace",
        "--lib",
        "--bins",
        "--benches",
        "--quiet",
    ])
    .current_dir(root);
    if release {
        cmd.arg("--release");
    } else {
        cmd.arg("--tests");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "building the plugin libraries failed");
    dir
}

/// A host with every plugin of `dir` loaded.
pub fn host(dir: &std::path::Path) -> PluginHost {
    let mut host = PluginHost::new();
    host.load_dir(dir).expect("plugins load");
    host
}
