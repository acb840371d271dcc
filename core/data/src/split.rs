use std::collections::BTreeMap;

use super::Sample;
use rateme_util::rng::Rng;

/// Indices into the sample list.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub val: Vec<usize>,
}

/// Splits rows into train and validation. Rows sharing a `group` always land on the same side
/// (RateMeAI split by row, which leaked album photos of one post across the split); rows
/// without a group are their own group. Groups are shuffled with `seed` and the first
/// `ceil(fraction · groups)` go to validation.
pub fn split(samples: &[Sample], val_fraction: f64, seed: u64) -> Split {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in samples.iter().enumerate() {
        let key = match &s.group {
            Some(g) => format!("g:{g}"),
            None => format!("r:{i:012}"),
        };
        groups.entry(key).or_default().push(i);
    }
    let mut keys: Vec<&String> = groups.keys().collect();
    Rng::new(seed, &[0x5917]).shuffle(&mut keys);
    let n_val = ((keys.len() as f64 * val_fraction).ceil() as usize)
        .clamp(1, keys.len().saturating_sub(1).max(1));
    let mut train = Vec::new();
    let mut val = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        let rows = &groups[*key];
        if k < n_val {
            val.extend(rows)
        } else {
            train.extend(rows)
        }
    }
    train.sort_unstable();
    val.sort_unstable();
    Split { train, val }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn sample(group: Option<&str>) -> Sample {
        Sample {
            path: PathBuf::new(),
            target: 0.0,
            group: group.map(str::to_owned),
            weight: 1.0,
            line: 0,
        }
    }

    #[test]
    fn groups_never_straddle_and_fraction_holds() {
        let samples: Vec<Sample> = (0..300)
            .map(|i| sample(Some(&format!("post{}", i / 3))))
            .collect();
        let s = split(&samples, 0.15, 42);
        assert_eq!(s.train.len() + s.val.len(), 300);
        assert_eq!(s.val.len(), 15 * 3);
        for &v in &s.val {
            for &t in &s.train {
                assert_ne!(samples[v].group, samples[t].group);
            }
        }
        assert_eq!(s, split(&samples, 0.15, 42));
        assert_ne!(s, split(&samples, 0.15, 43));
    }

    #[test]
    fn ungrouped_rows_split_by_row() {
        let samples: Vec<Sample> = (0..100).map(|_| sample(None)).collect();
        let s = split(&samples, 0.15, 42);
        assert_eq!(s.val.len(), 15);
        assert_eq!(s.train.len(), 85);
    }
}
