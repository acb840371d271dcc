//! Inference: scores for new images from a trained run (`runner predict`, or
//! [`evaluate_image`] for Rust users: RateMeAI promised `evaluate_image(path) -> score`).

use std::path::{Path, PathBuf};

use rateme_sdk::burn::tensor::{Device, Tensor, TensorData};

use crate::feed;
use crate::plugins::PluginHost;
use crate::{BuiltModel, ModelCard, build_model};
use rateme_data::{self as data, DataError, Loader, Sample};
use rateme_spec::LoaderSpec;
use rateme_spec::device::DeviceSpec;

/// Why prediction failed.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// No weights directory found.
    #[error("{}: no model here: expected model.json in it, or in its best/ or checkpoint/ sub-directory (pass a run directory such as runs/demo/<run>)", .0.display())]
    NotFound(PathBuf),
    /// Reading the weights directory failed.
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// Plugins, device or weights.
    #[error("{0}")]
    Model(String),
    /// An image could not be read.
    #[error(transparent)]
    Image(#[from] rateme_data::DataError),
}

/// The weights directory for `path`: itself if it holds `model.json`, else `best/`, else
/// `checkpoint/`.
pub fn resolve_weights_dir(path: &Path) -> Result<PathBuf, PredictError> {
    [path.to_owned(), path.join("best"), path.join("checkpoint")]
        .into_iter()
        .find(|d| d.join("model.json").exists())
        .ok_or_else(|| PredictError::NotFound(path.to_owned()))
}

/// A trained model ready to score images.
pub struct Predictor {
    model: BuiltModel,
    device: Device,
}

impl Predictor {
    /// Loads the model of a run directory or weights directory. Plugins come from `host`.
    pub fn load(path: &Path, host: &PluginHost, device: &DeviceSpec) -> Result<Self, PredictError> {
        let dir = resolve_weights_dir(path)?;
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| PredictError::Io {
                path: dir.join(name),
                message: e.to_string(),
            })
        };
        let card: ModelCard =
            serde_json::from_slice(&read("model.json")?).map_err(|e| PredictError::Io {
                path: dir.join("model.json"),
                message: e.to_string(),
            })?;
        let device = device.device().map_err(PredictError::Model)?.autodiff();
        let mut model = build_model(
            host,
            (
                &card.backbone,
                &card.variant,
                &card.backbone_options,
                &card.head,
                &card.head_options,
            ),
            card.pad_to_square,
            &device,
            0,
        )
        .map_err(|e| PredictError::Model(e.to_string()))?;
        model
            .backbone
            .part()
            .load_weights(read("backbone.bpk")?)
            .map_err(|e| PredictError::Model(e.to_string()))?;
        model
            .head
            .part()
            .load_weights(read("head.bpk")?)
            .map_err(|e| PredictError::Model(e.to_string()))?;
        model.backbone.part().set_training(false);
        model.head.part().set_training(false);
        Ok(Self {
            model,
            device: device.inner(),
        })
    }

    /// What the model was built from.
    pub fn card(&self) -> &ModelCard {
        &self.model.card
    }

    /// One score per image, in order. Images are decoded, prepared and normalised exactly as
    /// the run's evaluation did, on all cores, ahead of the model.
    pub fn predict_paths(&self, paths: &[PathBuf]) -> Result<Vec<f32>, PredictError> {
        let card = &self.model.card;
        let spec = &card.input;
        let samples: Vec<Sample> = paths
            .iter()
            .enumerate()
            .map(|(k, p)| Sample {
                path: p.clone(),
                target: 0.0,
                group: None,
                weight: 1.0,
                line: k as u64 + 1,
            })
            .collect();
        let settings = feed::loader_settings(&LoaderSpec {
            cache: "off".into(),
            prefetch: 2,
            ..LoaderSpec::default()
        });
        let loader = Loader::new(
            &samples,
            data::pixel_spec(spec),
            card.prepared.unwrap_or((spec.width, spec.height)),
            card.pad_to_square,
            settings,
            Default::default(),
            0,
        )?;
        let mut scores = Vec::with_capacity(paths.len());
        for batch in loader.stream(
            feed::eval_plan(&(0..paths.len()).collect::<Vec<_>>(), 32),
            None,
            0,
        ) {
            if let Some(k) = batch.ok.iter().position(|ok| !ok) {
                let i = batch.indices[k];
                let reason = loader
                    .skipped()
                    .into_iter()
                    .find(|s| s.line == i as u64 + 1)
                    .map_or_else(|| "cannot be used".to_owned(), |s| s.reason);
                return Err(PredictError::Image(DataError::Image {
                    path: paths[i].display().to_string(),
                    message: reason,
                }));
            }
            let n = batch.indices.len();
            let shape = [n, 3, spec.height as usize, spec.width as usize];
            let x = Tensor::<4>::from_data(TensorData::new(batch.pixels, shape), &self.device);
            let y = self
                .model
                .head
                .forward(self.model.backbone.forward_features(x));
            scores.extend(
                y.into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| PredictError::Model(format!("{e:?}")))?,
            );
        }
        Ok(scores)
    }
}

/// The score of one image, with the model of a run directory (plugins from the runner's
/// default plugin directory, CPU).
pub fn evaluate_image(
    run_dir: impl AsRef<Path>,
    image: impl AsRef<Path>,
) -> Result<f32, PredictError> {
    let mut host = PluginHost::new();
    host.load_dir(&crate::plugins::default_dir())
        .map_err(|errors| {
            PredictError::Model(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    let predictor = Predictor::load(run_dir.as_ref(), &host, &DeviceSpec::Cpu)?;
    Ok(predictor.predict_paths(&[image.as_ref().to_owned()])?[0])
}
