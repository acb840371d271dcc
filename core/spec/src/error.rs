use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A place in an experiment file: `file:line:column` (1-based), plus the source line for context.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The experiment file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The text of that line.
    pub line_text: String,
}

impl Location {
    /// Turns a byte span of `source` into a location.
    pub fn new(path: &Path, source: &str, span: std::ops::Range<usize>) -> Self {
        let start = span.start.min(source.len());
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
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
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
}

impl SpecError {
    /// Where the error is, when it is in the file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            SpecError::Io { .. } => None,
            SpecError::Toml { at, .. } | SpecError::Field { at, .. } => Some(at),
        }
    }

    /// The error with the offending line and a caret under the column (cargo style).
    pub fn render(&self) -> String {
        let mut out = format!("error: {self}");
        if let Some(at) = self.location()
            && !at.line_text.is_empty()
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
