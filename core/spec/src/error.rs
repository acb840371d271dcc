use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A place in an experiment file: `file:line:column` (1-based), plus the source line for context.
/// Or a `--set KEY=VALUE` override of the command line, shown as `--set KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The experiment file.
    pub path: PathBuf,
    /// 1-based line (for an override: its position among the `--set`s).
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The text of that line (for an override: `KEY=VALUE`).
    pub line_text: String,
    /// The place is a `--set` override, not the file.
    pub command_line: bool,
}

impl Location {
    /// Turns a byte span of `source` into a location. Spans in the `--set` trailer that
    /// [`crate::Experiment`] appends to its source are located at their override.
    pub fn new(path: &Path, source: &str, span: std::ops::Range<usize>) -> Self {
        let start = span.start.min(source.len());
        if let Some((line, column, arg)) = crate::overrides::locate(source, start) {
            return Self::command_line(path, line, column, arg);
        }
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        let line_text = source[line_start..].lines().next().unwrap_or("").to_owned();
        Self {
            path: path.to_owned(),
            line,
            column,
            line_text,
            command_line: false,
        }
    }

    /// The `line`-th `--set` override, `arg` (`KEY=VALUE`), at `column`.
    pub(crate) fn command_line(path: &Path, line: usize, column: usize, arg: &str) -> Self {
        Self {
            path: path.to_owned(),
            line,
            column,
            line_text: arg.replace('\n', "\\n").replace('\r', "\\r"),
            command_line: true,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.command_line {
            write!(f, "--set {}", self.line_text)
        } else {
            write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
        }
    }
}

/// Everything that can be wrong with an experiment file.
#[derive(Debug, Error)]
pub enum SpecError {
    /// The file cannot be read.
    #[error("{}: cannot read experiment file: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// Not valid TOML.
    #[error("{at}: invalid TOML: {message}")]
    Toml { at: Location, message: String },
    /// Valid TOML, wrong content.
    #[error("{at}: {field}: {message}")]
    Field {
        at: Location,
        field: String,
        message: String,
    },
    /// A `--set` that is not `KEY=VALUE` or names no run key.
    #[error("{at}: {message}")]
    Set { at: Location, message: String },
}

impl SpecError {
    /// Where the error is, when it is in the file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            SpecError::Io { .. } => None,
            SpecError::Toml { at, .. }
            | SpecError::Field { at, .. }
            | SpecError::Set { at, .. } => Some(at),
        }
    }

    /// The error with the offending line and a caret under the column (cargo style); one line
    /// for a `--set` (the message shows it).
    pub fn render(&self) -> String {
        let mut out = format!("error: {self}");
        if let Some(at) = self.location()
            && !at.line_text.is_empty()
            && !at.command_line
        {
            let num = at.line.to_string();
            let pad = " ".repeat(num.len());
            out.push_str(&format!(
                "\n{pad} |\n{num} | {}\n{pad} | {}^",
                at.line_text,
                " ".repeat(at.column.saturating_sub(1))
            ));
        }
        out
    }
}
