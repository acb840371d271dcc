use thiserror::Error;

/// What a plugin reports back to the runner.
#[derive(Debug, Error)]
pub enum PluginError {
    /// The options table of a run does not fit the plugin's options struct.
    /// `field` is the offending key when serde names one.
    #[error("{message}")]
    Options {
        message: String,
        field: Option<String>,
    },
    /// The plugin cannot be built as asked (bad combination of options, wrong input size, ...).
    #[error("{0}")]
    Build(String),
    /// Saving or loading weights or optimizer state failed.
    #[error("{0}")]
    Record(String),
}

impl PluginError {
    /// Builds an [`PluginError::Options`] from a serde message, pulling out the quoted field name
    /// (serde writes "unknown field `x`, expected ..." or "missing field `x`").
    pub fn options(message: impl Into<String>) -> Self {
        let message = message.into();
        let field = ["unknown field `", "missing field `", "duplicate field `"]
            .iter()
            .find_map(|prefix| {
                let start = message.find(prefix)? + prefix.len();
                let len = message[start..].find('`')?;
                Some(message[start..start + len].to_owned())
            });
        PluginError::Options { message, field }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_error_names_the_field() {
        match PluginError::options("unknown field `chanels`, expected `channels`") {
            PluginError::Options { field, .. } => assert_eq!(field.as_deref(), Some("chanels")),
            other => panic!("{other:?}"),
        }
        match PluginError::options("invalid type: string \"a\", expected f64") {
            PluginError::Options { field, .. } => assert_eq!(field, None),
            other => panic!("{other:?}"),
        }
    }
}
