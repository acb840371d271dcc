//! Inference: scores for new images from a trained run (`runner predict`, or
//! [`evaluate_image`] for Rust users: RateMeAI promised `evaluate_image(path) -> score`).

use std::path::{Path, PathBuf};

use rateme_sdk::burn::tensor::{Device, Tensor, TensorData};

use crate::plugins::PluginHost;
use crate::{BuiltModel, ModelCard, build_model};
use rateme_data::{self as data, Augment, load_image};
use rateme_spec::device::DeviceSpec;
use rateme_util::rng::Rng;

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

    /// One score per image, in order.
    pub fn predict_paths(&self, paths: &[PathBuf]) -> Result<Vec<f32>, PredictError> {
        let spec = &self.model.card.input;
        let (h, w) = (spec.height as usize, spec.width as usize);
        let per = 3 * h * w;
        let mut scores = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(32) {
            let mut buf = vec![0f32; chunk.len() * per];
            for (p, out) in chunk.iter().zip(buf.chunks_exact_mut(per)) {
                let img = load_image(p, spec, self.model.card.pad_to_square)?;
                Augment::apply(
                    None,
                    &img,
                    &data::pixel_spec(spec),
                    &mut Rng::new(0, &[]),
                    out,
                );
            }
            let x =
                Tensor::<4>::from_data(TensorData::new(buf, [chunk.len(), 3, h, w]), &self.device);
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
