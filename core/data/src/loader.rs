//! The streaming loader: worker threads turn image files into normalised batches ahead of the
//! step, into a bounded queue, so memory does not grow with the dataset and the step does not
//! wait on decoding.
//!
//! - A producer thread walks a plan of batches (`Request`s) and builds each one on a pool of
//!   `workers` threads, every image written straight into its slice of the batch's one
//!   contiguous buffer, then hands it to a queue of `prefetch` batches. At most `prefetch + 2`
//!   batch buffers exist at once (queued, being built, being used).
//! - Image `k` of batch `n` draws its augmentation from `Rng(seed, AUG_STREAM, n, k)`: what a
//!   batch holds depends on (seed, batch number, rows) only, never on the number of workers or
//!   on where a run was resumed.
//! - Optionally the decoded, resized, un-augmented images are cached ([`Cache`]) so later
//!   epochs skip decoding.
//! - An image that cannot be used is recorded once with its reason ([`SkipRecord`]); its slot
//!   in a batch is zeros and `ok` is false, so the step gives it no weight.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;
use rateme_pixels::{Augment, DecodeLimits, PixelSpec, decode_file, prepare};
use rateme_util::rng::Rng;
use rayon::prelude::*;

use super::cache::{Cache, CacheSettings};
use super::probe::SkipRecord;
use super::{DataError, Sample};

/// The random stream of per-image augmentation draws: `(seed, AUG_STREAM, batch, position)`.
pub const AUG_STREAM: u64 = 0xa06;

/// How the loader runs. Nothing here changes what a batch holds, only how fast and in how much
/// memory it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderSettings {
    /// Decoding threads.
    pub workers: usize,
    /// Batches made ahead of the step.
    pub prefetch: usize,
    /// Where decoded, resized images are kept between epochs.
    pub cache: CacheSettings,
    /// Limits on a single image file.
    pub limits: DecodeLimits,
}

/// One batch to make: its number (1-based, as the step counts) and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Batch number; with the seed it selects the augmentation draws.
    pub batch_no: u64,
    /// Rows of the dataset.
    pub indices: Vec<usize>,
}

/// A made batch: `indices.len() × 3 × H × W` floats in one buffer (NCHW).
#[derive(Debug)]
pub struct Batch {
    /// Batch number of the request.
    pub batch_no: u64,
    /// Rows, in order.
    pub indices: Vec<usize>,
    /// Normalised pixels, NCHW.
    pub pixels: Vec<f32>,
    /// Per row: false when the image could not be used (its pixels are zeros).
    pub ok: Vec<bool>,
}

/// Counters of a loader over its life.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoaderStats {
    /// Images decoded from their files.
    pub decoded: u64,
    /// Images taken from the cache.
    pub cache_hits: u64,
    /// Images that could not be used (each counted once).
    pub skipped: u64,
    /// Decodes that failed (an unusable image is not tried again).
    pub failed: u64,
}

/// An upper bound of the memory the loader holds, whatever the dataset's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryBound {
    /// Batch buffers: `(prefetch + 2) × batch bytes`.
    pub batches: u64,
    /// Decoding scratch: per worker, the largest image's decoded RGBA plus its resized copy.
    pub decode: u64,
    /// The in-memory cache's budget (0 without one; a disk cache is page cache, not counted).
    pub cache: u64,
}

impl MemoryBound {
    /// The sum.
    pub fn total(&self) -> u64 {
        self.batches + self.decode + self.cache
    }
}

struct Shared {
    paths: Vec<PathBuf>,
    lines: Vec<u64>,
    prepared: (u32, u32),
    pad_to_square: bool,
    pixels: PixelSpec,
    limits: DecodeLimits,
    cache: Cache,
    skipped: Mutex<BTreeMap<usize, SkipRecord>>,
    decoded: AtomicU64,
    failed: AtomicU64,
    cache_hits: AtomicU64,
}

/// Makes batches of one dataset's images. Cheap to share between the training and the
/// evaluation streams (one pool, one cache).
pub struct Loader {
    shared: Arc<Shared>,
    pool: Arc<rayon::ThreadPool>,
    settings: LoaderSettings,
    largest_pixels: u64,
}

impl Loader {
    /// A loader over `samples`, making images of `pixels`'s size and normalisation from images
    /// prepared (padded, resized) at `prepared`. `skipped` are rows already known to be unusable
    /// (from [`probe`](super::probe())), and `largest_pixels` the largest image's pixel count
    /// (for the memory bound).
    pub fn new(
        samples: &[Sample],
        pixels: PixelSpec,
        prepared: (u32, u32),
        pad_to_square: bool,
        settings: LoaderSettings,
        skipped: BTreeMap<usize, SkipRecord>,
        largest_pixels: u64,
    ) -> Result<Self, DataError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(settings.workers.max(1))
            .thread_name(|i| format!("rateme-decode-{i}"))
            .build()
            .map_err(|e| DataError::Io {
                path: "(loader)".into(),
                message: format!("cannot start the decoding threads: {e}"),
            })?;
        let cache = Cache::open(&settings.cache, samples, prepared, pad_to_square)?;
        Ok(Self {
            shared: Arc::new(Shared {
                paths: samples.iter().map(|s| s.path.clone()).collect(),
                lines: samples.iter().map(|s| s.line).collect(),
                prepared,
                pad_to_square,
                pixels,
                limits: settings.limits,
                cache,
                skipped: Mutex::new(skipped),
                decoded: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
            }),
            pool: Arc::new(pool),
            settings,
            largest_pixels,
        })
    }

    /// Starts making the batches of `plan` (augmented with `augment` when given) ahead of the
    /// consumer. Dropping the stream stops the producer.
    pub fn stream<I>(&self, plan: I, augment: Option<Augment>, seed: u64) -> Stream
    where
        I: IntoIterator<Item = Request>,
        I::IntoIter: Send + 'static,
    {
        let (tx, rx) = sync_channel(self.settings.prefetch);
        let shared = Arc::clone(&self.shared);
        let pool = Arc::clone(&self.pool);
        let produced = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&produced);
        let plan = plan.into_iter();
        let producer = std::thread::Builder::new()
            .name("rateme-loader".into())
            .spawn(move || {
                for request in plan {
                    let batch = pool.install(|| shared.build(request, augment.as_ref(), seed));
                    counter.fetch_add(1, Ordering::Relaxed);
                    if tx.send(batch).is_err() {
                        break;
                    }
                }
            })
            .ok();
        Stream {
            rx: Some(rx),
            producer,
            waited: Duration::ZERO,
            produced,
            consumed: 0,
        }
    }

    /// The memory the loader can hold for batches of `batch_size`.
    pub fn memory_bound(&self, batch_size: usize) -> MemoryBound {
        let p = &self.shared.pixels;
        let batch = batch_size as u64 * 3 * u64::from(p.width) * u64::from(p.height) * 4;
        let (pw, ph) = self.shared.prepared;
        let per_worker = self.largest_pixels * 4 + u64::from(pw) * u64::from(ph) * 3;
        MemoryBound {
            batches: (self.settings.prefetch as u64 + 2) * batch,
            decode: self.settings.workers.max(1) as u64 * per_worker,
            cache: self.shared.cache.memory_budget(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> LoaderStats {
        LoaderStats {
            decoded: self.shared.decoded.load(Ordering::Relaxed),
            cache_hits: self.shared.cache_hits.load(Ordering::Relaxed),
            skipped: self.skipped().len() as u64,
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }

    /// Every row skipped so far, by row.
    pub fn skipped(&self) -> Vec<SkipRecord> {
        lock(&self.shared.skipped).values().cloned().collect()
    }

    /// The settings.
    pub fn settings(&self) -> &LoaderSettings {
        &self.settings
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked holding the lock leaves consistent data (inserts are single calls).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn build(&self, request: Request, augment: Option<&Augment>, seed: u64) -> Batch {
        let per = 3 * self.pixels.width as usize * self.pixels.height as usize;
        let mut pixels = vec![0f32; request.indices.len() * per];
        let batch_no = request.batch_no;
        let ok: Vec<bool> = pixels
            .par_chunks_mut(per)
            .zip(request.indices.par_iter())
            .enumerate()
            .map(|(k, (out, &i))| {
                let mut rng = Rng::new(seed, &[AUG_STREAM, batch_no, k as u64]);
                self.write_image(i, augment, &mut rng, out)
            })
            .collect();
        Batch {
            batch_no,
            indices: request.indices,
            pixels,
            ok,
        }
    }

    /// Writes row `i` into `out`; false (and zeros) when it cannot be used.
    fn write_image(
        &self,
        i: usize,
        augment: Option<&Augment>,
        rng: &mut Rng,
        out: &mut [f32],
    ) -> bool {
        if lock(&self.skipped).contains_key(&i) {
            out.fill(0.0);
            return false;
        }
        if let Some(found) = self.cache.get(i) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            Augment::apply(augment, &found, &self.pixels, rng, out);
            return true;
        }
        match self.decode_prepared(i) {
            Ok(img) => {
                self.decoded.fetch_add(1, Ordering::Relaxed);
                Augment::apply(augment, &img, &self.pixels, rng, out);
                self.cache.put(i, img);
                true
            }
            Err(record) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "skipping {}:{}: {}",
                    record.path,
                    record.line,
                    record.reason
                );
                lock(&self.skipped).entry(i).or_insert(record);
                out.fill(0.0);
                false
            }
        }
    }

    fn decode_prepared(&self, i: usize) -> Result<RgbImage, SkipRecord> {
        let (w, h) = self.prepared;
        let img = decode_file(&self.paths[i], &self.limits, Some(w.max(h)))
            .map_err(|skip| SkipRecord::new(&self.paths[i], self.lines[i], &skip))?;
        Ok(prepare(&img, w, h, self.pad_to_square))
    }
}

/// The batches of one plan, in order. Counts the time the consumer waited for them.
pub struct Stream {
    rx: Option<Receiver<Batch>>,
    producer: Option<JoinHandle<()>>,
    waited: Duration,
    produced: Arc<AtomicU64>,
    consumed: u64,
}

impl Stream {
    /// Time spent waiting in [`Iterator::next`] for a batch not ready yet.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Batches made but not yet taken (at most `prefetch + 1`: queued plus one finished and
    /// waiting for a place in the queue).
    pub fn ahead(&self) -> u64 {
        self.produced.load(Ordering::Relaxed) - self.consumed
    }
}

impl Iterator for Stream {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let rx = self.rx.as_ref()?;
        let batch = match rx.try_recv() {
            Ok(b) => Some(b),
            Err(_) => {
                let start = Instant::now();
                let b = rx.recv().ok();
                self.waited += start.elapsed();
                b
            }
        };
        if batch.is_some() {
            self.consumed += 1;
        }
        batch
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Closing the queue makes the producer's next send fail; it stops after its batch.
        self.rx = None;
        if let Some(p) = self.producer.take() {
            let _ = p.join();
        }
    }
}
