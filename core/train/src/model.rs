//! Building a run's backbone and head from the registry, with errors that point into the
//! experiment file.

use rateme_sdk::burn::tensor::Device;
use rateme_sdk::{Backbone, BuildContext, Head, InputSpec, PluginError};
use serde::{Deserialize, Serialize};

use crate::plugins::PluginHost;
use rateme_spec::{Experiment, Freeze, Location, RunSpec};

/// What a weights directory needs to rebuild its model (written as `model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Backbone plugin name.
    pub backbone: String,
    /// Backbone variant.
    pub variant: String,
    /// Resolved backbone options (every default filled in).
    pub backbone_options: toml::Value,
    /// Head plugin name.
    pub head: String,
    /// Resolved head options.
    pub head_options: toml::Value,
    /// The backbone's input spec.
    pub input: InputSpec,
    /// Pad to square before resizing.
    pub pad_to_square: bool,
    /// The size images are prepared at before the center crop to `input` (timm's `crop_pct`);
    /// absent: `input`'s size.
    #[serde(default)]
    pub prepared: Option<(u32, u32)>,
}

/// A built model.
pub struct BuiltModel {
    /// The backbone.
    pub backbone: Backbone,
    /// The head.
    pub head: Head,
    /// How to rebuild it.
    pub card: ModelCard,
}

/// A problem with a run's plugins, located in the experiment file.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {field}: {message}")]
pub struct PluginSpecError {
    /// Where.
    pub at: Location,
    /// Which field.
    pub field: String,
    /// What and how to fix it.
    pub message: String,
}

/// Checks that a run's plugins exist, its variant is valid and its options parse; returns the
/// resolved (variant, backbone options, head options).
pub fn check_run(
    exp: &Experiment,
    run: &RunSpec,
    host: &PluginHost,
) -> Result<(String, toml::Value, toml::Value), PluginSpecError> {
    let at = |span: std::ops::Range<usize>| Location::new(&exp.path, &exp.source, span);
    let field = |f: &str| format!("runs `{}`: {f}", run.name);
    let bb_name = run.backbone.plugin.get_ref();
    let bb = host
        .registry
        .get_backbone(bb_name)
        .ok_or_else(|| PluginSpecError {
            at: at(run.backbone.plugin.span()),
            field: field("backbone.plugin"),
            message: format!(
                "unknown backbone plugin `{bb_name}`; available: {}",
                host.backbone_names()
            ),
        })?;
    let head_name = run.head.plugin.get_ref();
    let head = host
        .registry
        .get_head(head_name)
        .ok_or_else(|| PluginSpecError {
            at: at(run.head.plugin.span()),
            field: field("head.plugin"),
            message: format!(
                "unknown head plugin `{head_name}`; available: {}",
                host.head_names()
            ),
        })?;
    let variant = match &run.backbone.variant {
        Some(v) if bb.variants.is_empty() => {
            return Err(PluginSpecError {
                at: at(v.span()),
                field: field("backbone.variant"),
                message: format!("backbone `{bb_name}` has no variants; remove `variant`"),
            });
        }
        Some(v) if !bb.variants.contains(v.get_ref()) => {
            return Err(PluginSpecError {
                at: at(v.span()),
                field: field("backbone.variant"),
                message: format!(
                    "unknown variant `{}` of `{bb_name}`; valid: {}",
                    v.get_ref(),
                    bb.variants.join(", ")
                ),
            });
        }
        Some(v) => v.get_ref().clone(),
        None => bb.variants.first().cloned().unwrap_or_default(),
    };
    let option_error = |which: &str, span: std::ops::Range<usize>, e: PluginError| {
        let name = match &e {
            PluginError::Options { field, .. } => field.clone(),
            _ => None,
        };
        PluginSpecError {
            at: exp.locate_option(&span, name.as_deref()),
            field: field(&match &name {
                Some(n) => format!("{which}.options.{n}"),
                None => format!("{which}.options"),
            }),
            message: e.to_string(),
        }
    };
    let bb_options = bb
        .resolve_options(run.backbone.options.get_ref())
        .map_err(|e| option_error("backbone", run.backbone.options.span(), e))?;
    let head_options = head
        .resolve_options(run.head.options.get_ref())
        .map_err(|e| option_error("head", run.head.options.span(), e))?;
    Ok((variant, bb_options, head_options))
}

/// Builds backbone and head on `device` (autodiff-enabled for training), seeded with `seed`.
pub fn build_model(
    host: &PluginHost,
    card_in: (&str, &str, &toml::Value, &str, &toml::Value),
    pad_to_square: bool,
    device: &Device,
    seed: u64,
) -> Result<BuiltModel, PluginError> {
    let (bb_name, variant, bb_options, head_name, head_options) = card_in;
    let missing = |kind: &str, name: &str, have: String| {
        PluginError::Build(format!(
            "no {kind} plugin `{name}` is loaded; available: {have}"
        ))
    };
    let bb = host
        .registry
        .get_backbone(bb_name)
        .ok_or_else(|| missing("backbone", bb_name, host.backbone_names()))?;
    let head = host
        .registry
        .get_head(head_name)
        .ok_or_else(|| missing("head", head_name, host.head_names()))?;
    device.seed(seed);
    let ctx = BuildContext {
        device: device.clone(),
        seed,
        variant: variant.to_owned(),
    };
    let backbone = (bb.ctor)(&ctx, bb_options)?;
    let head_model = (head.ctor)(&ctx, backbone.num_features(), head_options)?;
    let card = ModelCard {
        backbone: bb_name.to_owned(),
        variant: variant.to_owned(),
        backbone_options: bb_options.clone(),
        head: head_name.to_owned(),
        head_options: head_options.clone(),
        input: backbone.input_spec().clone(),
        pad_to_square,
        prepared: None,
    };
    Ok(BuiltModel {
        backbone,
        head: head_model,
        card,
    })
}

/// Loads a run's pretrained files (backbone, then head) into a freshly built model, logging one
/// report per file. Errors point at the `pretrained` key.
pub fn load_pretrained(
    exp: &Experiment,
    run: &RunSpec,
    host: &PluginHost,
    model: &mut BuiltModel,
) -> Result<(), PluginSpecError> {
    let field = |f: &str| format!("runs `{}`: {f}", run.name);
    let at = |span: std::ops::Range<usize>| Location::new(&exp.path, &exp.source, span);
    let parts = [
        (
            "backbone",
            &run.backbone.pretrained,
            &run.backbone.pretrained_scheme,
            run.backbone.pretrained_partial,
        ),
        (
            "head",
            &run.head.pretrained,
            &run.head.pretrained_scheme,
            run.head.pretrained_partial,
        ),
    ];
    for (which, file, scheme, partial) in parts {
        let Some(file) = file else { continue };
        let (schemes, target, part) = if which == "backbone" {
            let entry = host.registry.get_backbone(&model.card.backbone);
            let target = format!("backbone `{}/{}`", model.card.backbone, model.card.variant);
            (entry.map(|e| &e.schemes), target, model.backbone.part())
        } else {
            let entry = host.registry.get_head(&model.card.head);
            let target = format!("head `{}`", model.card.head);
            (entry.map(|e| &e.schemes), target, model.head.part())
        };
        let schemes = schemes.map(Vec::as_slice).unwrap_or_default();
        let located = |span: std::ops::Range<usize>, key: &str, message: String| PluginSpecError {
            at: at(span),
            field: field(&format!("{which}.{key}")),
            message,
        };
        let weights = rateme_sdk::weights::read_weights(&expand_home(file.get_ref()))
            .map_err(|e| located(file.span(), "pretrained", e.to_string()))?;
        let choice = scheme.as_ref().map(|s| s.get_ref().as_str());
        let report =
            rateme_sdk::weights::load_pretrained(part, &target, &weights, schemes, choice, partial)
                .map_err(|e| match (&e, scheme) {
                    (rateme_sdk::weights::WeightsError::UnknownScheme { .. }, Some(s)) => {
                        located(s.span(), "pretrained_scheme", e.to_string())
                    }
                    _ => located(file.span(), "pretrained", e.to_string()),
                })?;
        tracing::info!("{report}");
    }
    Ok(())
}

/// Freezes what `backbone.freeze` asks for. An unknown stage name points at the key.
pub fn apply_freeze(
    exp: &Experiment,
    run: &RunSpec,
    model: &mut BuiltModel,
) -> Result<(), PluginSpecError> {
    match run.backbone.freeze.get_ref() {
        Freeze::All(false) => Ok(()),
        Freeze::All(true) => {
            model.backbone.part().freeze();
            Ok(())
        }
        Freeze::Through(stage) => {
            model
                .backbone
                .freeze_through(stage)
                .map_err(|e| PluginSpecError {
                    at: Location::new(&exp.path, &exp.source, run.backbone.freeze.span()),
                    field: format!("runs `{}`: backbone.freeze", run.name),
                    message: e.to_string(),
                })
        }
    }
}

/// `~/...` under the home directory (experiment files name cached weights that way).
fn expand_home(path: &std::path::Path) -> std::path::PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => path.to_owned(),
    }
}
