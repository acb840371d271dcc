//! The training loop emits events; sinks (CSV file, progress display, ...) listen. A new sink
//! touches no loop code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// One evaluation, as written to `metrics.csv` (RateMeAI's losses file plus MAE, ρ and time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Training batches done.
    pub batch: u64,
    /// Learning rate used for the batches since the previous evaluation.
    pub lr: f64,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f64,
    /// Validation MSE.
    pub val_loss: f64,
    /// Validation MAE.
    pub val_mae: f64,
    /// Validation Spearman ρ.
    pub val_spearman: f64,
    /// Seconds of training so far (resumes included).
    pub elapsed_s: f64,
}

/// What the loop reports.
#[derive(Debug)]
pub enum Event<'a> {
    /// The run starts (or resumes) at `start` of `total` batches.
    Started {
        run: &'a str,
        start: u64,
        total: u64,
        /// The device it trains on.
        device: &'a str,
    },
    /// One training batch finished.
    Batch { batch: u64, loss: f64, lr: f64 },
    /// An evaluation finished.
    Evaluated(&'a EvalRecord),
    /// A checkpoint was written after `batch` batches.
    Checkpointed { batch: u64 },
    /// The run finished all its batches (its summary is written).
    Finished(&'a super::RunSummary),
    /// The user stopped the run (Ctrl-C, SIGTERM) after `batch` batches; a checkpoint of that
    /// batch is written, so `--resume` continues it.
    Interrupted { batch: u64 },
    /// The run stopped on an error.
    Failed { message: &'a str },
}

/// A listener.
pub trait Sink {
    /// Handles one event. An error stops the run (a results file that cannot be written is
    /// worth stopping for).
    fn on_event(&mut self, event: &Event<'_>) -> std::io::Result<()>;
}

/// Appends every evaluation to `metrics.csv` (header written when the file is new).
pub struct CsvSink {
    path: PathBuf,
}

/// The CSV header of `metrics.csv`.
pub const CSV_HEADER: &str = "batch,lr,train_loss,val_loss,val_mae,val_spearman,elapsed_s";

impl CsvSink {
    /// A sink writing `path`, first rewritten (atomically) to hold exactly `history`: what a
    /// resumed run had at its checkpoint, nothing that happened after it.
    pub fn new(path: PathBuf, history: &[EvalRecord]) -> std::io::Result<Self> {
        let mut text = format!("{CSV_HEADER}\n");
        for r in history {
            text.push_str(&csv_line(r));
        }
        rateme_util::fsutil::write_atomic(&path, text.as_bytes())?;
        Ok(Self { path })
    }
}

fn csv_line(r: &EvalRecord) -> String {
    format!(
        "{},{:e},{:.6},{:.6},{:.6},{:.6},{:.2}\n",
        r.batch, r.lr, r.train_loss, r.val_loss, r.val_mae, r.val_spearman, r.elapsed_s
    )
}

impl Sink for CsvSink {
    fn on_event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        if let Event::Evaluated(r) = event {
            let mut f = std::fs::OpenOptions::new().append(true).open(&self.path)?;
            f.write_all(csv_line(r).as_bytes())?;
            f.sync_data()?;
        }
        Ok(())
    }
}

/// Progress: a bar with batches/s, ETA and the last losses on a terminal; plain periodic lines
/// (every evaluation, at most every 30 s otherwise) when stderr is not a terminal.
pub struct ProgressSink {
    bar: Option<ProgressBar>,
    run: String,
    total: u64,
    start: u64,
    started: Instant,
    last_line: Instant,
    last_loss: f64,
    last_eval: Option<EvalRecord>,
}

impl ProgressSink {
    /// A sink that picks the bar or plain lines by whether stderr is a terminal.
    pub fn new() -> Self {
        Self::with_terminal(std::io::stderr().is_terminal())
    }

    /// A sink with the display chosen explicitly.
    pub fn with_terminal(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Self {
            bar,
            run: String::new(),
            total: 0,
            start: 0,
            started: Instant::now(),
            last_line: Instant::now(),
            last_loss: f64::NAN,
            last_eval: None,
        }
    }

    fn message(&self) -> String {
        let mut m = format!("loss {:.4}", self.last_loss);
        if let Some(e) = &self.last_eval {
            m.push_str(&format!(
                " | val loss {:.4} mae {:.4} ρ {:.3} lr {:.1e}",
                e.val_loss, e.val_mae, e.val_spearman, e.lr
            ));
        }
        m
    }

    fn plain_line(&mut self, batch: u64) {
        let done = batch.saturating_sub(self.start);
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let eta = (self.total.saturating_sub(batch)) as f64 / rate.max(1e-9);
        eprintln!(
            "[{}] batch {batch}/{} {:.2} batches/s ETA {:.0}s {}",
            self.run,
            self.total,
            rate,
            eta,
            self.message()
        );
        self.last_line = Instant::now();
    }
}

impl Default for ProgressSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for ProgressSink {
    fn on_event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::Started {
                run, start, total, ..
            } => {
                self.run = (*run).to_owned();
                self.total = *total;
                self.start = *start;
                self.started = Instant::now();
                self.last_line = Instant::now();
                if let Some(bar) = &self.bar {
                    bar.set_prefix(self.run.clone());
                    bar.set_length(*total);
                    bar.set_position(*start);
                    bar.reset_eta();
                }
            }
            Event::Batch { batch, loss, .. } => {
                self.last_loss = *loss;
                match &self.bar {
                    Some(bar) => {
                        bar.set_position(*batch);
                        bar.set_message(self.message());
                    }
                    None if self.last_line.elapsed() > Duration::from_secs(30) => {
                        self.plain_line(*batch)
                    }
                    None => {}
                }
            }
            Event::Evaluated(record) => {
                self.last_eval = Some((*record).clone());
                match &self.bar {
                    Some(bar) => bar.set_message(self.message()),
                    None => self.plain_line(record.batch),
                }
            }
            Event::Checkpointed { .. } => {}
            Event::Finished(_) | Event::Interrupted { .. } | Event::Failed { .. } => {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
            }
        }
        Ok(())
    }
}
