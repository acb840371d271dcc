//! What a run tells the tracking server, as journal lines: one JSON object per line, in the
//! order the server must see them.

use serde::{Deserialize, Serialize};

/// A metric value. JSON has no NaN or infinity; they travel as the strings protobuf's JSON
/// mapping (which MLflow parses) uses: `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Float(pub f64);

impl Serialize for Float {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(f64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Number(v) => Ok(Float(v)),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(Float(f64::NAN)),
                "Infinity" => Ok(Float(f64::INFINITY)),
                "-Infinity" => Ok(Float(f64::NEG_INFINITY)),
                other => Err(serde::de::Error::custom(format!("not a number: {other}"))),
            },
        }
    }
}

/// MLflow run states rateme sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Training (again, after a resume).
    Running,
    /// All batches done.
    Finished,
    /// Stopped by an error or a panic.
    Failed,
    /// Stopped by the user (Ctrl-C, SIGTERM).
    Killed,
}

impl RunStatus {
    /// MLflow's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The first line of every journal: where the run goes and how it is created.
    Start {
        /// Random id, also the run's `rateme.uid` tag: finds the run again if the server
        /// created it but the reply was lost.
        uid: String,
        /// Server base URI, credentials removed.
        uri: String,
        /// MLflow experiment name.
        experiment: String,
        /// MLflow run name.
        run_name: String,
        /// Milliseconds since the epoch.
        start_time: i64,
        /// Tags set when the run is created.
        tags: Vec<(String, String)>,
    },
    /// A run parameter (immutable in MLflow).
    Param { key: String, value: String },
    /// A tag (may be overwritten).
    Tag { key: String, value: String },
    /// One metric point.
    Metric {
        key: String,
        value: Float,
        step: u64,
        /// Milliseconds since the epoch, fixed when the point is recorded, so a resend is the
        /// identical point (MLflow's store keeps one copy of identical points).
        timestamp: i64,
    },
    /// A status change (with the end time for terminal states).
    Status {
        status: RunStatus,
        end_time: Option<i64>,
    },
    /// A file to upload: `file` is relative to the journal's `files/` snapshot folder, `path` is
    /// where it goes under the run's artifact root.
    Artifact { file: String, path: String },
}

impl Record {
    /// Whether the record travels in `runs/log-batch`.
    pub fn is_batchable(&self) -> bool {
        matches!(
            self,
            Record::Param { .. } | Record::Tag { .. } | Record::Metric { .. }
        )
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_metrics_round_trip_as_protobuf_strings() {
        for v in [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let r = Record::Metric {
                key: "k".into(),
                value: Float(v),
                step: 3,
                timestamp: 9,
            };
            let line = serde_json::to_string(&r).unwrap();
            if !v.is_finite() {
                assert!(line.contains('"'), "{line}");
            }
            let back: Record = serde_json::from_str(&line).unwrap();
            let Record::Metric { value, .. } = back else {
                panic!()
            };
            assert!(value.0 == v || (v.is_nan() && value.0.is_nan()));
        }
    }
}
