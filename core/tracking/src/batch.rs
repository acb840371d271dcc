//! MLflow's `runs/log-batch` limits, packing records into requests that respect them, and
//! turning a run spec into flat parameters.

use super::record::Record;

/// Metrics per request.
pub const MAX_METRICS: usize = 1000;
/// Params per request.
pub const MAX_PARAMS: usize = 100;
/// Tags per request.
pub const MAX_TAGS: usize = 100;
/// Metrics + params + tags per request.
pub const MAX_ITEMS: usize = 1000;
/// Request body bytes (MLflow: 1 MB); packing keeps a margin for the envelope.
pub const MAX_BYTES: usize = 1_000_000;
const BODY_MARGIN: usize = 4_096;
/// Longest param value MLflow stores.
pub const MAX_PARAM_VALUE: usize = 6000;
/// Longest tag value MLflow stores.
pub const MAX_TAG_VALUE: usize = 8000;
/// Longest param, tag or metric key.
pub const MAX_KEY: usize = 250;

/// How many of the leading `records` go in one `log-batch` request: only batchable records,
/// within every count limit and the body size limit (always at least one when the first is
/// batchable).
pub fn pack(records: &[&Record]) -> usize {
    let (mut metrics, mut params, mut tags, mut bytes) = (0, 0, 0, 64);
    for (i, r) in records.iter().enumerate() {
        let (m, p, t) = match r {
            Record::Metric { .. } => (1, 0, 0),
            Record::Param { .. } => (0, 1, 0),
            Record::Tag { .. } => (0, 0, 1),
            _ => return i,
        };
        let size = serde_json::to_string(r).map_or(0, |s| s.len()) + 2;
        let over = metrics + m > MAX_METRICS
            || params + p > MAX_PARAMS
            || tags + t > MAX_TAGS
            || metrics + params + tags + 1 > MAX_ITEMS
            || bytes + size > MAX_BYTES - BODY_MARGIN;
        if over && i > 0 {
            return i;
        }
        metrics += m;
        params += p;
        tags += t;
        bytes += size;
    }
    records.len()
}

/// `value` cut to at most `max` characters with a visible note of its real length, so a
/// truncated value cannot be mistaken for the whole one.
pub fn truncate_visibly(value: &str, max: usize) -> String {
    let len = value.chars().count();
    if len <= max {
        return value.to_owned();
    }
    let note = format!("…[truncated, {len} chars]");
    let keep = max.saturating_sub(note.chars().count());
    let mut out: String = value.chars().take(keep).collect();
    out.push_str(&note);
    out
}

/// A JSON value as flat `a.b.c = value` pairs: tables nest with dots, arrays are written as
/// JSON text, nulls (unset optional fields) are left out. Keys are sorted.
pub fn flatten(value: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    walk(&key(k), v, out);
                }
            }
            serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Float;

    fn metric(i: u64) -> Record {
        Record::Metric {
            key: "loss".into(),
            value: Float(i as f64),
            step: i,
            timestamp: 0,
        }
    }
    fn param(i: usize, len: usize) -> Record {
        Record::Param {
            key: format!("p{i}"),
            value: "x".repeat(len),
        }
    }

    fn refs(v: &[Record]) -> Vec<&Record> {
        v.iter().collect()
    }

    #[test]
    fn packing_respects_every_limit() {
        let metrics: Vec<Record> = (0..2500).map(metric).collect();
        assert_eq!(pack(&refs(&metrics)), MAX_METRICS);
        let params: Vec<Record> = (0..250).map(|i| param(i, 3)).collect();
        assert_eq!(pack(&refs(&params)), MAX_PARAMS);
        let tags: Vec<Record> = (0..150)
            .map(|i| Record::Tag {
                key: format!("t{i}"),
                value: "v".into(),
            })
            .collect();
        assert_eq!(pack(&refs(&tags)), MAX_TAGS);
        // 100 params then metrics: the item limit (1000) binds before the metric limit.
        let mixed: Vec<Record> = params[..100]
            .iter()
            .cloned()
            .chain((0..1000).map(metric))
            .collect();
        assert_eq!(pack(&refs(&mixed)), MAX_ITEMS);
        // Long params and tags (within their count limits): the 1 MB body limit binds.
        let big: Vec<Record> = (0..100)
            .flat_map(|i| {
                [
                    param(i, MAX_PARAM_VALUE),
                    Record::Tag {
                        key: format!("t{i}"),
                        value: "y".repeat(MAX_TAG_VALUE),
                    },
                ]
            })
            .collect();
        let n = pack(&refs(&big));
        assert!(n < 200 && n > 100, "{n}");
        let body: usize = big[..n]
            .iter()
            .map(|r| serde_json::to_string(r).unwrap().len())
            .sum();
        assert!(body < MAX_BYTES, "{body}");
        // Stops at a record that is not batchable.
        let with_status = vec![
            metric(1),
            metric(2),
            Record::Status {
                status: crate::record::RunStatus::Finished,
                end_time: None,
            },
            metric(3),
        ];
        assert_eq!(pack(&refs(&with_status)), 2);
    }

    #[test]
    fn truncation_is_visible_and_within_the_limit() {
        let long = "é".repeat(7000);
        let t = truncate_visibly(&long, MAX_PARAM_VALUE);
        assert_eq!(t.chars().count(), MAX_PARAM_VALUE);
        assert!(
            t.ends_with("…[truncated, 7000 chars]"),
            "{}",
            &t[t.len() - 40..]
        );
        assert_eq!(truncate_visibly("short", 10), "short");
    }

    #[test]
    fn flattening_nests_with_dots() {
        let v = serde_json::json!({
            "name": "r", "lr": 0.003, "opt": {"betas": [0.9, 0.99], "eps": null, "n": {"x": true}}
        });
        assert_eq!(
            flatten(&v),
            vec![
                ("lr".to_owned(), "0.003".to_owned()),
                ("name".into(), "r".into()),
                ("opt.betas".into(), "[0.9,0.99]".into()),
                ("opt.n.x".into(), "true".into()),
            ]
        );
    }
}
