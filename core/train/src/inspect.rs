//! `runner weights inspect`: what a weights file holds and which plugin, variant and naming
//! scheme it fits, so a user can see why a file does not load.

use std::collections::BTreeSet;

use rateme_sdk::BuildContext;
use rateme_sdk::burn::tensor::Device;
use rateme_sdk::weights::{Matching, NamingScheme, TensorInfo, WeightsFile, match_file};

use crate::plugins::PluginHost;

/// How the file fits one plugin (variant, or head width) under one scheme.
#[derive(Debug, Clone)]
pub struct Fit {
    /// `backbone` or `head`.
    pub kind: &'static str,
    /// Plugin name.
    pub plugin: String,
    /// The variant (backbones) or `in_features = N` (heads, default options).
    pub shape: String,
    /// Tensors the model has.
    pub model_tensors: usize,
    /// The outcome.
    pub matching: Matching,
}

impl Fit {
    /// Whether the file loads without `pretrained_partial`.
    pub fn is_complete(&self) -> bool {
        self.matching.is_complete()
    }

    /// Complete first, then the closest structure (fewest names missing or unexpected: the
    /// right family, scheme and depth), then the most tensors applied (the right widths).
    fn rank(&self) -> (bool, usize, usize) {
        let m = &self.matching;
        (
            !self.is_complete(),
            m.missing.len() + m.unexpected.len(),
            usize::MAX - m.applied.len(),
        )
    }
}

/// Model tensors the file has by name (applied or mis-shaped).
fn names_matched(m: &Matching) -> usize {
    m.applied.len() + m.mis_shaped.len()
}

/// The scheme under which the file fits best (most names, then most shapes), if any name
/// matches at all: a file of another width still shows which plugin and scheme it belongs to,
/// with every shape that differs.
fn best_of(
    file: &WeightsFile,
    schemes: &[NamingScheme],
    layout: &[TensorInfo],
) -> Option<Matching> {
    let own = NamingScheme::new(NamingScheme::OWN, "the plugin's own names");
    std::iter::once(&own)
        .chain(schemes)
        .map(|s| match_file(file, s, layout))
        .filter(|m| names_matched(m) > 0)
        .max_by_key(|m| (names_matched(m), m.applied.len()))
}

/// Every fit with at least one name matched, best first. Backbones are built in each of their
/// variants (default options), heads for each width the file's tensors suggest; `progress` is
/// called with what is being tried.
pub fn inspect(file: &WeightsFile, host: &PluginHost, mut progress: impl FnMut(&str)) -> Vec<Fit> {
    let device = Device::default();
    let empty = toml::Value::Table(toml::Table::new());
    let mut fits = Vec::new();
    for entry in host.registry.backbones() {
        let variants = if entry.variants.is_empty() {
            vec![String::new()]
        } else {
            entry.variants.clone()
        };
        for variant in variants {
            progress(&format!("backbone {}/{variant}", entry.name));
            let ctx = BuildContext {
                device: device.clone(),
                seed: 0,
                variant: variant.clone(),
            };
            let Ok(mut backbone) = (entry.ctor)(&ctx, &empty) else {
                continue;
            };
            let layout = backbone.part().tensor_layout();
            let Some(matching) = best_of(file, &entry.schemes, &layout) else {
                // Variants share names: none of them fits if the default does not.
                break;
            };
            fits.push(Fit {
                kind: "backbone",
                plugin: entry.name.clone(),
                shape: variant,
                model_tensors: layout.len(),
                matching,
            });
        }
    }
    let widths: BTreeSet<usize> = file
        .tensors
        .iter()
        .filter_map(|t| match t.shape.as_slice() {
            [n] | [_, n] => Some(*n),
            _ => None,
        })
        .filter(|&n| n > 1)
        .collect();
    for entry in host.registry.heads() {
        for &width in widths.iter().take(32) {
            progress(&format!("head {} for {width} features", entry.name));
            let ctx = BuildContext {
                device: device.clone(),
                seed: 0,
                variant: String::new(),
            };
            let Ok(mut head) = (entry.ctor)(&ctx, width, &empty) else {
                continue;
            };
            let layout = head.part().tensor_layout();
            if let Some(matching) = best_of(file, &entry.schemes, &layout) {
                fits.push(Fit {
                    kind: "head",
                    plugin: entry.name.clone(),
                    shape: format!("in_features = {width}"),
                    model_tensors: layout.len(),
                    matching,
                });
            }
        }
    }
    fits.sort_by_key(Fit::rank);
    fits
}
