//! The run specification, field by field. Every field's default is documented here and in the
//! README's experiment-file reference (keep them in step).

use std::path::PathBuf;

use rateme_sdk::OptimizerSettings;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::LoaderSpec;

/// One training run: what to train, on what, for how long, where.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Unique name within the experiment; also the run's output sub-directory.
    pub name: String,
    /// The backbone plugin.
    pub backbone: BackboneRef,
    /// The head plugin.
    pub head: HeadRef,
    /// The data.
    pub data: DataSpec,
    /// Optimizer.
    #[serde(default)]
    pub optimizer: OptimizerSpec,
    /// Learning-rate schedule.
    #[serde(default)]
    pub schedule: ScheduleSpec,
    /// Images per training batch. Default 32.
    #[serde(default = "d_batch_size")]
    pub batch_size: usize,
    /// Stop after this many training batches. Default 25000.
    #[serde(default = "d_batches")]
    pub batches: u64,
    /// Evaluate on the whole validation set every this many batches (and after the last).
    /// Default 100.
    #[serde(default = "d_eval_every")]
    pub eval_every: u64,
    /// Write a checkpoint every this many batches (and after the last); 0 = only at the end.
    /// Default 1000.
    #[serde(default = "d_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Seed for initialisation, data order, augmentation and dropout. Default 42.
    #[serde(default = "d_seed")]
    pub seed: u64,
    /// `cpu` (burn's flex backend, the default), `tch-cpu` or `cuda[:N]` (LibTorch; build with
    /// the `tch` feature). `--device` overrides it.
    #[serde(default = "d_device")]
    pub device: String,
    /// `f32` (default) or `bf16`: convolutions and matrix products in bfloat16 with float32
    /// weights, gradients, optimizer state, norms and loss (PyTorch's autocast; see
    /// `rateme_sdk::autocast`). `bf16` needs a LibTorch device (`tch-cpu`, `cuda`): burn's
    /// `flex` computes in float32 only. Left out of the run's hash when `f32`.
    #[serde(default = "d_precision", skip_serializing_if = "is_f32")]
    pub precision: String,
    /// Run outputs go to `<output_dir>/<run name>/`. Default `runs/<experiment name>`.
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
    /// Directory of plugin libraries; `--plugins` overrides it. Default: the runner's directory.
    #[serde(default)]
    pub plugins: Option<PathBuf>,
}

fn d_batch_size() -> usize {
    32
}
fn d_batches() -> u64 {
    25_000
}
fn d_eval_every() -> u64 {
    100
}
fn d_checkpoint_every() -> u64 {
    1000
}
fn d_seed() -> u64 {
    42
}
fn d_one() -> f64 {
    1.0
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}
fn d_device() -> String {
    "cpu".into()
}
fn d_precision() -> String {
    "f32".into()
}
fn is_f32(v: &str) -> bool {
    v == "f32"
}

/// `backbone = { plugin = "...", variant = "...", freeze = false, lr_scale = 1.0,
/// pretrained = "...", options = { ... } }`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneRef {
    /// Registered plugin name.
    pub plugin: Spanned<String>,
    /// Architecture variant; default: the plugin's first.
    #[serde(default)]
    pub variant: Option<Spanned<String>>,
    /// `false` (default): train everything; `true`: train the head only; a stage name of the
    /// plugin (`"stage:3"`): freeze the backbone from its input up to and including that stage.
    #[serde(default = "no_freeze")]
    pub freeze: Spanned<Freeze>,
    /// Pretrained weights (`.safetensors`, PyTorch `.pth`/`.pt`) loaded when the run starts,
    /// never again at `--resume` or `predict` (the run's own weights hold them). Relative paths
    /// are relative to the current directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<Spanned<PathBuf>>,
    /// The plugin's naming scheme to read `pretrained` with; default: whichever fits best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained_scheme: Option<Spanned<String>>,
    /// Load what fits and keep the rest as initialised instead of stopping at missing or
    /// mis-shaped tensors (e.g. a file with another classifier). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pretrained_partial: bool,
    /// Multiplies the run's learning rate for the backbone (e.g. 0.1 to fine-tune a pretrained
    /// backbone gently under a new head); the plateau schedule scales both parts together.
    /// Default 1 (left out of the run's hash then, so older checkpoints still resume).
    #[serde(default = "d_one", skip_serializing_if = "is_one")]
    pub lr_scale: f64,
    /// The plugin's own options table (checked by the plugin, unknown keys are errors).
    #[serde(default = "empty_options")]
    pub options: Spanned<toml::Value>,
}

/// What `backbone.freeze` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Freeze {
    /// `true`: all of it; `false`: none.
    All(bool),
    /// Up to and including this stage (the plugin's stage names).
    Through(String),
}

impl Default for Freeze {
    fn default() -> Self {
        Freeze::All(false)
    }
}

fn no_freeze() -> Spanned<Freeze> {
    Spanned::new(0..0, Freeze::All(false))
}

/// `head = { plugin = "...", pretrained = "...", options = { ... } }`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadRef {
    /// Registered plugin name.
    pub plugin: Spanned<String>,
    /// Pretrained weights (`.safetensors`, PyTorch `.pth`/`.pt`) loaded when the run starts,
    /// never again at `--resume` or `predict` (the run's own weights hold them). Relative paths
    /// are relative to the current directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<Spanned<PathBuf>>,
    /// The plugin's naming scheme to read `pretrained` with; default: whichever fits best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained_scheme: Option<Spanned<String>>,
    /// Load what fits and keep the rest as initialised instead of stopping at missing or
    /// mis-shaped tensors (e.g. a file with another classifier). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pretrained_partial: bool,
    /// The plugin's own options table.
    #[serde(default = "empty_options")]
    pub options: Spanned<toml::Value>,
}

fn empty_options() -> Spanned<toml::Value> {
    Spanned::new(0..0, toml::Value::Table(toml::Table::new()))
}

/// Where the images and their ratings come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Ratings table (CSV, or parquet by its `.parquet` extension) with columns `path` (image
    /// file, relative to `images`), `target`
    /// (the rating) and optionally `group` (rows of one group never straddle the split) and
    /// `weight`.
    pub table: PathBuf,
    /// Directory image paths are relative to. Default: the table's directory.
    #[serde(default)]
    pub images: Option<PathBuf>,
    /// Generate a synthetic dataset into the table's directory when the table is missing
    /// (the embedded demo). Omit for real data.
    #[serde(default)]
    pub synthetic: Option<SyntheticSpec>,
    /// Fraction of rows (or groups) held out for validation. Default 0.15 (RateMeAI's split).
    #[serde(default = "d_val_fraction")]
    pub val_fraction: f64,
    /// Seed of the train/validation split. Default 42 (RateMeAI's).
    #[serde(default = "d_split_seed")]
    pub split_seed: u64,
    /// Training augmentations: `true` (the default) is RateMeAI's recipe (flip p=0.5, ±15°
    /// rotation, ±10% shift, ±0.1 brightness and contrast), `false` none, a table any of
    /// [`AugmentSettings`]' keys (the others keep the recipe's values).
    #[serde(default)]
    pub augment: AugmentSpec,
    /// timm's `crop_pct`: images are prepared at `floor(input / crop_pct)` pixels and the
    /// center crop of the input size is taken (for evaluation always, for training unless
    /// `augment.random_resized_crop` is set). In (0, 1]. Default 1 (no crop; left out of the
    /// run's hash then, so older checkpoints still resume).
    #[serde(
        default = "d_one",
        skip_serializing_if = "is_one",
        deserialize_with = "crop_pct"
    )]
    pub crop_pct: f64,
    /// Pad to a square with black borders before resizing (RateMeAI's), instead of stretching.
    /// Default true.
    #[serde(default = "d_true")]
    pub pad_to_square: bool,
    /// `[data.loader]`: threads, prefetch, cache, bad-file handling ([`LoaderSpec`]). Not part
    /// of what a batch holds, so left out of the run's hash (a run may resume with other
    /// loader settings) and written only when not the defaults.
    #[serde(default, skip_serializing_if = "LoaderSpec::is_default")]
    pub loader: LoaderSpec,
}

fn crop_pct<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(de)?;
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "data.crop_pct: must be in (0, 1] (the input's share of the prepared image, e.g. \
             0.875 for timm's 224 of 256), got {v}"
        )))
    }
}

/// `data.augment`: off, or on with these settings. Written `false`, `true` (RateMeAI's recipe,
/// [`AugmentSettings::RECIPE`]) or a table of [`AugmentSettings`] keys. Serialised the same
/// way: `false`, `true` for the recipe (however it was spelled, so the run's hash is that of
/// `augment = true`), else the table with every key.
#[derive(Debug, Clone, PartialEq)]
pub enum AugmentSpec {
    /// No augmentation.
    Off,
    /// Augment with these settings.
    On(AugmentSettings),
}

impl Default for AugmentSpec {
    fn default() -> Self {
        AugmentSpec::On(AugmentSettings::RECIPE)
    }
}

impl AugmentSpec {
    /// The settings when augmentation is on.
    pub fn settings(&self) -> Option<&AugmentSettings> {
        match self {
            AugmentSpec::Off => None,
            AugmentSpec::On(s) => Some(s),
        }
    }

    /// Whether augmentation is on.
    pub fn is_on(&self) -> bool {
        matches!(self, AugmentSpec::On(_))
    }
}

impl Serialize for AugmentSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AugmentSpec::Off => s.serialize_bool(false),
            AugmentSpec::On(a) if *a == AugmentSettings::RECIPE => s.serialize_bool(true),
            AugmentSpec::On(a) => a.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for AugmentSpec {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AugmentSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "`true` (RateMeAI's recipe), `false` or a table of flip, rotate, translate, \
                     brightness, contrast, saturation, hue, random_resized_crop",
                )
            }
            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<AugmentSpec, E> {
                Ok(if on {
                    AugmentSpec::default()
                } else {
                    AugmentSpec::Off
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<AugmentSpec, A::Error> {
                AugmentSettings::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(AugmentSpec::On)
            }
        }
        de.deserialize_any(Visitor)
    }
}

/// The augmentation of a run (`data.augment = { .. }`). Every key is optional and defaults to
/// RateMeAI's value ([`AugmentSettings::RECIPE`]); ranges follow torchvision's
/// `RandomHorizontalFlip`, `RandomAffine`, `ColorJitter` and `RandomResizedCrop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentSettings {
    /// Probability of a horizontal flip, in [0, 1]. Recipe: 0.5.
    #[serde(default = "d_aug_flip", deserialize_with = "aug_flip")]
    pub flip: f64,
    /// Rotation by a uniform angle in ±`rotate` degrees, in [0, 180]. Recipe: 15.
    #[serde(default = "d_aug_rotate", deserialize_with = "aug_rotate")]
    pub rotate: f64,
    /// Shift by a uniform ±`translate` of the side per axis (rounded to pixels), in [0, 1].
    /// Recipe: 0.1.
    #[serde(default = "d_aug_translate", deserialize_with = "aug_translate")]
    pub translate: f64,
    /// Brightness factor uniform in [max(0, 1 − b), 1 + b], b ≥ 0. Recipe: 0.1.
    #[serde(default = "d_aug_brightness", deserialize_with = "aug_brightness")]
    pub brightness: f64,
    /// Contrast factor uniform in [max(0, 1 − c), 1 + c], c ≥ 0. Recipe: 0.1.
    #[serde(default = "d_aug_contrast", deserialize_with = "aug_contrast")]
    pub contrast: f64,
    /// Saturation factor uniform in [max(0, 1 − s), 1 + s], s ≥ 0. Recipe: 0.
    #[serde(default, deserialize_with = "aug_saturation")]
    pub saturation: f64,
    /// Hue shift uniform in [−h, h] (of the full circle), h in [0, 0.5]. Recipe: 0.
    #[serde(default, deserialize_with = "aug_hue")]
    pub hue: f64,
    /// torchvision's `RandomResizedCrop` of the prepared image instead of its center crop;
    /// absent (the recipe): off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_resized_crop: Option<ResizedCropSpec>,
}

impl AugmentSettings {
    /// RateMeAI's recipe: flip p=0.5, rotation ±15°, translation ±10%, brightness and contrast
    /// ±0.1, no saturation or hue jitter, no random resized crop.
    pub const RECIPE: AugmentSettings = AugmentSettings {
        flip: 0.5,
        rotate: 15.0,
        translate: 0.1,
        brightness: 0.1,
        contrast: 0.1,
        saturation: 0.0,
        hue: 0.0,
        random_resized_crop: None,
    };
}

fn d_aug_flip() -> f64 {
    AugmentSettings::RECIPE.flip
}
fn d_aug_rotate() -> f64 {
    AugmentSettings::RECIPE.rotate
}
fn d_aug_translate() -> f64 {
    AugmentSettings::RECIPE.translate
}
fn d_aug_brightness() -> f64 {
    AugmentSettings::RECIPE.brightness
}
fn d_aug_contrast() -> f64 {
    AugmentSettings::RECIPE.contrast
}

/// A number of `data.augment.<key>` in `[lo, hi]`; the error names the key and the range.
fn aug_number<'de, D: serde::Deserializer<'de>>(
    de: D,
    key: &str,
    lo: f64,
    hi: f64,
    what: &str,
) -> Result<f64, D::Error> {
    let v = f64::deserialize(de)?;
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        let range = if hi.is_finite() {
            format!("in [{lo}, {hi}]")
        } else {
            format!("a number ≥ {lo}")
        };
        Err(serde::de::Error::custom(format!(
            "data.augment.{key}: must be {range} ({what}), got {v}"
        )))
    }
}
fn aug_flip<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    aug_number(de, "flip", 0.0, 1.0, "the probability of a horizontal flip")
}
fn aug_rotate<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    aug_number(de, "rotate", 0.0, 180.0, "the largest rotation in degrees")
}
fn aug_translate<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    aug_number(
        de,
        "translate",
        0.0,
        1.0,
        "the largest shift as a fraction of the side",
    )
}
fn aug_brightness<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    aug_number(
        de,
        "brightness",
        0.0,
        f64::INFINITY,
        "factor range 1 ± b; 0 turns it off",
    )
}
fn aug_contrast<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    aug_number(
        de,
        "contrast",
        0.0,
        f64::INFINITY,
        "factor range 1 ± c; 0 turns it off",
    )
}
fn aug_saturation<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    aug_number(
        de,
        "saturation",
        0.0,
        f64::INFINITY,
        "factor range 1 ± s; 0 turns it off",
    )
}
fn aug_hue<'de, D: serde::Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    aug_number(
        de,
        "hue",
        0.0,
        0.5,
        "the largest hue shift, of the full circle",
    )
}

/// `random_resized_crop = { scale = [0.08, 1.0], ratio = [0.75, 1.3333] }`: torchvision's
/// `RandomResizedCrop`: a box of `scale` of the image's area and aspect ratio `ratio` (both
/// uniform, the ratio on a log scale), resized to the input size. Missing keys take these
/// (torchvision's) defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResizedCropSpec {
    /// Range of the box's share of the image area, 0 < lo ≤ hi ≤ 1. Default [0.08, 1].
    pub scale: [f64; 2],
    /// Range of the box's aspect ratio (width / height), 0 < lo ≤ hi. Default [3/4, 4/3].
    pub ratio: [f64; 2],
}

impl Default for ResizedCropSpec {
    fn default() -> Self {
        Self {
            scale: [0.08, 1.0],
            ratio: [3.0 / 4.0, 4.0 / 3.0],
        }
    }
}

impl<'de> Deserialize<'de> for ResizedCropSpec {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            scale: Option<[f64; 2]>,
            ratio: Option<[f64; 2]>,
        }
        let raw = Raw::deserialize(de)?;
        let d = ResizedCropSpec::default();
        let spec = ResizedCropSpec {
            scale: raw.scale.unwrap_or(d.scale),
            ratio: raw.ratio.unwrap_or(d.ratio),
        };
        let [s0, s1] = spec.scale;
        let [r0, r1] = spec.ratio;
        if !(s0 > 0.0 && s0 <= s1 && s1 <= 1.0) {
            return Err(serde::de::Error::custom(format!(
                "data.augment.random_resized_crop.scale: must be [lo, hi] with 0 < lo ≤ hi ≤ 1 \
                 (shares of the image area), got [{s0}, {s1}]"
            )));
        }
        if !(r0 > 0.0 && r0 <= r1 && r1.is_finite()) {
            return Err(serde::de::Error::custom(format!(
                "data.augment.random_resized_crop.ratio: must be [lo, hi] with 0 < lo ≤ hi \
                 (width / height), got [{r0}, {r1}]"
            )));
        }
        Ok(spec)
    }
}

fn d_val_fraction() -> f64 {
    0.15
}
fn d_split_seed() -> u64 {
    42
}
fn d_true() -> bool {
    true
}

/// The synthetic demo dataset (see `data::synthetic`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    /// Number of images. Default 800.
    #[serde(default = "d_synth_count")]
    pub count: usize,
    /// Image side in pixels. Default 64.
    #[serde(default = "d_synth_size")]
    pub size: u32,
    /// Standard deviation of rater noise added to the true score (RateMeAI's humans: 0.92).
    #[serde(default = "d_synth_noise")]
    pub noise_std: f64,
    /// Generator seed. Default 7.
    #[serde(default = "d_synth_seed")]
    pub seed: u64,
}

fn d_synth_count() -> usize {
    800
}
fn d_synth_size() -> u32 {
    64
}
fn d_synth_noise() -> f64 {
    0.92
}
fn d_synth_seed() -> u64 {
    7
}

/// Optimizer: `name` plus the settings that apply to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// `adamw` (default), `adam` or `sgd`.
    #[serde(default = "d_optimizer")]
    pub name: String,
    /// Initial learning rate. Default 1e-3.
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// Weight decay (decoupled for AdamW, L2 otherwise). Default 0.01 for AdamW (PyTorch's),
    /// 0 for the others.
    #[serde(default)]
    pub weight_decay: Option<f32>,
    /// Adam(W) betas. Default [0.9, 0.999].
    #[serde(default)]
    pub betas: Option<[f32; 2]>,
    /// Adam(W) epsilon. Default 1e-8.
    #[serde(default)]
    pub eps: Option<f32>,
    /// SGD momentum. Default 0.
    #[serde(default)]
    pub momentum: Option<f64>,
    /// SGD Nesterov momentum. Default false.
    #[serde(default)]
    pub nesterov: Option<bool>,
    /// Clip the global L2 norm of all gradients (backbone and head together) to this value;
    /// omit for no clipping. RateMeAI: 1.0.
    #[serde(default)]
    pub grad_clip: Option<f64>,
    /// `false` spares biases, norm parameters, layer scales and the embeddings a backbone names
    /// (timm's fine-tuning default) from weight decay. Default true: every parameter decays, as
    /// in PyTorch and RateMeAI. (Left out of the serialised spec when unset, so runs written
    /// before the key existed resume.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay_norm_and_bias: Option<bool>,
}

fn d_optimizer() -> String {
    "adamw".into()
}
fn d_lr() -> f64 {
    1e-3
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        Self {
            name: d_optimizer(),
            lr: d_lr(),
            weight_decay: None,
            betas: None,
            eps: None,
            momentum: None,
            nesterov: None,
            grad_clip: None,
            decay_norm_and_bias: None,
        }
    }
}

impl OptimizerSpec {
    /// The settings every part's optimizer is built with.
    pub fn settings(&self) -> OptimizerSettings {
        let [beta1, beta2] = self.betas.unwrap_or([0.9, 0.999]);
        let eps = self.eps.unwrap_or(1e-8);
        let decay_norm_and_bias = self.decay_norm_and_bias.unwrap_or(true);
        match self.name.as_str() {
            "adam" => OptimizerSettings::Adam {
                beta1,
                beta2,
                eps,
                weight_decay: self.weight_decay.unwrap_or(0.0),
                decay_norm_and_bias,
            },
            "sgd" => OptimizerSettings::Sgd {
                momentum: self.momentum.unwrap_or(0.0),
                nesterov: self.nesterov.unwrap_or(false),
                weight_decay: self.weight_decay.unwrap_or(0.0),
                decay_norm_and_bias,
            },
            _ => OptimizerSettings::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay: self.weight_decay.unwrap_or(0.01),
                decay_norm_and_bias,
            },
        }
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: String| Err((format!("optimizer.{f}"), m));
        match self.name.as_str() {
            "adamw" | "adam" => {
                if self.momentum.is_some() || self.nesterov.is_some() {
                    return err(
                        "momentum",
                        format!("`momentum`/`nesterov` apply to sgd only, not {}", self.name),
                    );
                }
            }
            "sgd" => {
                if self.betas.is_some() || self.eps.is_some() {
                    return err(
                        "betas",
                        "`betas`/`eps` apply to adam and adamw only, not sgd".into(),
                    );
                }
            }
            other => {
                return err(
                    "name",
                    format!("unknown optimizer `{other}`; valid: adamw, adam, sgd"),
                );
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return err("lr", format!("must be a positive number, got {}", self.lr));
        }
        if let Some(c) = self.grad_clip
            && !(c.is_finite() && c > 0.0)
        {
            return err("grad_clip", format!("must be a positive number, got {c}"));
        }
        Ok(())
    }
}

/// Learning-rate schedule: `constant`, or `plateau` (PyTorch's ReduceLROnPlateau on the
/// validation loss; its defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `plateau` (default) or `constant`.
    #[serde(default = "d_schedule")]
    pub name: String,
    /// Multiply the learning rate by this on a plateau. Default 0.1.
    #[serde(default = "d_factor")]
    pub factor: f64,
    /// Evaluations without improvement before reducing. Default 10.
    #[serde(default = "d_patience")]
    pub patience: u32,
    /// Evaluations to wait after a reduction before counting again. Default 0.
    #[serde(default)]
    pub cooldown: u32,
    /// Lower bound of the learning rate. Default 0.
    #[serde(default)]
    pub min_lr: f64,
    /// Improvement threshold. Default 1e-4.
    #[serde(default = "d_threshold")]
    pub threshold: f64,
    /// `rel` (default: better than best·(1−threshold)) or `abs` (better than best−threshold).
    #[serde(default = "d_threshold_mode")]
    pub threshold_mode: String,
    /// Reductions smaller than this are skipped. Default 1e-8.
    #[serde(default = "d_eps_lr")]
    pub eps: f64,
}

fn d_schedule() -> String {
    "plateau".into()
}
fn d_factor() -> f64 {
    0.1
}
fn d_patience() -> u32 {
    10
}
fn d_threshold() -> f64 {
    1e-4
}
fn d_threshold_mode() -> String {
    "rel".into()
}
fn d_eps_lr() -> f64 {
    1e-8
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        Self {
            name: d_schedule(),
            factor: d_factor(),
            patience: d_patience(),
            cooldown: 0,
            min_lr: 0.0,
            threshold: d_threshold(),
            threshold_mode: d_threshold_mode(),
            eps: d_eps_lr(),
        }
    }
}

impl ScheduleSpec {
    fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: String| Err((format!("schedule.{f}"), m));
        if !["plateau", "constant"].contains(&self.name.as_str()) {
            return err(
                "name",
                format!("unknown schedule `{}`; valid: plateau, constant", self.name),
            );
        }
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return err("factor", format!("must be in (0, 1), got {}", self.factor));
        }
        if !["rel", "abs"].contains(&self.threshold_mode.as_str()) {
            return err(
                "threshold_mode",
                format!("unknown mode `{}`; valid: rel, abs", self.threshold_mode),
            );
        }
        if self.min_lr < 0.0 || self.threshold < 0.0 {
            return err(
                "min_lr",
                "`min_lr` and `threshold` must not be negative".into(),
            );
        }
        Ok(())
    }
}

impl RunSpec {
    /// Checks what serde cannot: ranges and combinations. Returns (field, message).
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: &str| Err((f.to_owned(), m.to_owned()));
        if self.name.is_empty() || self.name.contains(['/', '\\']) || self.name.starts_with('.') {
            return err(
                "name",
                "must be non-empty, without `/` or `\\`, not starting with `.` (it names a directory)",
            );
        }
        if self.batch_size < 2 {
            return err(
                "batch_size",
                "must be at least 2 (batch norm needs two samples)",
            );
        }
        if self.batches == 0 {
            return err("batches", "must be at least 1");
        }
        if self.eval_every == 0 {
            return err("eval_every", "must be at least 1");
        }
        if !(self.data.val_fraction > 0.0 && self.data.val_fraction < 1.0) {
            return err("data.val_fraction", "must be between 0 and 1 (exclusive)");
        }
        if !(self.backbone.lr_scale.is_finite() && self.backbone.lr_scale > 0.0) {
            return err(
                "backbone.lr_scale",
                "must be a positive number (to keep the backbone as it is, set `freeze = true`)",
            );
        }
        if !self.backbone.options.get_ref().is_table() {
            return err("backbone.options", "must be a table");
        }
        if !self.head.options.get_ref().is_table() {
            return err("head.options", "must be a table");
        }
        self.optimizer.validate()?;
        self.schedule.validate()?;
        self.data.loader.validate()?;
        crate::device::DeviceSpec::parse(&self.device).map_err(|m| ("device".to_owned(), m))?;
        rateme_sdk::Precision::parse(&self.precision).map_err(|m| ("precision".to_owned(), m))?;
        Ok(())
    }

    /// The run's output directory for an experiment named `experiment`.
    pub fn run_dir(&self, experiment: &str) -> PathBuf {
        self.output_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(experiment))
            .join(&self.name)
    }
}

/// `[tracking]`: log every run to an MLflow tracking server. Without the table, runs are tracked
/// when `MLFLOW_TRACKING_URI` is set (MLflow's own convention) and not otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingSpec {
    /// `http(s)://host:port` of the server. Default: `MLFLOW_TRACKING_URI`. `--tracking-uri`
    /// overrides it.
    #[serde(default)]
    pub uri: Option<String>,
    /// `false` turns tracking off even when `MLFLOW_TRACKING_URI` is set. Default true.
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// MLflow experiment the runs go to (created when missing). Default:
    /// `MLFLOW_EXPERIMENT_NAME`, else the experiment's `name`.
    #[serde(default)]
    pub experiment: Option<String>,
    /// Log the training loss of every this many batches as `batch_loss` (0: only the evaluation
    /// metrics). Default 10.
    #[serde(default = "d_log_every")]
    pub log_every: u64,
    /// Upload the best weights (`best/`) as artifacts too. Default false.
    #[serde(default)]
    pub checkpoints: bool,
    /// At the end of the sweep, wait at most this long for the server to take what is still
    /// queued; the rest stays spooled on disk for the next run or `runner sync`. Default 30.
    #[serde(default = "d_flush_timeout")]
    pub flush_timeout_s: f64,
    /// Extra tags on every run.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

fn d_log_every() -> u64 {
    10
}
fn d_flush_timeout() -> f64 {
    30.0
}

impl Default for TrackingSpec {
    fn default() -> Self {
        Self {
            uri: None,
            enabled: true,
            experiment: None,
            log_every: d_log_every(),
            checkpoints: false,
            flush_timeout_s: d_flush_timeout(),
            tags: Default::default(),
        }
    }
}

impl TrackingSpec {
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        if let Some(uri) = &self.uri
            && !(uri.starts_with("http://") || uri.starts_with("https://"))
        {
            return Err((
                "uri".into(),
                "must start with http:// or https:// (rateme talks to a tracking server over REST; file stores are not supported)".into(),
            ));
        }
        if !(self.flush_timeout_s >= 0.0 && self.flush_timeout_s.is_finite()) {
            return Err((
                "flush_timeout_s".into(),
                "must be a number of seconds ≥ 0".into(),
            ));
        }
        Ok(())
    }
}
