//! Ingesting Reddit rating threads (Pushshift-style dumps) into a training manifest.

pub mod download;
pub mod dump;
pub mod fetch;
pub mod fields;
pub mod posts;
pub mod rating;
pub mod ratings;
pub mod scan;
pub mod verify;

use std::path::Path;

/// Why ingest stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Reading a dump failed.
    #[error(transparent)]
    Dump(#[from] dump::DumpError),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A table could not be built, written or read.
    #[error("{path}: {message}")]
    Table { path: String, message: String },
}

impl IngestError {
    pub(crate) fn io(path: &Path, e: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    pub(crate) fn table(path: &Path, e: impl std::fmt::Display) -> Self {
        Self::Table {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}
pub mod fake;

/// Reads a whole parquet file written by ingest.
pub(crate) fn read_parquet(path: &Path) -> Result<polars::prelude::DataFrame, IngestError> {
    use polars::prelude::SerReader;
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(path, e))?;
    polars::prelude::ParquetReader::new(file)
        .finish()
        .map_err(|e| IngestError::table(path, e))
}

/// Writes `df` to `path` as parquet, atomically (readers see the old file or the new one).
pub(crate) fn write_parquet_atomic(
    df: &mut polars::prelude::DataFrame,
    path: &Path,
) -> Result<(), IngestError> {
    let mut bytes = Vec::new();
    polars::prelude::ParquetWriter::new(&mut bytes)
        .finish(df)
        .map_err(|e| IngestError::table(path, e))?;
    rateme_util::fsutil::write_atomic(path, &bytes).map_err(|e| IngestError::io(path, e))
}

/// Options of the offline step.
#[derive(Debug, Clone)]
pub struct OfflineOptions {
    /// Comments dump.
    pub comments: std::path::PathBuf,
    /// Submissions dump (optional: without it, no `posts.parquet`).
    pub submissions: Option<std::path::PathBuf>,
    /// Which posts to keep for downloading.
    pub filter: posts::PostFilter,
    /// Output folder.
    pub out: std::path::PathBuf,
    /// Rating rule.
    pub extractor: rating::Extractor,
    /// Parse threads (besides the decompressing one).
    pub workers: usize,
    /// Show a progress bar (else nothing).
    pub progress: bool,
}

/// What the offline step did (saved as `summary.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Rating rule used.
    pub extractor: rating::Extractor,
    /// Comments pass counts.
    pub comments: ratings::CommentCounts,
    /// Seconds the comments pass took.
    pub comments_s: f64,
    /// Peak resident memory of the process (KiB, from the kernel; Linux only).
    pub peak_rss_kib: Option<u64>,
    /// Submissions pass counts (with a submissions dump).
    #[serde(default)]
    pub posts: Option<posts::PostCounts>,
    /// The download step's counts (once it has run).
    #[serde(default)]
    pub downloads: Option<download::DownloadSummary>,
}

/// This process's peak resident set size (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The file names ingest writes into its output folder.
pub mod files {
    /// Per-post ratings.
    pub const RATINGS: &str = "ratings.parquet";
    /// What the run did.
    pub const SUMMARY: &str = "summary.json";
    /// Histogram of the weighted ratings.
    pub const HISTOGRAM: &str = "ratings_hist.svg";
}

/// A byte-progress bar for a dump pass (hidden unless `show`), and its update callback.
fn dump_bar(show: bool, what: &str) -> Option<indicatif::ProgressBar> {
    show.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{what} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}}"
            ))
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    })
}

fn bar_update(bar: &Option<indicatif::ProgressBar>) -> impl Fn(u64, u64) + Send + '_ {
    move |done, total| {
        if let Some(bar) = bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    }
}

/// The offline step: comments → `ratings.parquet`, `summary.json`, `ratings_hist.svg`; with a
/// submissions dump also `posts.parquet` (the kept posts and their image sources). Needs no
/// network.
pub fn offline(opts: &OfflineOptions) -> Result<Summary, IngestError> {
    std::fs::create_dir_all(&opts.out).map_err(|e| IngestError::io(&opts.out, e))?;
    let started = std::time::Instant::now();
    let bar = dump_bar(opts.progress, "comments");
    let ratings_path = opts.out.join(files::RATINGS);
    let counts = ratings::write_post_ratings(
        &opts.comments,
        &ratings_path,
        opts.extractor,
        opts.workers,
        bar_update(&bar),
    )?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let comments_s = started.elapsed().as_secs_f64();
    let posts = match &opts.submissions {
        Some(subs) => {
            let rated: std::collections::HashSet<String> =
                ratings::read_post_ratings(&ratings_path)?
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
            let bar = dump_bar(opts.progress, "submissions");
            let counts = posts::write_posts(
                subs,
                &opts.out.join(download::files::POSTS),
                opts.filter,
                opts.workers,
                &|id| rated.contains(id),
                bar_update(&bar),
            )?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            Some(counts)
        }
        None => None,
    };
    let summary = Summary {
        extractor: opts.extractor,
        comments: counts,
        comments_s,
        peak_rss_kib: peak_rss_kib(),
        posts,
        downloads: None,
    };
    write_summary(&opts.out, &summary)?;
    let svg = opts.out.join(files::HISTOGRAM);
    histogram_svg(&summary.comments.histogram, &svg).map_err(|e| IngestError::io(&svg, e))?;
    Ok(summary)
}

fn write_summary(dir: &Path, summary: &Summary) -> Result<(), IngestError> {
    let path = dir.join(files::SUMMARY);
    rateme_util::fsutil::write_atomic(
        &path,
        serde_json::to_string_pretty(summary)
            .expect("summary serialises")
            .as_bytes(),
    )
    .map_err(|e| IngestError::io(&path, e))
}

/// Reads `summary.json` from `dir`.
pub fn read_summary(dir: &Path) -> Result<Summary, IngestError> {
    let path = dir.join(files::SUMMARY);
    let text = std::fs::read_to_string(&path).map_err(|e| IngestError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| IngestError::io(&path, e))
}

/// Changes `summary.json` in `dir` (atomically).
pub(crate) fn merge_summary(
    dir: &Path,
    change: impl FnOnce(&mut Summary),
) -> Result<(), IngestError> {
    let mut s = read_summary(dir)?;
    change(&mut s);
    write_summary(dir, &s)
}

/// Plots the histogram of weighted ratings (40 bins over 0..10).
fn histogram_svg(bins: &[u64], path: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    let max = bins.iter().copied().max().unwrap_or(0).max(1);
    let root = SVGBackend::new(path, (720, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Weighted rating per post", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..10f64, 0u64..max + max / 10)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("weighted rating")
        .y_desc("posts")
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(bins.iter().enumerate().map(|(i, &n)| {
            let x0 = i as f64 * 0.25;
            Rectangle::new([(x0, 0), (x0 + 0.25, n)], BLUE.mix(0.6).filled())
        }))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// One paragraph for the terminal.
pub fn describe(s: &Summary) -> String {
    let c = &s.comments;
    let mut text = format!(
        "comments: {} lines ({:.1} MB) in {:.1} s (peak memory {} MiB), {} malformed, {} top-level, {} rated ({}) → {} posts with a rating",
        c.lines.lines,
        c.lines.bytes as f64 / 1e6,
        s.comments_s,
        s.peak_rss_kib
            .map_or("?".into(), |k| (k / 1024).to_string()),
        c.lines.malformed,
        c.top_level,
        c.rated,
        s.extractor.name(),
        c.posts
    );
    for (line, start, why) in &c.lines.samples {
        text.push_str(&format!("\n  malformed line {line}: {why}: {start}"));
    }
    if let Some(p) = &s.posts {
        text.push_str(&format!(
            "\nsubmissions: {} read, {} malformed lines; {} kept ({} filter), {} of them rated",
            p.read,
            p.lines.malformed,
            p.kept,
            p.filter.name(),
            p.kept_rated
        ));
        for (why, n) in &p.dropped {
            text.push_str(&format!("\n  dropped: {why}: {n}"));
        }
    }
    if let Some(d) = &s.downloads {
        text.push('\n');
        text.push_str(&download::describe(d));
    }
    text
}
