//! `--set KEY=VALUE`: run keys given on the command line, over every run's own values.
//!
//! An override is the table its dotted key spells (`backbone.options.input_size=64` is
//! `{ backbone = { options = { input_size = 64 } } }`), merged over each run after `[defaults]`
//! and the run's own table, the way a run merges over `[defaults]` ([`crate::merge::overlay`]).
//! The overrides are appended to the experiment's source as comments (the trailer), so their
//! values carry spans like the file's and an error in one is located at its `--set`.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::{Location, SpecError};

/// First line of the trailer.
const TRAILER: &str = "\n# runner --set (the command line's, over every run's values):\n";
/// Start of each override's line in the trailer.
const LINE: &str = "# --set ";

/// Appends the trailer of `args` to `source`; returns the byte range of each argument in it.
/// An argument must be one line.
pub(crate) fn append_trailer(
    path: &Path,
    source: &mut String,
    args: &[String],
) -> Result<Vec<Range<usize>>, SpecError> {
    if let Some((i, arg)) = args
        .iter()
        .enumerate()
        .find(|(_, a)| a.contains(['\n', '\r']))
    {
        return Err(SpecError::Set {
            at: Location::command_line(path, i + 1, 1, arg),
            message: "give each --set on one line".into(),
        });
    }
    if args.is_empty() {
        return Ok(Vec::new());
    }
    source.push_str(TRAILER);
    let mut ranges = Vec::with_capacity(args.len());
    for arg in args {
        source.push_str(LINE);
        ranges.push(source.len()..source.len() + arg.len());
        source.push_str(arg);
        source.push('\n');
    }
    Ok(ranges)
}

/// Where byte `start` of `source` is when it lies in the trailer: (1-based number of the
/// override, 1-based column in it, the override's text).
pub(crate) fn locate(source: &str, start: usize) -> Option<(usize, usize, &str)> {
    let body_start = source.rfind(TRAILER)? + TRAILER.len();
    if start < body_start || !source.is_char_boundary(start) {
        return None;
    }
    let body = &source[body_start..];
    if !body.lines().all(|l| l.starts_with(LINE)) {
        return None;
    }
    let before = &body[..start - body_start];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let number = before.matches('\n').count() + 1;
    let text = body[line_start..].lines().next().unwrap_or("");
    let arg = text.strip_prefix(LINE).unwrap_or(text);
    let column = before[line_start..]
        .chars()
        .count()
        .saturating_sub(LINE.len())
        + 1;
    Some((number, column, arg))
}

/// One parsed `--set`.
pub(crate) struct Override<'i> {
    /// The table it stands for (`{ backbone = { options = { input_size = 64 } } }`).
    pub tree: Spanned<DeValue<'i>>,
    /// Every key it sets, dotted from the run's root, with the span of its value: the key
    /// itself and, for a table value, the keys inside.
    pub spans: Vec<(String, Range<usize>)>,
    /// `KEY=VALUE` with the value in one canonical spelling (`device=cpu` and `device="cpu"`
    /// alike), for the experiment's name.
    pub canonical: String,
}

/// Parses the override at `range` of `source` (inside the trailer). A value that is not TOML is
/// a string (`device=cpu`), unless it starts like a TOML string, array or table.
pub(crate) fn parse<'i>(
    path: &Path,
    source: &'i str,
    range: Range<usize>,
    top_level: &[&str],
) -> Result<Override<'i>, SpecError> {
    let text = &source[range.clone()];
    let set_error = |offset: usize, message: String| SpecError::Set {
        at: Location::new(path, source, range.start + offset..range.start + offset),
        message,
    };
    let Some(eq) = text.find('=') else {
        return Err(set_error(
            0,
            "expected KEY=VALUE, e.g. `--set batches=2` or `--set backbone.options.input_size=64`"
                .into(),
        ));
    };
    let mut segments: Vec<(&'i str, Range<usize>)> = Vec::new();
    let mut offset = 0;
    for raw in text[..eq].split('.') {
        let lead = raw.len() - raw.trim_start().len();
        let key = raw.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(set_error(
                offset + lead,
                format!(
                    "`{}` is not a key path: give bare keys (letters, digits, `_`, `-`) joined by \
                     `.`, e.g. `backbone.options.input_size`",
                    text[..eq].trim()
                ),
            ));
        }
        let start = range.start + offset + lead;
        segments.push((key, start..start + key.len()));
        offset += raw.len() + 1;
    }
    let first = segments[0].0;
    if first == "name" {
        return Err(set_error(
            0,
            "a run's name cannot be set for every run (names are unique); pick runs with --run NAME"
                .into(),
        ));
    }
    if top_level.contains(&first) {
        return Err(set_error(
            0,
            format!(
                "`{first}` is a top-level key of the experiment file; --set sets the keys of every \
                 run (those of [defaults]), e.g. `--set batches=2`"
            ),
        ));
    }

    let raw_value = &text[eq + 1..];
    let value_text = raw_value.trim();
    let value_start = range.start + eq + 1 + (raw_value.len() - raw_value.trim_start().len());
    let value_span = value_start..value_start + value_text.len();
    if value_text.is_empty() {
        return Err(set_error(
            eq + 1,
            "no value after `=`: give a TOML value (`2`, `1e-3`, `true`, `\"text\"`, `[1, 2]`, \
             `{ a = 1 }`) or a bare word (a string)"
                .into(),
        ));
    }
    let value = match DeValue::parse(value_text) {
        Ok(v) => shift(v, value_start),
        Err(e) if value_text.starts_with(['"', '\'', '[', '{']) => {
            let span = e.span().map_or(value_span.clone(), |s| {
                value_start + s.start..value_start + s.end
            });
            return Err(SpecError::Toml {
                at: Location::new(path, source, span),
                message: e.message().to_owned(),
            });
        }
        Err(_) => Spanned::new(
            value_span.clone(),
            DeValue::String(Cow::Borrowed(value_text)),
        ),
    };

    let key = segments
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(".");
    let mut spans = Vec::new();
    record(&key, &value, &mut spans);
    let canonical = format!("{key}={}", canonical(&value));
    let mut tree = value;
    for (i, (key, span)) in segments.iter().enumerate().rev() {
        let mut table = DeTable::new();
        table.insert(Spanned::new(span.clone(), Cow::Borrowed(*key)), tree);
        let start = if i == 0 { range.start } else { span.start };
        tree = Spanned::new(start..value_span.end, DeValue::Table(table));
    }
    Ok(Override {
        tree,
        spans,
        canonical,
    })
}

/// The value with every span (its own, its keys', its items') moved by `by` bytes.
fn shift(value: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let moved = |r: Range<usize>| r.start + by..r.end + by;
    let span = moved(value.span());
    let inner = match value.into_inner() {
        DeValue::Array(items) => DeValue::Array(items.into_iter().map(|v| shift(v, by)).collect()),
        DeValue::Table(table) => {
            let mut out = DeTable::new();
            for (k, v) in table {
                out.insert(Spanned::new(moved(k.span()), k.into_inner()), shift(v, by));
            }
            DeValue::Table(out)
        }
        other => other,
    };
    Spanned::new(span, inner)
}

/// Records `path` and, inside a table, every key under it.
fn record(path: &str, value: &Spanned<DeValue<'_>>, spans: &mut Vec<(String, Range<usize>)>) {
    spans.push((path.to_owned(), value.span()));
    if let DeValue::Table(table) = value.get_ref() {
        for (k, v) in table.iter() {
            record(&format!("{path}.{}", k.get_ref()), v, spans);
        }
    }
}

/// One spelling of a value (JSON of what it deserialises to).
fn canonical(value: &Spanned<DeValue<'_>>) -> String {
    let de = toml::de::ValueDeserializer::from(value.clone());
    <serde_json::Value as serde::Deserialize>::deserialize(de)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The suffix of an experiment run with `--set`s: `+set-` and a hash of the canonical
/// overrides, in order.
pub(crate) fn suffix(canonical: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.join("\n").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("+set-{:08x}", h >> 32)
}
