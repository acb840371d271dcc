//! Lets `runner` start without LD_LIBRARY_PATH: it links std and the plugin SDK dynamically
//! (`-C prefer-dynamic`), so the binary gets an rpath to its own directory (where cargo puts
//! `librateme_sdk.so`), to `deps/` beside it, and to the toolchain's `libstd-*.so`.
fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = std::process::Command::new(rustc)
        .args(["--print", "target-libdir"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN:$ORIGIN/deps:{libdir}");
    println!("cargo:rerun-if-changed=build.rs");
}
