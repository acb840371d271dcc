//! Computes the plugin ABI fingerprint baked into the SDK (`rateme_sdk::ABI_FINGERPRINT`).
//!
//! A plugin library carries the fingerprint of the SDK it was compiled against; the runner refuses
//! to call into a library whose fingerprint differs from its own. The version number alone is not
//! enough: a plugin built against an older edit of the SDK loads and then crashes. So the
//! fingerprint covers the compiler (release + commit), target, profile, enabled features,
//! rustflags and a hash of every SDK source file and the manifest.
use std::path::{Path, PathBuf};
use std::process::Command;

/// FNV-1a, 64 bit: stable across Rust releases (unlike `DefaultHasher`).
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read SDK source dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut files = vec![
        manifest_dir.join("Cargo.toml"),
        manifest_dir.join("build.rs"),
    ];
    collect(&manifest_dir.join("src"), &mut files);

    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file.strip_prefix(&manifest_dir).unwrap();
        fnv1a(&mut hash, rel.to_string_lossy().as_bytes());
        fnv1a(&mut hash, &std::fs::read(file).expect("read SDK file"));
    }
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .collect();
    features.sort();
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    fnv1a(&mut hash, features.join(",").as_bytes());
    fnv1a(&mut hash, rustflags.as_bytes());
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let verbose = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let field = |name: &str| {
        verbose
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    let release = field("release:");
    let commit = field("commit-hash:");
    let commit_short: String = commit.chars().take(9).collect();

    let target = std::env::var("TARGET").unwrap();
    let profile = std::env::var("PROFILE").unwrap();
    let opt = std::env::var("OPT_LEVEL").unwrap();
    let version = std::env::var("CARGO_PKG_VERSION").unwrap();
    let fingerprint = format!(
        "rateme-sdk {version} rustc {release} ({commit_short}) {target} {profile}/O{opt} features[{}] src {hash:016x}",
        features.join(",").to_lowercase()
    );
    println!("cargo:rustc-env=RATEME_SDK_ABI={fingerprint}");

    // With LibTorch this library is what needs libtorch_cpu and libc10: an rpath to the
    // LibTorch it was built against finds them without LD_LIBRARY_PATH. (torch-sys passes its
    // rpath only to its own C++ compile.) Elsewhere LD_LIBRARY_PATH, searched first, points at
    // another LibTorch of the same version (scripts/gpu-bundle.sh).
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_TCH").is_some()
        && let Some(libtorch) = std::env::var_os("LIBTORCH")
    {
        let lib = PathBuf::from(libtorch).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
