//! The download step: the kept, rated posts' images → `images/`, a journal of every outcome,
//! and the training manifest.
//!
//! Crash safety: each image is written to a temporary file and renamed; then its outcome is
//! appended to `downloads.jsonl` and synced. A kill at any moment loses at most the downloads
//! in flight; a rerun reads the journal, skips images already verified (file present with the
//! recorded size) and final failures, and retries transient ones. The manifest is derived from
//! the journal and rewritten atomically (every 30 s and at the end).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::IngestError;
use super::fetch::{FetchError, FetchOptions, Fetcher};
use super::posts::{self, Post, SourceKind};
use super::ratings::{self, PostRating};
use super::verify;

/// Options of the download step.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// The ingest folder (holds `posts.parquet` and `ratings.parquet`; gets `images/`, the
    /// journal and the manifest).
    pub dir: PathBuf,
    /// HTTP settings.
    pub fetch: FetchOptions,
    /// Downloads at once.
    pub concurrency: usize,
    /// Imgur API client id (albums list all their images); without it, an album yields its
    /// cover image (the page's `og:image`).
    pub imgur_client_id: Option<String>,
    /// Imgur API base URL.
    pub imgur_api: String,
    /// Retry failures a previous run recorded as final (404, not an image, ...).
    pub retry_failed: bool,
    /// Stop after this many posts (for a trial run).
    pub limit: Option<usize>,
    /// Show a progress bar.
    pub progress: bool,
}

impl DownloadOptions {
    /// Defaults for `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            fetch: FetchOptions::default(),
            concurrency: 8,
            imgur_client_id: std::env::var("IMGUR_CLIENT_ID")
                .ok()
                .filter(|s| !s.is_empty()),
            imgur_api: "https://api.imgur.com".into(),
            retry_failed: false,
            limit: None,
            progress: false,
        }
    }
}

/// The file names of the download step.
pub mod files {
    /// Kept posts and their image sources (from the offline step).
    pub const POSTS: &str = "posts.parquet";
    /// One JSON line per outcome.
    pub const JOURNAL: &str = "downloads.jsonl";
    /// What the runner trains on.
    pub const MANIFEST: &str = "manifest.parquet";
    /// Downloaded images.
    pub const IMAGES: &str = "images";
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Entry {
    /// An album resolved into image URLs.
    Album {
        /// Post id.
        post: String,
        /// The album URL.
        album: String,
        /// Its images, in order.
        images: Vec<String>,
        /// `api`, or `og:image` (the cover only).
        via: String,
    },
    /// A verified image on disk.
    Ok {
        /// Post id.
        post: String,
        /// Position in the post.
        index: usize,
        /// Source URL.
        source: String,
        /// Path relative to the ingest folder.
        file: String,
        /// File size.
        bytes: u64,
        /// SHA-256 of the file (hex).
        sha256: String,
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
    },
    /// The same bytes as an image already kept (not stored twice, not trained twice).
    Duplicate {
        /// Post id.
        post: String,
        /// Position in the post.
        index: usize,
        /// Source URL.
        source: String,
        /// The kept file.
        of: String,
    },
    /// Not downloaded.
    Failed {
        /// Post id.
        post: String,
        /// Position in the post (`None`: the post's album could not be resolved).
        index: Option<usize>,
        /// Source URL.
        source: String,
        /// Short reason (`http 404`, `timeout`, `html page`, ...).
        reason: String,
        /// A later run retries it.
        transient: bool,
    },
}

impl Entry {
    fn key(&self) -> Option<(&str, usize)> {
        match self {
            Entry::Ok { post, index, .. } | Entry::Duplicate { post, index, .. } => {
                Some((post, *index))
            }
            Entry::Failed {
                post,
                index: Some(i),
                ..
            } => Some((post, *i)),
            _ => None,
        }
    }
}

/// What the download step did (the `downloads` part of `summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DownloadSummary {
    /// Kept posts with a rating: the ones whose images are wanted.
    pub posts: u64,
    /// Of those, posts with at least one image in the manifest.
    pub posts_with_images: u64,
    /// Images in the manifest.
    pub images_ok: u64,
    /// Of those, verified in an earlier run and skipped now.
    pub images_from_earlier_runs: u64,
    /// Identical to an image already kept.
    pub duplicates: u64,
    /// Failed images (and unresolvable albums), by reason.
    pub failed: BTreeMap<String, u64>,
    /// Albums resolved to their cover image only (no `IMGUR_CLIENT_ID`).
    pub albums_cover_only: u64,
    /// Bytes downloaded in this run.
    pub bytes: u64,
    /// Seconds this run took.
    pub seconds: f64,
}

/// The journal: outcomes so far, appended durably.
struct Journal {
    file: Mutex<File>,
    entries: Mutex<Vec<Entry>>,
}

impl Journal {
    /// Opens (creating) the journal and reads its complete lines. A torn last line (a kill
    /// mid-write) is cut off.
    fn open(path: &Path) -> Result<Self, IngestError> {
        let mut entries = Vec::new();
        let mut good_len = 0u64;
        if let Ok(f) = File::open(path) {
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            loop {
                line.clear();
                let n = reader
                    .read_line(&mut line)
                    .map_err(|e| IngestError::io(path, e))?;
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                match serde_json::from_str::<Entry>(&line) {
                    Ok(e) => entries.push(e),
                    Err(e) => {
                        return Err(IngestError::io(
                            path,
                            format!(
                                "line {}: {e}; the journal is damaged: move it away to download again",
                                entries.len() + 1
                            ),
                        ));
                    }
                }
                good_len += n as u64;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| IngestError::io(path, e))?;
        file.set_len(good_len)
            .map_err(|e| IngestError::io(path, e))?;
        Ok(Self {
            file: Mutex::new(file),
            entries: Mutex::new(entries),
        })
    }

    fn append(&self, e: Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(&e).expect("entry serialises");
        line.push('\n');
        {
            let mut f = self.file.lock().expect("journal");
            f.write_all(line.as_bytes())?;
            f.sync_data()?;
        }
        self.entries.lock().expect("entries").push(e);
        Ok(())
    }

    fn snapshot(&self) -> Vec<Entry> {
        self.entries.lock().expect("entries").clone()
    }
}

/// What earlier runs settled, by (post, index).
struct Earlier {
    latest: HashMap<(String, usize), Entry>,
    albums: HashMap<String, Vec<String>>,
    /// Posts whose album could not be resolved, and whether that may pass.
    album_failures: HashMap<String, bool>,
}

impl Earlier {
    fn from(entries: &[Entry]) -> Self {
        let mut latest = HashMap::new();
        let mut albums = HashMap::new();
        let mut album_failures = HashMap::new();
        for e in entries {
            if let Some((post, index)) = e.key() {
                latest.insert((post.to_owned(), index), e.clone());
            } else if let Entry::Album { post, images, .. } = e {
                albums.insert(post.clone(), images.clone());
            } else if let Entry::Failed {
                post, transient, ..
            } = e
            {
                album_failures.insert(post.clone(), *transient);
            }
        }
        Self {
            latest,
            albums,
            album_failures,
        }
    }
}

struct Shared<'a> {
    opts: &'a DownloadOptions,
    fetcher: Fetcher,
    journal: Journal,
    earlier: Earlier,
    /// sha256 → kept file, across posts and runs.
    hashes: Mutex<HashMap<String, String>>,
    bytes: AtomicU64,
    reused: AtomicU64,
    cover_only: AtomicU64,
}

/// Runs the download step and writes the manifest; returns the summary (also merged into
/// `summary.json`).
pub fn download(opts: &DownloadOptions) -> Result<DownloadSummary, IngestError> {
    let started = Instant::now();
    let dir = &opts.dir;
    let posts_path = dir.join(files::POSTS);
    if !posts_path.exists() {
        return Err(IngestError::io(
            &posts_path,
            "missing: run `runner ingest reddit --submissions S --comments C --out DIR` first",
        ));
    }
    let posts = posts::read_posts(&posts_path)?;
    let ratings = ratings::read_post_ratings(&dir.join(super::files::RATINGS))?;
    let rated: HashMap<&str, &PostRating> = ratings.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut wanted: Vec<&Post> = posts
        .iter()
        .filter(|p| rated.contains_key(p.id.as_str()))
        .collect();
    if let Some(n) = opts.limit {
        wanted.truncate(n);
    }
    let images_dir = dir.join(files::IMAGES);
    std::fs::create_dir_all(&images_dir).map_err(|e| IngestError::io(&images_dir, e))?;
    remove_partial_files(&images_dir);
    let journal = Journal::open(&dir.join(files::JOURNAL))?;
    let earlier = Earlier::from(&journal.snapshot());
    let hashes = earlier
        .latest
        .values()
        .filter_map(|e| match e {
            Entry::Ok { sha256, file, .. } => Some((sha256.clone(), file.clone())),
            _ => None,
        })
        .collect();
    let shared = Shared {
        opts,
        fetcher: Fetcher::new(opts.fetch.clone()).map_err(|e| IngestError::io(dir, e))?,
        journal,
        earlier,
        hashes: Mutex::new(hashes),
        bytes: AtomicU64::new(0),
        reused: AtomicU64::new(0),
        cover_only: AtomicU64::new(0),
    };
    let bar = opts.progress.then(|| {
        let bar = indicatif::ProgressBar::new(wanted.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "posts [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let write_error: Mutex<Option<IngestError>> = Mutex::new(None);
    let manifest_path = dir.join(files::MANIFEST);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..opts.concurrency.max(1))
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(post) = wanted.get(i) else { return };
                        if let Err(e) = shared.post(post) {
                            *write_error.lock().expect("error slot") = Some(e);
                            // Stop handing out work; finished entries are already durable.
                            next.store(u64::MAX / 2, Ordering::Relaxed);
                            return;
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let mut last_manifest = Instant::now();
        while workers.iter().any(|w| !w.is_finished()) {
            std::thread::sleep(Duration::from_millis(200));
            if let Some(bar) = &bar {
                bar.set_position(done.load(Ordering::Relaxed));
            }
            if last_manifest.elapsed() > Duration::from_secs(30) {
                last_manifest = Instant::now();
                if let Err(e) = write_manifest(&shared.journal.snapshot(), &rated, &manifest_path) {
                    tracing::warn!("{e}");
                }
            }
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = write_error.into_inner().expect("error slot") {
        return Err(e);
    }
    let entries = shared.journal.snapshot();
    let rows = write_manifest(&entries, &rated, &manifest_path)?;
    let wanted_ids: HashSet<&str> = wanted.iter().map(|p| p.id.as_str()).collect();
    let mut summary = DownloadSummary {
        posts: wanted.len() as u64,
        posts_with_images: rows.iter().map(|r| r.0).collect::<HashSet<_>>().len() as u64,
        images_ok: rows.len() as u64,
        images_from_earlier_runs: shared.reused.load(Ordering::Relaxed),
        albums_cover_only: shared.cover_only.load(Ordering::Relaxed),
        bytes: shared.bytes.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        ..Default::default()
    };
    for e in latest_outcomes(&entries) {
        match e {
            Entry::Duplicate { post, .. } if wanted_ids.contains(post.as_str()) => {
                summary.duplicates += 1
            }
            Entry::Failed { post, reason, .. } if wanted_ids.contains(post.as_str()) => {
                *summary.failed.entry(reason.clone()).or_default() += 1
            }
            _ => {}
        }
    }
    super::merge_summary(dir, |s| s.downloads = Some(summary.clone()))?;
    Ok(summary)
}

/// Deletes the temporary files of writes a kill interrupted (`.<name>.tmp-<pid>`).
fn remove_partial_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The last outcome of each (post, index), and each post's last album failure.
fn latest_outcomes(entries: &[Entry]) -> Vec<&Entry> {
    let mut latest: BTreeMap<(&str, Option<usize>), &Entry> = BTreeMap::new();
    for e in entries {
        let key = match e {
            Entry::Album { post, .. } => {
                // A resolved album supersedes an earlier failure to resolve it.
                latest.remove(&(post.as_str(), None));
                continue;
            }
            Entry::Failed { post, index, .. } => (post.as_str(), *index),
            Entry::Ok { post, index, .. } | Entry::Duplicate { post, index, .. } => {
                (post.as_str(), Some(*index))
            }
        };
        latest.insert(key, e);
    }
    latest.into_values().collect()
}

impl Shared<'_> {
    /// Downloads one post's images.
    fn post(&self, post: &Post) -> Result<(), IngestError> {
        let sources = match post.kind {
            SourceKind::Images => post.sources.clone(),
            SourceKind::ImgurAlbum => match self.earlier.albums.get(&post.id) {
                Some(images) => images.clone(),
                None if self.earlier.album_failures.get(&post.id) == Some(&false)
                    && !self.opts.retry_failed =>
                {
                    return Ok(()); // a final failure, recorded by an earlier run
                }
                None => {
                    let album = post.sources.first().cloned().unwrap_or_default();
                    match self.resolve_album(&album) {
                        Ok((images, via)) => {
                            self.record(Entry::Album {
                                post: post.id.clone(),
                                album,
                                images: images.clone(),
                                via,
                            })?;
                            images
                        }
                        Err((reason, transient)) => {
                            return self.record(Entry::Failed {
                                post: post.id.clone(),
                                index: None,
                                source: album,
                                reason,
                                transient,
                            });
                        }
                    }
                }
            },
        };
        for (index, source) in sources.iter().enumerate() {
            if let Some(prev) = self.earlier.latest.get(&(post.id.clone(), index)) {
                let settled = match prev {
                    Entry::Ok { file, bytes, .. } => {
                        let ok = std::fs::metadata(self.opts.dir.join(file))
                            .is_ok_and(|m| m.len() == *bytes);
                        if ok {
                            self.reused.fetch_add(1, Ordering::Relaxed);
                        }
                        ok
                    }
                    Entry::Duplicate { .. } => true,
                    Entry::Failed { transient, .. } => !transient && !self.opts.retry_failed,
                    Entry::Album { .. } => false,
                };
                if settled {
                    continue;
                }
            }
            let entry = self.image(post, index, source)?;
            self.record(entry)?;
        }
        Ok(())
    }

    fn record(&self, e: Entry) -> Result<(), IngestError> {
        let path = self.opts.dir.join(files::JOURNAL);
        self.journal
            .append(e)
            .map_err(|e| IngestError::io(&path, e))
    }

    /// Downloads, verifies and stores one image; the outcome to record.
    fn image(&self, post: &Post, index: usize, source: &str) -> Result<Entry, IngestError> {
        let failed = |reason: String, transient: bool| Entry::Failed {
            post: post.id.clone(),
            index: Some(index),
            source: source.to_owned(),
            reason,
            transient,
        };
        let fetched = match self.fetcher.get(source, &[]) {
            Ok(f) => f,
            Err(e) => return Ok(failed(e.reason(), e.transient())),
        };
        self.bytes
            .fetch_add(fetched.bytes.len() as u64, Ordering::Relaxed);
        let v = match verify::verify(&fetched.bytes, &fetched.final_url) {
            Ok(v) => v,
            // A cut body may be the connection's fault: worth another try later.
            Err(r) => return Ok(failed(r.to_string(), r == verify::Rejected::Truncated)),
        };
        let sha256 = hex(&Sha256::digest(&fetched.bytes));
        let file = format!("{}/{}_{index}.{}", files::IMAGES, post.id, v.ext);
        {
            let mut hashes = self.hashes.lock().expect("hashes");
            match hashes.get(&sha256) {
                Some(of) if *of != file => {
                    return Ok(Entry::Duplicate {
                        post: post.id.clone(),
                        index,
                        source: source.to_owned(),
                        of: of.clone(),
                    });
                }
                _ => {
                    hashes.insert(sha256.clone(), file.clone());
                }
            }
        }
        let path = self.opts.dir.join(&file);
        rateme_util::fsutil::write_atomic(&path, &fetched.bytes)
            .map_err(|e| IngestError::io(&path, e))?;
        Ok(Entry::Ok {
            post: post.id.clone(),
            index,
            source: source.to_owned(),
            file,
            bytes: fetched.bytes.len() as u64,
            sha256,
            width: v.width,
            height: v.height,
        })
    }

    /// An imgur album's image URLs: through the API with a client id, else the page's cover
    /// image. `Err((reason, transient))`.
    fn resolve_album(&self, album: &str) -> Result<(Vec<String>, String), (String, bool)> {
        let id = album
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(("bad album url".to_owned(), false))?;
        let fail = |e: FetchError| (format!("album: {}", e.reason()), e.transient());
        if let Some(client) = &self.opts.imgur_client_id {
            let url = format!(
                "{}/3/album/{id}/images",
                self.opts.imgur_api.trim_end_matches('/')
            );
            let auth = format!("Client-ID {client}");
            let f = self
                .fetcher
                .get(&url, &[("Authorization", &auth)])
                .map_err(fail)?;
            let v: serde_json::Value = serde_json::from_slice(&f.bytes)
                .map_err(|_| ("album: api reply is not json".to_owned(), true))?;
            let images: Vec<String> = v["data"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter(|i| !i["animated"].as_bool().unwrap_or(false))
                        .filter_map(|i| i["link"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if images.is_empty() {
                return Err(("album: no images".into(), false));
            }
            return Ok((images, "api".into()));
        }
        let f = self.fetcher.get(album, &[]).map_err(fail)?;
        let page = String::from_utf8_lossy(&f.bytes);
        let cover = og_image(&page).ok_or(("album: no og:image".to_owned(), false))?;
        self.cover_only.fetch_add(1, Ordering::Relaxed);
        Ok((vec![cover], "og:image".into()))
    }
}

/// The `content` of a page's `<meta property="og:image">` (query string dropped: imgur adds
/// `?fb` resizing hints).
fn og_image(page: &str) -> Option<String> {
    let mut rest = page;
    while let Some(start) = rest.find("<meta") {
        let tag_and_more = &rest[start..];
        let end = tag_and_more.find('>')?;
        let tag = &tag_and_more[..end];
        if tag.contains("\"og:image\"") || tag.contains("'og:image'") {
            let at = tag.find("content=")? + "content=".len();
            let quote = tag[at..].chars().next()?;
            let value = &tag[at + 1..];
            let value = &value[..value.find(quote)?];
            let value = value.replace("&amp;", "&");
            return Some(value.split('?').next().unwrap_or(&value).to_owned());
        }
        rest = &tag_and_more[end..];
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One manifest row: (post, index, file).
type Row<'a> = (&'a str, usize, &'a str);

/// Writes the manifest (atomically) from the journal: one row per kept image of a rated post,
/// sorted by post and position. Returns the rows.
fn write_manifest<'a>(
    entries: &'a [Entry],
    rated: &HashMap<&str, &PostRating>,
    path: &Path,
) -> Result<Vec<Row<'a>>, IngestError> {
    let mut rows: Vec<Row> = latest_outcomes(entries)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Ok {
                post, index, file, ..
            } if rated.contains_key(post.as_str()) => Some((post.as_str(), *index, file.as_str())),
            _ => None,
        })
        .collect();
    rows.sort();
    let r = |post: &str| rated[post];
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "path".into(),
                rows.iter().map(|x| x.2.to_owned()).collect::<Vec<_>>(),
            ),
            Column::new(
                "target".into(),
                rows.iter().map(|x| r(x.0).weighted).collect::<Vec<_>>(),
            ),
            Column::new(
                "group".into(),
                rows.iter().map(|x| x.0.to_owned()).collect::<Vec<_>>(),
            ),
            Column::new(
                "index".into(),
                rows.iter().map(|x| x.1 as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "count".into(),
                rows.iter().map(|x| r(x.0).count).collect::<Vec<_>>(),
            ),
            Column::new(
                "std".into(),
                rows.iter().map(|x| r(x.0).std).collect::<Vec<_>>(),
            ),
            Column::new(
                "mean".into(),
                rows.iter().map(|x| r(x.0).mean).collect::<Vec<_>>(),
            ),
            Column::new(
                "median".into(),
                rows.iter().map(|x| r(x.0).median).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(|e| IngestError::table(path, e))?;
    super::write_parquet_atomic(&mut df, path)?;
    Ok(rows)
}

/// One paragraph for the terminal.
pub fn describe(s: &DownloadSummary) -> String {
    let mut text = format!(
        "downloads: {} rated posts to fetch → {} with images; {} images in the manifest ({} verified in earlier runs), {} duplicates, {:.1} MB in {:.1} s",
        s.posts,
        s.posts_with_images,
        s.images_ok,
        s.images_from_earlier_runs,
        s.duplicates,
        s.bytes as f64 / 1e6,
        s.seconds
    );
    if s.albums_cover_only > 0 {
        text.push_str(&format!(
            "\n  {} imgur albums gave their cover image only: set IMGUR_CLIENT_ID for every image",
            s.albums_cover_only
        ));
    }
    for (reason, n) in &s.failed {
        text.push_str(&format!("\n  failed: {reason}: {n}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn og_image_is_found_in_either_attribute_order() {
        let page = r#"<html><head><meta name="x" content="y"><meta content="https://i.imgur.com/Ab1.jpg?fb" property="og:image"/></head>"#;
        assert_eq!(
            og_image(page).as_deref(),
            Some("https://i.imgur.com/Ab1.jpg")
        );
        let page = r#"<meta property='og:image' content='https://i.imgur.com/C.png'>"#;
        assert_eq!(og_image(page).as_deref(), Some("https://i.imgur.com/C.png"));
        assert_eq!(og_image("<html>no meta</html>"), None);
    }

    #[test]
    fn a_torn_journal_line_is_cut_and_later_outcomes_win() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(files::JOURNAL);
        let j = Journal::open(&p).unwrap();
        let fail = Entry::Failed {
            post: "a".into(),
            index: Some(0),
            source: "u".into(),
            reason: "timeout".into(),
            transient: true,
        };
        let ok = Entry::Ok {
            post: "a".into(),
            index: 0,
            source: "u".into(),
            file: "images/a_0.jpg".into(),
            bytes: 3,
            sha256: "00".into(),
            width: 1,
            height: 1,
        };
        j.append(fail).unwrap();
        j.append(ok.clone()).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"status":"ok","post":"b","ind"#).unwrap();
        drop(f);
        let j = Journal::open(&p).unwrap();
        let entries = j.snapshot();
        assert_eq!(entries.len(), 2);
        assert_eq!(latest_outcomes(&entries), vec![&ok]);
        j.append(ok.clone()).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<Entry>(l).is_ok())
        );
    }
}
