//! The cache of prepared images: decoded, padded and resized, not yet augmented (RGB bytes of
//! the prepared size), so epochs after the first skip decoding.
//!
//! - In memory, up to a byte budget: the first images that fit stay for the whole run. Batches
//!   draw rows uniformly, so any set of that size saves as many decodes as any other; keeping
//!   the first avoids eviction traffic.
//! - On disk, memory-mapped: one file of fixed-size records plus one state byte per record, in
//!   a folder shared by runs. Its name is a hash of everything that decides the bytes (the
//!   images' paths, sizes and modification times, the prepared size, the padding, the
//!   preparation's version), so any change starts a new file and never reads stale pixels;
//!   old files are left for the user to delete. A record's state byte is written after the
//!   record, so a killed process leaves at worst records it will decode again.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use image::RgbImage;

use super::{DataError, Sample};

/// Bumped whenever decoding or preparation changes the bytes a disk cache holds.
const PREPARE_VERSION: u32 = 1;

/// Where prepared images are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheSettings {
    /// Decode every time.
    Off,
    /// In memory, up to this many bytes.
    Ram {
        /// Byte budget.
        bytes: u64,
    },
    /// Memory-mapped files in this folder.
    Disk {
        /// Folder (created when missing).
        dir: PathBuf,
    },
}

impl std::fmt::Display for CacheSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheSettings::Off => f.write_str("off"),
            CacheSettings::Ram { bytes } => write!(f, "in memory up to {} MiB", bytes >> 20),
            CacheSettings::Disk { dir } => write!(f, "on disk in {}", dir.display()),
        }
    }
}

pub(crate) enum Cache {
    Off,
    Ram {
        slots: Vec<OnceLock<RgbImage>>,
        budget: u64,
        used: AtomicU64,
    },
    Disk(Disk),
}

pub(crate) struct Disk {
    data: File,
    map: memmap2::Mmap,
    state_file: File,
    state: Vec<AtomicU8>,
    size: (u32, u32),
    record: usize,
}

const CACHED: u8 = 1;

impl Cache {
    pub(crate) fn open(
        settings: &CacheSettings,
        samples: &[Sample],
        size: (u32, u32),
        pad_to_square: bool,
    ) -> Result<Self, DataError> {
        Ok(match settings {
            CacheSettings::Off => Cache::Off,
            CacheSettings::Ram { bytes } => Cache::Ram {
                slots: (0..samples.len()).map(|_| OnceLock::new()).collect(),
                // Never more than the whole dataset prepared.
                budget: (*bytes)
                    .min(3 * u64::from(size.0) * u64::from(size.1) * samples.len() as u64),
                used: AtomicU64::new(0),
            },
            CacheSettings::Disk { dir } => {
                Cache::Disk(Disk::open(dir, samples, size, pad_to_square)?)
            }
        })
    }

    /// Bytes of memory the cache may hold.
    pub(crate) fn memory_budget(&self) -> u64 {
        match self {
            Cache::Ram { budget, .. } => *budget,
            _ => 0,
        }
    }

    pub(crate) fn get(&self, i: usize) -> Option<Cow<'_, RgbImage>> {
        match self {
            Cache::Off => None,
            Cache::Ram { slots, .. } => slots.get(i)?.get().map(Cow::Borrowed),
            Cache::Disk(d) => d.get(i).map(Cow::Owned),
        }
    }

    pub(crate) fn put(&self, i: usize, img: RgbImage) {
        match self {
            Cache::Off => {}
            Cache::Ram {
                slots,
                budget,
                used,
            } => {
                let bytes = img.as_raw().len() as u64;
                let before = used.fetch_add(bytes, Ordering::Relaxed);
                if before + bytes > *budget
                    || slots.get(i).is_none_or(|slot| slot.set(img).is_err())
                {
                    used.fetch_sub(bytes, Ordering::Relaxed);
                }
            }
            Cache::Disk(d) => d.put(i, &img),
        }
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |e| DataError::Io {
        path: path.display().to_string(),
        message: format!("pixel cache: {e}; set data.loader.cache = \"off\" or another cache_dir"),
    }
}

impl Disk {
    fn open(
        dir: &Path,
        samples: &[Sample],
        size: (u32, u32),
        pad_to_square: bool,
    ) -> Result<Self, DataError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut key = format!("v{PREPARE_VERSION}|{}x{}|{pad_to_square}", size.0, size.1);
        for s in samples {
            let (len, mtime) = std::fs::metadata(&s.path)
                .map(|m| {
                    let t = m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos());
                    (m.len(), t)
                })
                .unwrap_or((0, 0));
            key.push_str(&format!("|{}|{len}|{mtime}", s.path.display()));
        }
        let name = format!(
            "{}x{}-{}",
            size.0,
            size.1,
            rateme_util::fsutil::fnv1a_hex(key.as_bytes())
        );
        let record = 3 * size.0 as usize * size.1 as usize;
        let data_path = dir.join(format!("{name}.rgb"));
        let state_path = dir.join(format!("{name}.state"));
        let open = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(p)
                .map_err(io_error(p))
        };
        let data = open(&data_path)?;
        let want = (record * samples.len()) as u64;
        if data.metadata().map_err(io_error(&data_path))?.len() != want {
            data.set_len(want).map_err(io_error(&data_path))?;
        }
        let state_file = open(&state_path)?;
        let mut bytes = std::fs::read(&state_path).map_err(io_error(&state_path))?;
        if bytes.len() != samples.len() {
            bytes = vec![0; samples.len()];
            state_file.set_len(0).map_err(io_error(&state_path))?;
            state_file
                .write_all_at(&bytes, 0)
                .map_err(io_error(&state_path))?;
        }
        // SAFETY: the file is ours (a name no other program uses); records are only written
        // through `put` before their state byte says they are there, and a record is never
        // rewritten with other bytes (the name pins everything that decides them), so a mapped
        // record never changes while read. Another process sharing the folder writes the same
        // bytes.
        let map = unsafe { memmap2::Mmap::map(&data) }.map_err(io_error(&data_path))?;
        let cached = bytes.iter().filter(|&&b| b == CACHED).count();
        tracing::info!(
            "pixel cache {}: {cached} of {} images already there",
            data_path.display(),
            samples.len()
        );
        Ok(Self {
            data,
            map,
            state_file,
            state: bytes.into_iter().map(AtomicU8::new).collect(),
            size,
            record,
        })
    }

    fn get(&self, i: usize) -> Option<RgbImage> {
        if self.state.get(i)?.load(Ordering::Acquire) != CACHED {
            return None;
        }
        let bytes = self.map.get(i * self.record..(i + 1) * self.record)?;
        RgbImage::from_raw(self.size.0, self.size.1, bytes.to_vec())
    }

    fn put(&self, i: usize, img: &RgbImage) {
        if img.dimensions() != self.size || self.state.get(i).is_none() {
            return;
        }
        // A failed write only costs a later decode: the state byte stays unset.
        if self
            .data
            .write_all_at(img.as_raw(), (i * self.record) as u64)
            .is_ok()
            && self.state_file.write_all_at(&[CACHED], i as u64).is_ok()
        {
            self.state[i].store(CACHED, Ordering::Release);
        }
    }
}
