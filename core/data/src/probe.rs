//! Checks every image of a dataset up front by its header (cheap: no pixel is decoded), so a
//! dataset with too many unusable files stops before training, and the unusable ones are
//! listed with their reasons.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rateme_pixels::{DecodeLimits, Skip};

use super::{DataError, Sample};

/// A row whose image cannot be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkipRecord {
    /// The image file.
    pub path: String,
    /// Its line in the ratings table.
    pub line: u64,
    /// Short reason key (`missing`, `empty`, `not-an-image`, `too-large`, `truncated`, ...).
    pub kind: &'static str,
    /// What is wrong and what to do.
    pub reason: String,
}

impl SkipRecord {
    /// The record of `path` (table line `line`) skipped for `skip`.
    pub fn new(path: &Path, line: u64, skip: &Skip) -> Self {
        Self {
            path: path.display().to_string(),
            line,
            kind: skip.kind(),
            reason: skip.to_string(),
        }
    }
}

/// What the header check found.
#[derive(Debug, Clone, Default)]
pub struct ProbeReport {
    /// Unusable rows, by row index.
    pub skipped: BTreeMap<usize, SkipRecord>,
    /// The largest usable image's pixel count (bounds the decoding memory).
    pub largest_pixels: u64,
}

/// Reads the header of every sample's image on `workers` threads, logging progress with an
/// estimate of the time left every few seconds on large datasets.
pub fn probe(samples: &[Sample], limits: &DecodeLimits, workers: usize) -> ProbeReport {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let report = Mutex::new(ProbeReport::default());
    let start = Instant::now();
    let last_log = Mutex::new(start);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(s) = samples.get(i) else { break };
                    let found = rateme_pixels::probe(&s.path, limits);
                    {
                        let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
                        match found {
                            Ok(h) => {
                                let px = u64::from(h.width) * u64::from(h.height);
                                r.largest_pixels = r.largest_pixels.max(px);
                            }
                            Err(skip) => {
                                r.skipped.insert(i, SkipRecord::new(&s.path, s.line, &skip));
                            }
                        }
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Ok(mut last) = last_log.try_lock()
                        && last.elapsed() >= Duration::from_secs(5)
                    {
                        *last = Instant::now();
                        let rate = n as f64 / start.elapsed().as_secs_f64().max(1e-9);
                        let left = (samples.len() - n) as f64 / rate.max(1e-9);
                        tracing::info!(
                            "checking images: {n}/{} ({rate:.0}/s, about {left:.0} s left)",
                            samples.len()
                        );
                    }
                }
            });
        }
    });
    report.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Stops when fewer than `min_fraction` of the rows are usable: one line naming the table, the
/// counts, the first few problems, where the full list is and what to do.
pub fn check_valid_fraction(
    table: &Path,
    total: usize,
    skipped: &[SkipRecord],
    min_fraction: f64,
    list: &Path,
) -> Result<(), DataError> {
    let usable = total - skipped.len();
    if total > 0 && (usable as f64) >= min_fraction * total as f64 && usable > 0 {
        return Ok(());
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for s in skipped {
        *kinds.entry(s.kind).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let first: Vec<String> = skipped
        .iter()
        .take(3)
        .map(|s| format!("{} (line {}): {}", s.path, s.line, s.reason))
        .collect();
    Err(DataError::Row {
        path: table.display().to_string(),
        line: 0,
        message: format!(
            "only {usable} of {total} images are usable ({:.1}%, below data.loader.min_valid_fraction = {min_fraction}): {}; first: {}; all listed in {}; fix or remove those rows, or lower data.loader.min_valid_fraction",
            100.0 * usable as f64 / total.max(1) as f64,
            kinds.join(", "),
            first.join("; "),
            list.display()
        ),
    })
}

/// Writes the skipped rows as CSV (`path,line,kind,reason`), atomically.
pub fn write_skipped(path: &Path, skipped: &[SkipRecord]) -> Result<(), DataError> {
    let mut out = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let io = |e: csv::Error| DataError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        w.write_record(["path", "line", "kind", "reason"])
            .map_err(io)?;
        for s in skipped {
            w.write_record([&s.path, &s.line.to_string(), s.kind, &s.reason])
                .map_err(io)?;
        }
        w.flush().map_err(|e| DataError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    }
    out.flush().ok();
    rateme_util::fsutil::write_atomic(path, &out).map_err(|e| DataError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
