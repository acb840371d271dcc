//! Experiment files: one TOML file = shared `[defaults]` + a list of `[[runs]]`.
//!
//! Each run is the deep merge of `[defaults]` and its own table (the run wins, tables merge key
//! by key), deserialised into a [`RunSpec`] with unknown keys rejected. Parsing keeps toml's
//! spans, so every error names `file:line:column`, the field and what is valid. `--set
//! KEY=VALUE` overrides ([`Experiment::load_with`]) merge over every run last, the same way.

pub mod device;
mod error;
mod loader;
mod merge;
mod overrides;
mod types;

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub use error::{Location, SpecError};
pub use loader::LoaderSpec;
pub use types::*;

/// The experiment file embedded in the binary: `runner` with no file runs it.
pub const DEMO_EXPERIMENT: &str = include_str!("../../../experiments/demo.toml");
/// The name the embedded experiment reports under.
pub const DEMO_PATH: &str = "experiments/demo.toml";

/// A parsed experiment file.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Experiment name (top-level `name`, default: the file stem).
    pub name: String,
    /// Free text shown in the results file.
    pub description: String,
    /// Where `<name>.md`, `.csv` and the plot go.
    pub results_dir: PathBuf,
    /// The file it was read from.
    pub path: PathBuf,
    /// The source text (kept for locating plugin-option errors and for hashing), and after it,
    /// as comments, the `--set` overrides: tracking stores and hashes what the runs were run with.
    pub source: String,
    /// The runs, defaults and overrides merged in.
    pub runs: Vec<RunSpec>,
    /// `[tracking]`, when the file has the table.
    pub tracking: Option<TrackingSpec>,
    /// The `--set KEY=VALUE` overrides, as given.
    pub overrides: Vec<String>,
    /// Every key the overrides set (dotted) with the span of its value, in order.
    set_spans: Vec<(String, std::ops::Range<usize>)>,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "name",
    "description",
    "results_dir",
    "tracking",
    "defaults",
    "runs",
];

impl Experiment {
    /// Reads and parses an experiment file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        Self::load_with(path, &[])
    }

    /// Reads and parses an experiment file with `--set KEY=VALUE` overrides (see
    /// [`Experiment::parse_with`]).
    pub fn load_with(path: &Path, overrides: &[String]) -> Result<Self, SpecError> {
        let source = std::fs::read_to_string(path).map_err(|e| SpecError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::parse_with(path, source, overrides)
    }

    /// Parses experiment text; `path` is used for messages, relative paths in the file are
    /// relative to the current directory (run `runner` from the project root).
    pub fn parse(path: &Path, source: String) -> Result<Self, SpecError> {
        Self::parse_with(path, source, &[])
    }

    /// [`Experiment::parse`] with `--set KEY=VALUE` overrides: each is the table its dotted key
    /// spells, merged over every run after `[defaults]` and the run's own table (so it wins over
    /// both), in order. Values are TOML; one that is not (`device=cpu`) is a string. Errors in
    /// them are located at their `--set`. With overrides the experiment is renamed
    /// `<name>+set-<hash of the overrides>`, and so are the runs' `output_dir`s unless an
    /// override sets it: their runs and results never land in the folders of the file's own.
    pub fn parse_with(
        path: &Path,
        mut source: String,
        overrides: &[String],
    ) -> Result<Self, SpecError> {
        let file_len = source.len();
        let set_ranges = overrides::append_trailer(path, &mut source, overrides)?;
        let at = |span: std::ops::Range<usize>| Location::new(path, &source, span);
        let doc = DeTable::parse(&source[..file_len]).map_err(|e| SpecError::Toml {
            at: at(e.span().unwrap_or(0..0)),
            message: e.message().to_owned(),
        })?;
        let root = doc.get_ref();

        for (key, value) in root.iter() {
            if !TOP_LEVEL_KEYS.contains(&key.get_ref().as_ref()) {
                return Err(SpecError::Field {
                    at: at(key.span()),
                    field: key.get_ref().to_string(),
                    message: format!(
                        "unknown top-level key; valid: {}",
                        TOP_LEVEL_KEYS.join(", ")
                    ),
                });
            }
            let _ = value;
        }
        // The overrides, after the file's own TOML errors.
        let sets = set_ranges
            .into_iter()
            .map(|range| overrides::parse(path, &source, range, TOP_LEVEL_KEYS))
            .collect::<Result<Vec<_>, _>>()?;
        let set_spans: Vec<(String, std::ops::Range<usize>)> =
            sets.iter().flat_map(|s| s.spans.iter().cloned()).collect();
        let set_span = |field: &str| {
            set_spans
                .iter()
                .rev()
                .find(|(key, _)| key == field)
                .map(|(_, span)| span.clone())
        };

        let string_field = |key: &str| -> Result<Option<String>, SpecError> {
            match root.get(key) {
                None => Ok(None),
                Some(v) => match v.get_ref() {
                    DeValue::String(s) => Ok(Some(s.to_string())),
                    other => Err(SpecError::Field {
                        at: at(v.span()),
                        field: key.to_owned(),
                        message: format!("expected a string, found {}", other.type_str()),
                    }),
                },
            }
        };
        let mut name = string_field("name")?.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "experiment".into())
        });
        let mut description = string_field("description")?.unwrap_or_default();
        let results_dir =
            PathBuf::from(string_field("results_dir")?.unwrap_or_else(|| "results".into()));

        let empty = Spanned::new(0..0, DeValue::Table(DeTable::new()));
        let defaults = root.get("defaults").unwrap_or(&empty);
        if !defaults.get_ref().is_table() {
            return Err(SpecError::Field {
                at: at(defaults.span()),
                field: "defaults".into(),
                message: "expected a table: [defaults]".into(),
            });
        }
        let runs_value = root.get("runs").ok_or_else(|| SpecError::Field {
            at: at(0..0),
            field: "runs".into(),
            message: "no runs: add at least one [[runs]] table".into(),
        })?;
        let DeValue::Array(runs_array) = runs_value.get_ref() else {
            return Err(SpecError::Field {
                at: at(runs_value.span()),
                field: "runs".into(),
                message: "expected an array of tables: [[runs]]".into(),
            });
        };

        let mut runs: Vec<RunSpec> = Vec::new();
        for (index, run) in runs_array.iter().enumerate() {
            if !run.get_ref().is_table() {
                return Err(SpecError::Field {
                    at: at(run.span()),
                    field: format!("runs[{index}]"),
                    message: "expected a table".into(),
                });
            }
            let mut merged = merge::deep_merge(defaults.clone(), run.clone());
            for set in &sets {
                merged = merge::overlay(merged, set.tree.clone());
            }
            if let Some((span, field, message)) = unused_schedule_option(&merged) {
                return Err(SpecError::Field {
                    at: at(span),
                    field: format!("runs[{index}].{field}"),
                    message,
                });
            }
            let de = toml::de::ValueDeserializer::from(merged);
            let spec: RunSpec = serde::Deserialize::deserialize(de).map_err(|e| {
                let span = e.span().unwrap_or_else(|| run.span());
                SpecError::Field {
                    at: at(span),
                    field: format!("runs[{index}]"),
                    message: e.message().to_owned(),
                }
            })?;
            spec.validate()
                .map_err(|(field, message)| SpecError::Field {
                    at: at(set_span(&field).unwrap_or_else(|| run.span())),
                    field: format!("runs[{index}] ({}).{field}", spec.name),
                    message,
                })?;
            if let Some(prev) = runs.iter().position(|r| r.name == spec.name) {
                return Err(SpecError::Field {
                    at: at(run.span()),
                    field: format!("runs[{index}].name"),
                    message: format!(
                        "run name `{}` is already used by runs[{prev}]; names must be unique",
                        spec.name
                    ),
                });
            }
            runs.push(spec);
        }
        if runs.is_empty() {
            return Err(SpecError::Field {
                at: at(runs_value.span()),
                field: "runs".into(),
                message: "no runs: add at least one [[runs]] table".into(),
            });
        }
        let tracking = match root.get("tracking") {
            None => None,
            Some(value) => {
                let de = toml::de::ValueDeserializer::from(value.clone());
                let spec: TrackingSpec =
                    serde::Deserialize::deserialize(de).map_err(|e| SpecError::Field {
                        at: at(e.span().unwrap_or_else(|| value.span())),
                        field: "tracking".into(),
                        message: e.message().to_owned(),
                    })?;
                spec.validate()
                    .map_err(|(field, message)| SpecError::Field {
                        at: at(value.span()),
                        field: format!("tracking.{field}"),
                        message,
                    })?;
                Some(spec)
            }
        };
        if !sets.is_empty() {
            let canonical: Vec<String> = sets.iter().map(|s| s.canonical.clone()).collect();
            let suffix = overrides::suffix(&canonical);
            name.push_str(&suffix);
            if set_span("output_dir").is_none() {
                for run in &mut runs {
                    run.output_dir = run.output_dir.take().map(|dir| with_suffix(dir, &suffix));
                }
            }
            let list: Vec<String> = overrides.iter().map(|o| format!("`--set {o}`")).collect();
            description = format!("{}\n\nRun with {}.", description.trim_end(), list.join(" "))
                .trim_start()
                .to_owned();
        }
        Ok(Self {
            name,
            description,
            results_dir,
            path: path.to_owned(),
            source,
            runs,
            tracking,
            overrides: overrides.to_vec(),
            set_spans,
        })
    }

    /// The location of a plugin option inside a run's options table, for error messages:
    /// the line of `field` within the table's span when found, else the table itself.
    pub fn locate_option(
        &self,
        options_span: &std::ops::Range<usize>,
        field: Option<&str>,
    ) -> Location {
        if let Some(span) = self.set_option_span(options_span, field) {
            return Location::new(&self.path, &self.source, span);
        }
        let mut span = options_span.clone();
        if let Some(field) = field
            && let Some(text) = self.source.get(span.clone())
            && let Some(offset) = find_key(text, field)
        {
            span = span.start + offset..span.start + offset + field.len();
        }
        Location::new(&self.path, &self.source, span)
    }

    /// The value a `--set` gave option `field` of the options table at `options_span` (a
    /// backbone's or head's: an override applies to every run alike). Without a field (the
    /// plugin did not say which), the last option a `--set` gave that table: the file's own
    /// options are taken to have passed before it was overridden.
    fn set_option_span(
        &self,
        options_span: &std::ops::Range<usize>,
        field: Option<&str>,
    ) -> Option<std::ops::Range<usize>> {
        let is_part = |part: &str| {
            self.runs.iter().any(|r| {
                let options = if part == "backbone" {
                    &r.backbone.options
                } else {
                    &r.head.options
                };
                options.span() == *options_span
            })
        };
        ["backbone", "head"]
            .into_iter()
            .filter(|part| is_part(part))
            .find_map(|part| {
                let table = format!("{part}.options");
                let wanted = |key: &str| match field {
                    Some(field) => {
                        key.strip_prefix(&table).and_then(|r| r.strip_prefix('.')) == Some(field)
                    }
                    None => key
                        .strip_prefix(&table)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.')),
                };
                self.set_spans
                    .iter()
                    .rev()
                    .find(|(k, _)| wanted(k))
                    .map(|(_, span)| span.clone())
            })
    }
}

/// `dir` with `suffix` appended to its last component (`runs/x` → `runs/x+set-…`).
fn with_suffix(dir: PathBuf, suffix: &str) -> PathBuf {
    match dir.file_name() {
        Some(last) => {
            let mut last = last.to_owned();
            last.push(suffix);
            dir.with_file_name(last)
        }
        None => dir.join(suffix.trim_start_matches('+')),
    }
}

/// Byte offset of `key` used as a TOML key (followed by optional spaces and `=`) in `text`.
fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(pos) = text[from..].find(key) {
        let start = from + pos;
        let before_ok = start == 0
            || !text.as_bytes()[start - 1].is_ascii_alphanumeric()
                && text.as_bytes()[start - 1] != b'_';
        let rest = text[start + key.len()..].trim_start_matches([' ', '\t']);
        if before_ok && rest.starts_with('=') {
            return Some(start);
        }
        from = start + key.len();
    }
    None
}

/// A `schedule` option that the run's schedule does not read (`factor` with
/// `name = "constant"`): a mistake as likely as a typo, so an error too. Returns the span of the
/// option, its field and the message.
fn unused_schedule_option(
    run: &Spanned<DeValue<'_>>,
) -> Option<(std::ops::Range<usize>, String, String)> {
    let DeValue::Table(run) = run.get_ref() else {
        return None;
    };
    let DeValue::Table(schedule) = run.get("schedule")?.get_ref() else {
        return None;
    };
    let name = schedule
        .get("name")
        .and_then(|n| n.get_ref().as_str())
        .unwrap_or("plateau");
    if name != "constant" {
        return None;
    }
    let (key, value) = schedule
        .iter()
        .filter(|(k, _)| k.get_ref() != "name")
        .min_by_key(|(_, v)| v.span().start)?;
    Some((
        value.span(),
        format!("schedule.{}", key.get_ref()),
        format!(
            "`{}` is an option of the `plateau` schedule; this run's schedule is `constant`, which \
             never changes the learning rate: remove `{}` or set `schedule.name = \"plateau\"`",
            key.get_ref(),
            key.get_ref()
        ),
    ))
}

#[cfg(test)]
mod overrides_tests;
#[cfg(test)]
mod tests;
