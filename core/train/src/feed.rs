//! The data side of a run: the table, its split, the header check of every image, the
//! streaming loader, and the plans of batches it is asked for (training in epochs, evaluation
//! in order).

use std::path::{Path, PathBuf};

use rateme_data::{
    self as data, CacheSettings, DataError, DecodeLimits, Loader, LoaderSettings, Request,
    SkipRecord,
};
use rateme_sdk::InputSpec;
use rateme_spec::{LoaderSpec, RunSpec};
use rateme_util::rng::Rng;

const STREAM_ORDER: u64 = 0x0_12de;

/// A run's data: targets and weights per row, the split (unusable rows left out) and the loader.
pub(crate) struct Feed {
    pub loader: Loader,
    pub targets: Vec<f32>,
    pub weights: Vec<f32>,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    /// Rows in the table.
    pub rows: usize,
    /// Where the skipped rows are listed.
    pub skipped_list: PathBuf,
}

/// The loader's settings from the run's `[data.loader]`.
pub(crate) fn loader_settings(spec: &LoaderSpec) -> LoaderSettings {
    let workers = spec.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(16)
    });
    let cache = match spec.cache.as_str() {
        "off" => CacheSettings::Off,
        "disk" => CacheSettings::Disk {
            dir: spec.cache_dir.clone().unwrap_or_else(default_cache_dir),
        },
        _ => CacheSettings::Ram {
            bytes: spec.cache_mb * 1024 * 1024,
        },
    };
    LoaderSettings {
        workers,
        prefetch: spec.prefetch,
        cache,
        limits: DecodeLimits {
            max_pixels: (spec.max_megapixels * 1e6) as u64,
            ..DecodeLimits::default()
        },
    }
}

fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("rateme").join("pixels")
}

/// Reads the table, splits it, checks every image's header (listing the unusable ones in
/// `<run dir>/skipped.csv` and stopping when too few are usable) and starts the loader.
pub(crate) fn open(spec: &RunSpec, input: &InputSpec, run_dir: &Path) -> Result<Feed, DataError> {
    let d = &spec.data;
    if let Some(synth) = &d.synthetic
        && data::synthetic::ensure(synth, &d.table)?
    {
        tracing::info!(table = %d.table.display(), "generated the synthetic dataset");
    }
    let images_dir = d
        .images
        .clone()
        .unwrap_or_else(|| d.table.parent().map(Path::to_path_buf).unwrap_or_default());
    let samples = data::read_table(&d.table, &images_dir)?;
    // The split is made over every row, bad files included, so fixing or breaking a file
    // never moves other rows across it.
    let split = data::split(&samples, d.val_fraction, d.split_seed);
    let settings = loader_settings(&d.loader);
    let probe = data::probe(&samples, &settings.limits, settings.workers);
    let skipped: Vec<SkipRecord> = probe.skipped.values().cloned().collect();
    let skipped_list = run_dir.join("skipped.csv");
    data::write_skipped(&skipped_list, &skipped)?;
    if !skipped.is_empty() {
        tracing::warn!(
            "{} of {} images cannot be used and are left out; listed in {}",
            skipped.len(),
            samples.len(),
            skipped_list.display()
        );
    }
    data::check_valid_fraction(
        &d.table,
        samples.len(),
        &skipped,
        d.loader.min_valid_fraction,
        &skipped_list,
    )?;
    let usable = |rows: Vec<usize>| -> Vec<usize> {
        rows.into_iter()
            .filter(|i| !probe.skipped.contains_key(i))
            .collect()
    };
    let (train, val) = (usable(split.train), usable(split.val));
    let prepared = data::prepared_size(d, (input.width, input.height));
    let loader = Loader::new(
        &samples,
        data::pixel_spec(input),
        prepared,
        d.pad_to_square,
        settings,
        probe.skipped,
        probe.largest_pixels,
    )?;
    Ok(Feed {
        loader,
        targets: samples.iter().map(|s| s.target).collect(),
        weights: samples.iter().map(|s| s.weight).collect(),
        train,
        val,
        rows: samples.len(),
        skipped_list,
    })
}

/// Where training stands in its epochs: what the checkpoint keeps to continue the same order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor {
    pub epoch: u64,
    pub pos: usize,
    pub order: Vec<usize>,
}

impl Cursor {
    /// The start of epoch 0.
    pub fn start(train: &[usize], seed: u64) -> Self {
        Self {
            epoch: 0,
            pos: 0,
            order: epoch_order(train, seed, 0),
        }
    }

    /// The next batch's rows: the next `batch_size` of this epoch's order, or the start of the
    /// next epoch's when fewer are left (the remainder is dropped, like `drop_last`).
    pub fn take(&mut self, train: &[usize], seed: u64, batch_size: usize) -> Vec<usize> {
        if self.pos + batch_size > self.order.len() {
            self.epoch += 1;
            self.order = epoch_order(train, seed, self.epoch);
            self.pos = 0;
        }
        let rows = self.order[self.pos..self.pos + batch_size].to_vec();
        self.pos += batch_size;
        rows
    }
}

fn epoch_order(train: &[usize], seed: u64, epoch: u64) -> Vec<usize> {
    let mut order = train.to_vec();
    Rng::new(seed, &[STREAM_ORDER, epoch]).shuffle(&mut order);
    order
}

/// The training batches `first..=last` from `cursor` on: the loader runs ahead along it.
pub(crate) fn train_plan(
    mut cursor: Cursor,
    train: Vec<usize>,
    seed: u64,
    batch_size: usize,
    first: u64,
    last: u64,
) -> impl Iterator<Item = Request> + Send + 'static {
    (first..=last).map(move |batch_no| Request {
        batch_no,
        indices: cursor.take(&train, seed, batch_size),
    })
}

/// The validation rows in order, `batch_size` at a time.
pub(crate) fn eval_plan(val: &[usize], batch_size: usize) -> Vec<Request> {
    val.chunks(batch_size)
        .enumerate()
        .map(|(k, rows)| Request {
            batch_no: k as u64,
            indices: rows.to_vec(),
        })
        .collect()
}
