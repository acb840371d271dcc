//! `[data.loader]`: how images are read during a run. None of it changes what a batch holds
//! (a run resumed with other settings sees the same batches), only speed, memory and how bad
//! files are handled.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The streaming loader's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderSpec {
    /// Decoding threads. Default: the machine's cores (at most 16).
    #[serde(default)]
    pub workers: Option<usize>,
    /// Batches made ahead of the step. Default 4.
    #[serde(default = "d_prefetch")]
    pub prefetch: usize,
    /// Keep decoded, resized images between epochs: `"off"`, `"ram"` (up to `cache_mb`) or
    /// `"disk"` (memory-mapped files in `cache_dir`). Default `"ram"`.
    #[serde(default = "d_cache")]
    pub cache: String,
    /// Budget of the in-memory cache in MiB. Default 2048.
    #[serde(default = "d_cache_mb")]
    pub cache_mb: u64,
    /// Folder of the disk cache. Default `~/.cache/rateme/pixels`.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Stop before training when fewer than this fraction of the images can be used. Default
    /// 0.9.
    #[serde(default = "d_min_valid")]
    pub min_valid_fraction: f64,
    /// Largest image accepted, in megapixels (larger ones are skipped as decompression bombs).
    /// Default 89.5 (Pillow's limit).
    #[serde(default = "d_max_megapixels")]
    pub max_megapixels: f64,
}

impl Default for LoaderSpec {
    fn default() -> Self {
        Self {
            workers: None,
            prefetch: d_prefetch(),
            cache: d_cache(),
            cache_mb: d_cache_mb(),
            cache_dir: None,
            min_valid_fraction: d_min_valid(),
            max_megapixels: d_max_megapixels(),
        }
    }
}

fn d_prefetch() -> usize {
    4
}
fn d_cache() -> String {
    "ram".into()
}
fn d_cache_mb() -> u64 {
    2048
}
fn d_min_valid() -> f64 {
    0.9
}
fn d_max_megapixels() -> f64 {
    89.478_485
}

impl LoaderSpec {
    /// Whether every setting is the default.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Checks ranges. Returns (field, message).
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: String| Err((format!("data.loader.{f}"), m));
        if self.workers == Some(0) {
            return err(
                "workers",
                "must be at least 1 (omit it for one per core)".into(),
            );
        }
        if self.prefetch == 0 {
            return err("prefetch", "must be at least 1".into());
        }
        if !["off", "ram", "disk"].contains(&self.cache.as_str()) {
            return err(
                "cache",
                format!("unknown cache `{}`; valid: off, ram, disk", self.cache),
            );
        }
        if !(0.0..=1.0).contains(&self.min_valid_fraction) {
            return err(
                "min_valid_fraction",
                format!("must be in [0, 1], got {}", self.min_valid_fraction),
            );
        }
        if !(self.max_megapixels.is_finite() && self.max_megapixels > 0.0) {
            return err(
                "max_megapixels",
                format!("must be a positive number, got {}", self.max_megapixels),
            );
        }
        Ok(())
    }
}
