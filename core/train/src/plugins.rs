//! Finds plugin libraries, checks their ABI fingerprint, registers their constructors.
//!
//! Libraries are never unloaded: objects a plugin built point into its code, and unloading a
//! library that touched a thread-local with a destructor crashes the process at exit.

use std::ffi::CStr;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use rateme_sdk::{
    ABI_FINGERPRINT, ABI_SYMBOL, ANCHOR_SYMBOL, PluginAbiFn, PluginAnchorFn, PluginRegisterFn,
    REGISTER_SYMBOL, Registry, SDK_ANCHOR,
};
use thiserror::Error;

/// Why plugins could not be loaded.
#[derive(Debug, Error)]
pub enum PluginLoadError {
    /// The plugin directory cannot be read.
    #[error("plugin directory {}: {message}", dir.display())]
    Dir { dir: PathBuf, message: String },
    /// dlopen failed (missing or mismatched shared libraries, wrong build).
    #[error("{}: cannot load plugin library: {message}; {}", path.display(), open_hint(message))]
    Open { path: PathBuf, message: String },
    /// The library carries its own copy of the SDK (and of burn).
    #[error("{}: this plugin carries its own copy of the SDK and burn instead of using the runner's librateme_sdk.so (a self-contained library); two copies of burn train nothing, so it is refused. Build it as a `dylib` crate that depends on `rateme-sdk` only, with `-C prefer-dynamic` (see plugins/sdk/README.md), then {REBUILD}", path.display())]
    OwnSdk { path: PathBuf },
    /// The library was built against another SDK.
    #[error("{}: plugin ABI mismatch: plugin built for `{plugin}`, runner is `{runner}`; {REBUILD}", path.display())]
    Abi {
        path: PathBuf,
        plugin: String,
        runner: String,
    },
    /// The register function panicked.
    #[error("{}: plugin panicked while registering: {message}", path.display())]
    Panic { path: PathBuf, message: String },
}

/// How to rebuild everything with one SDK.
pub const REBUILD: &str = "rebuild plugins and runner with one command in one target dir: `cargo build --workspace` (same profile and target dir as the runner; `bash scripts/demo.sh` builds into ~/.cache/rateme/target)";

/// What to do after a failed dlopen. An undefined symbol almost always means that the plugin
/// was linked against another build of librateme_sdk.so than the one the runner loaded.
fn open_hint(message: &str) -> String {
    if message.contains("undefined symbol") {
        format!(
            "likely cause: the plugin and the runner were built against different builds of librateme_sdk.so (different cargo commands, profiles or target dirs, or an SDK edited in between); {REBUILD}"
        )
    } else {
        REBUILD.to_owned()
    }
}

/// The file-name convention of plugin libraries in a plugin directory: `librateme_*.so`
/// (the SDK itself excluded).
pub fn is_plugin_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.starts_with("librateme_")
        && name.ends_with(std::env::consts::DLL_SUFFIX)
        && name != format!("librateme_sdk{}", std::env::consts::DLL_SUFFIX)
}

/// The default plugin directory: the directory of the running executable (where cargo puts the
/// plugin libraries of the workspace); for a test binary in `deps/`, its parent.
pub fn default_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// Loaded plugin libraries and what they registered.
pub struct PluginHost {
    /// Every constructor registered so far.
    pub registry: Registry,
    /// Libraries loaded, in load order.
    pub libraries: Vec<PathBuf>,
}

impl Default for PluginHost {
    fn default() -> Self {
        Self::new()
    }
}

impl PluginHost {
    /// An empty host.
    pub fn new() -> Self {
        Self {
            registry: Registry::new(),
            libraries: Vec::new(),
        }
    }

    /// Loads every `librateme_*` library in `dir` (sorted by name). All-or-nothing on ABI
    /// mismatches: every mismatching library is reported, one line each.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), Vec<PluginLoadError>> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            vec![PluginLoadError::Dir {
                dir: dir.to_owned(),
                message: e.to_string(),
            }]
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_plugin_file(p))
            .collect();
        files.sort();
        let errors: Vec<PluginLoadError> = files
            .iter()
            .filter_map(|f| self.load_file(f).err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Loads one library: checks its fingerprint, then calls its register function.
    pub fn load_file(&mut self, path: &Path) -> Result<(), PluginLoadError> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        if self.libraries.contains(&path) {
            return Ok(());
        }
        // SAFETY: loading a library runs its initialisers; plugin libraries are Rust dylibs
        // built from this workspace's SDK, whose initialisers are std's.
        let library =
            unsafe { libloading::Library::new(&path) }.map_err(|e| PluginLoadError::Open {
                path: path.clone(),
                message: full_error(&e),
            })?;
        // Kept for the life of the process (see module docs).
        let library: &'static libloading::Library = Box::leak(Box::new(library));

        // SAFETY: the ABI symbol is a C function returning a static NUL-terminated string.
        let abi = unsafe {
            let f = library
                .get::<PluginAbiFn>(ABI_SYMBOL)
                .map_err(|e| PluginLoadError::Open {
                    path: path.clone(),
                    message: format!(
                        "not a rateme plugin (no `rateme_plugin_abi` symbol): {}",
                        full_error(&e)
                    ),
                })?;
            CStr::from_ptr(f()).to_string_lossy().into_owned()
        };
        if abi != ABI_FINGERPRINT {
            return Err(PluginLoadError::Abi {
                path,
                plugin: abi,
                runner: ABI_FINGERPRINT.to_owned(),
            });
        }
        // SAFETY: a C-ABI function without arguments returning a pointer it does not own.
        let anchor = unsafe {
            let f = library.get::<PluginAnchorFn>(ANCHOR_SYMBOL).map_err(|e| {
                PluginLoadError::Open {
                    path: path.clone(),
                    message: format!("no `rateme_plugin_sdk_anchor` symbol: {}", full_error(&e)),
                }
            })?;
            f()
        };
        if !std::ptr::eq(anchor, SDK_ANCHOR.as_ptr()) {
            return Err(PluginLoadError::OwnSdk { path });
        }
        // SAFETY: same fingerprint = same compiler, SDK sources and flags, and the same SDK
        // library in memory: the Rust signature matches.
        let register = unsafe {
            *library
                .get::<PluginRegisterFn>(REGISTER_SYMBOL)
                .map_err(|e| PluginLoadError::Open {
                    path: path.clone(),
                    message: full_error(&e),
                })?
        };
        self.registry.set_loading(Some(path.clone()));
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| register(&mut self.registry)));
        self.registry.set_loading(None);
        result.map_err(|payload| PluginLoadError::Panic {
            path: path.clone(),
            message: panic_message(&*payload),
        })?;
        for conflict in self.registry.conflicts() {
            tracing::warn!("{conflict}");
        }
        tracing::debug!(library = %path.display(), "plugin loaded");
        self.libraries.push(path);
        Ok(())
    }

    /// Registered backbone names, comma-separated (for error messages).
    pub fn backbone_names(&self) -> String {
        names(self.registry.backbones().map(|e| e.name.as_str()))
    }

    /// Registered head names, comma-separated.
    pub fn head_names(&self) -> String {
        names(self.registry.heads().map(|e| e.name.as_str()))
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "(none loaded)".into()
    } else {
        v.join(", ")
    }
}

/// libloading keeps dlerror's text in `source()`: include the whole chain.
fn full_error(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_file_convention() {
        assert!(is_plugin_file(Path::new("/x/librateme_smallconv.so")));
        assert!(!is_plugin_file(Path::new("/x/librateme_sdk.so")));
        assert!(!is_plugin_file(Path::new("/x/libtestkit_plugins.so")));
        assert!(!is_plugin_file(Path::new("/x/librateme_smallconv.rlib")));
    }
}
