//! Pretrained weights: reading the files people have (safetensors, PyTorch checkpoints), mapping
//! a reference's names onto a plugin's with the plugin's [`NamingScheme`]s, and one report of
//! what was applied, missing, unexpected and mis-shaped.
//!
//! Names are compared in PyTorch's conventions on both sides: the model's own layout is
//! collected through burn-store's burn→PyTorch adapter (norm `gamma`/`beta` read as
//! `weight`/`bias`, linear weights as `[out, in]`), and applied back through the PyTorch→burn
//! one, so a scheme never deals with burn's internal names.

mod file;
mod resample;
mod scheme;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use crate::TrainPart;
use crate::burn::store::bridge;

pub use file::{CONTAINER_KEYS, FileTensor, WeightsFile, read_weights};
pub use resample::bicubic_grid;
pub use scheme::NamingScheme;

/// File tensors that are bookkeeping, not weights (batch-norm step counters, Hugging Face's
/// position id buffers): left out of matching and only counted in the report.
const BOOKKEEPING: [&str; 2] = ["num_batches_tracked", "position_ids"];

fn is_bookkeeping(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    BOOKKEEPING.contains(&last)
}

/// A tensor's name and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name (the model's own, in PyTorch's conventions).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
}

/// A tensor of the file whose shape differs from the model's tensor of the same (mapped) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisShaped {
    /// The model's name.
    pub name: String,
    /// The name in the file.
    pub file_name: String,
    /// The model's shape.
    pub expected: Vec<usize>,
    /// The file's shape.
    pub found: Vec<usize>,
}

/// How a file's tensors fit a model under one naming scheme.
#[derive(Debug, Clone)]
pub struct Matching {
    /// The scheme.
    pub scheme: String,
    /// Model tensors the file provides with the right shape.
    pub applied: Vec<String>,
    /// Model tensors the file lacks.
    pub missing: Vec<TensorInfo>,
    /// File tensors (by their name in the file) the model has no place for.
    pub unexpected: Vec<TensorInfo>,
    /// Same name, other shape.
    pub mis_shaped: Vec<MisShaped>,
    /// Bookkeeping tensors left out (`num_batches_tracked`, ...).
    pub ignored: usize,
    /// Set when the scheme's transforms failed on this file.
    pub transform_error: Option<String>,
}

impl Matching {
    /// Whether nothing is missing or mis-shaped.
    pub fn is_complete(&self) -> bool {
        self.transform_error.is_none() && self.missing.is_empty() && self.mis_shaped.is_empty()
    }

    /// The tensors to apply, mapped to the model's names.
    fn tensors(
        scheme: &NamingScheme,
        file: &WeightsFile,
        layout: &[TensorInfo],
    ) -> Result<Vec<FileTensor>, String> {
        // By reference: the scheme copies each tensor once, renamed.
        scheme.apply_for(
            file.tensors.iter().filter(|t| !is_bookkeeping(&t.name)),
            layout,
        )
    }
}

/// Matches a file against a model layout (from [`TrainPart::tensor_layout`]) under `scheme`.
pub fn match_file(file: &WeightsFile, scheme: &NamingScheme, layout: &[TensorInfo]) -> Matching {
    let ignored = file
        .tensors
        .iter()
        .filter(|t| is_bookkeeping(&t.name))
        .count();
    let mut matching = Matching {
        scheme: scheme.name().to_owned(),
        applied: Vec::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        mis_shaped: Vec::new(),
        ignored,
        transform_error: None,
    };
    let mapped = match Matching::tensors(scheme, file, layout) {
        Ok(mapped) => mapped,
        Err(e) => {
            matching.transform_error = Some(e);
            matching.missing = layout.to_vec();
            return matching;
        }
    };
    let by_name: BTreeMap<&str, &FileTensor> =
        mapped.iter().map(|t| (t.name.as_str(), t)).collect();
    let model: BTreeSet<&str> = layout.iter().map(|t| t.name.as_str()).collect();
    for want in layout {
        match by_name.get(want.name.as_str()) {
            Some(t) if t.shape == want.shape => matching.applied.push(want.name.clone()),
            Some(t) => matching.mis_shaped.push(MisShaped {
                name: want.name.clone(),
                file_name: t.source.clone(),
                expected: want.shape.clone(),
                found: t.shape.clone(),
            }),
            None => matching.missing.push(want.clone()),
        }
    }
    for t in &mapped {
        if !model.contains(t.name.as_str()) {
            matching.unexpected.push(TensorInfo {
                name: t.source.clone(),
                shape: t.shape.clone(),
            });
        }
    }
    matching
}

/// What one load did, printed once per load.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: String,
    /// The key its weights were nested under.
    pub container: Option<String>,
    /// What loaded into what (`backbone efficientnet/lite0`).
    pub target: String,
    /// Whether a partial load was asked for.
    pub partial: bool,
    /// The outcome under the chosen scheme.
    pub matching: Matching,
}

/// At most this many names of each kind in a report line; `runner weights inspect` lists all.
const SHOWN: usize = 12;

fn list<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    let mut out: Vec<String> = items.iter().take(SHOWN).map(show).collect();
    if items.len() > SHOWN {
        out.push(format!("... and {} more", items.len() - SHOWN));
    }
    out.join(", ")
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.matching;
        write!(
            f,
            "pretrained {} ({}{}) into {} by scheme `{}`: {} tensors applied, {} missing, {} \
             unexpected, {} mis-shaped, {} bookkeeping ignored",
            self.path.display(),
            self.format,
            self.container
                .as_deref()
                .map(|c| format!(", under `{c}`"))
                .unwrap_or_default(),
            self.target,
            m.scheme,
            m.applied.len(),
            m.missing.len(),
            m.unexpected.len(),
            m.mis_shaped.len(),
            m.ignored,
        )?;
        if let Some(e) = &m.transform_error {
            write!(f, "\n  transform failed: {e}")?;
        }
        let shape = |s: &[usize]| format!("{s:?}");
        if !m.missing.is_empty() {
            write!(
                f,
                "\n  missing: {}",
                list(&m.missing, |t| format!("{} {}", t.name, shape(&t.shape)))
            )?;
        }
        if !m.mis_shaped.is_empty() {
            write!(
                f,
                "\n  mis-shaped: {}",
                list(&m.mis_shaped, |t| format!(
                    "{} expects {}, file's {} has {}",
                    t.name,
                    shape(&t.expected),
                    t.file_name,
                    shape(&t.found)
                ))
            )?;
        }
        if !m.unexpected.is_empty() {
            write!(
                f,
                "\n  unexpected (not loaded): {}",
                list(&m.unexpected, |t| format!("{} {}", t.name, shape(&t.shape)))
            )?;
        }
        Ok(())
    }
}

/// Why pretrained weights did not load.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file cannot be read.
    #[error("{}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The run names a scheme the plugin does not have.
    #[error("no naming scheme `{asked}` for {target}; it has: {available}")]
    UnknownScheme {
        /// What was asked for.
        asked: String,
        /// The plugin.
        target: String,
        /// Its schemes.
        available: String,
    },
    /// No scheme maps a single tensor of the file onto the model.
    #[error(
        "{}: no naming scheme of {target} fits this file (tried {tried}); \
         `runner weights inspect {}` lists its tensors and what they fit",
        path.display(),
        path.display()
    )]
    NoMatch {
        /// The file.
        path: PathBuf,
        /// The plugin.
        target: String,
        /// The schemes tried, with their counts.
        tried: String,
    },
    /// Tensors are missing or mis-shaped and the run did not ask for a partial load.
    #[error(
        "{0}\n  set `pretrained_partial = true` to load what fits and keep the rest as \
         initialised"
    )]
    Incomplete(Box<LoadReport>),
    /// burn-store refused tensors the matching accepted (a bug).
    #[error("applying the weights failed: {0}")]
    Apply(String),
}

/// Loads `file` into `part` with the best of `schemes` (the plugin's own names are always
/// tried first), or the one named by `choice`. Missing or mis-shaped tensors are an error unless
/// `partial`.
pub fn load_pretrained(
    part: &mut dyn TrainPart,
    target: &str,
    file: &WeightsFile,
    schemes: &[NamingScheme],
    choice: Option<&str>,
    partial: bool,
) -> Result<LoadReport, WeightsError> {
    let own = NamingScheme::new(NamingScheme::OWN, "the plugin's own names");
    let all: Vec<&NamingScheme> = std::iter::once(&own).chain(schemes).collect();
    let candidates: Vec<&NamingScheme> = match choice {
        Some(asked) => vec![*all.iter().find(|s| s.name() == asked).ok_or_else(|| {
            WeightsError::UnknownScheme {
                asked: asked.to_owned(),
                target: target.to_owned(),
                available: all.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
            }
        })?],
        None => all,
    };
    let layout = part.tensor_layout();
    let mut best: Option<(&NamingScheme, Matching)> = None;
    let mut tried = Vec::new();
    for scheme in candidates {
        let m = match_file(file, scheme, &layout);
        tried.push(format!(
            "`{}`: {} of {}",
            scheme.name(),
            m.applied.len(),
            layout.len()
        ));
        if best
            .as_ref()
            .is_none_or(|(_, b)| m.applied.len() > b.applied.len())
        {
            best = Some((scheme, m));
        }
    }
    let (scheme, matching) = best.expect("at least one scheme");
    if matching.applied.is_empty() {
        return Err(WeightsError::NoMatch {
            path: file.path.clone(),
            target: target.to_owned(),
            tried: tried.join(", "),
        });
    }
    let report = LoadReport {
        path: file.path.clone(),
        format: file.format.clone(),
        container: file.container.clone(),
        target: target.to_owned(),
        partial,
        matching,
    };
    if !partial && !report.matching.is_complete() {
        return Err(WeightsError::Incomplete(Box::new(report)));
    }
    let wanted: BTreeSet<&str> = report.matching.applied.iter().map(String::as_str).collect();
    let tensors = Matching::tensors(scheme, file, &layout).map_err(WeightsError::Apply)?;
    let pack = tensors
        .into_iter()
        .filter(|t| wanted.contains(t.name.as_str()))
        .map(|t| bridge::from_data(t.data, t.name, None))
        .collect();
    let applied = part
        .apply_tensors(pack)
        .map_err(|e| WeightsError::Apply(e.to_string()))?;
    if applied != wanted.len() {
        return Err(WeightsError::Apply(format!(
            "{applied} tensors applied where {} matched",
            wanted.len()
        )));
    }
    Ok(report)
}
