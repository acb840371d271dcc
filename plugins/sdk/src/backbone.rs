use crate::burn::module::Module;
use crate::burn::tensor::{Device, Tensor};
use crate::trainable::{TrainPart, Trainable};
use crate::{InputSpec, PluginError};

/// What a backbone plugin implements for its `#[derive(Module)]` struct (timm's contract).
pub trait BackboneModel: Module + 'static {
    /// Images `[batch, 3, height, width]`, normalised per [`InputSpec`] → pooled features
    /// `[batch, num_features]`. Convolutional backbones pool their feature map here; token
    /// backbones return their pooled (class) token.
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2>;
}

trait BackboneDyn: TrainPart {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2>;
}

impl<M: BackboneModel> BackboneDyn for Trainable<M> {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        self.module().forward_features(images)
    }
}

/// A built backbone, as the runner holds it: a type-erased model plus what it declares.
pub struct Backbone {
    name: String,
    variant: String,
    num_features: usize,
    input: InputSpec,
    stages: Vec<Stage>,
    model: Box<dyn BackboneDyn>,
}

/// A named part of a backbone, in input-to-output order, for partial freezing:
/// `backbone.freeze = "<name>"` freezes this stage and every one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// What runs call it (`stem`, `stage:3`, `head`).
    pub name: String,
    /// The module paths it holds (`stages.2`; whole path components).
    pub paths: Vec<String>,
}

impl Stage {
    /// A stage of the given module paths.
    pub fn new(name: impl Into<String>, paths: &[&str]) -> Self {
        Self {
            name: name.into(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

impl Backbone {
    /// Wraps a model. `name` is the registered plugin name, `variant` the architecture variant
    /// (e.g. `b5`, `base`), `num_features` the width of `forward_features`' output and `input`
    /// what the data pipeline must feed it.
    pub fn new<M: BackboneModel>(
        name: impl Into<String>,
        variant: impl Into<String>,
        num_features: usize,
        input: InputSpec,
        model: M,
    ) -> Self {
        Self {
            name: name.into(),
            variant: variant.into(),
            num_features,
            input,
            stages: Vec::new(),
            model: Box::new(Trainable::new(model)),
        }
    }

    /// Declares the backbone's stages, input to output (see [`Stage`]).
    pub fn with_stages(mut self, stages: Vec<Stage>) -> Self {
        self.stages = stages;
        self
    }

    /// Declares module paths (whole path components) whose parameters are spared weight decay
    /// when a run spares norms and biases (`optimizer.decay_norm_and_bias = false`), beyond the
    /// one-dimensional parameters: timm's `no_weight_decay()` (a ViT's class token and position
    /// embedding).
    pub fn with_no_weight_decay(mut self, paths: &[&str]) -> Self {
        let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        self.model.exempt_from_decay(&paths);
        self
    }

    /// The declared stages, input to output.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Freezes every stage up to and including `name`. Unknown names are an error listing the
    /// valid ones.
    pub fn freeze_through(&mut self, name: &str) -> Result<(), PluginError> {
        let Some(last) = self.stages.iter().position(|s| s.name == name) else {
            let valid: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
            return Err(PluginError::Build(if valid.is_empty() {
                format!(
                    "backbone `{}` declares no stages; freeze all of it (`freeze = true`) or none",
                    self.name
                )
            } else {
                format!(
                    "backbone `{}` has no stage `{name}`; its stages, input to output: {}",
                    self.name,
                    valid.join(", ")
                )
            }));
        };
        let paths: Vec<String> = self.stages[..=last]
            .iter()
            .flat_map(|s| s.paths.iter().cloned())
            .collect();
        self.model.freeze_paths(&paths);
        Ok(())
    }

    /// Registered plugin name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Architecture variant.
    pub fn variant(&self) -> &str {
        &self.variant
    }

    /// Width of the pooled features.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Input size and normalisation the data pipeline must produce.
    pub fn input_spec(&self) -> &InputSpec {
        &self.input
    }

    /// Pooled features of a batch of normalised images. In evaluation mode the images must be on
    /// the plain (non-autodiff) device, see [`Backbone::input_device`].
    pub fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        self.model.forward_features(images)
    }

    /// The device inputs must be on in the current mode: the autodiff device while training, the
    /// plain one in evaluation mode.
    pub fn input_device(&self, training_device: &Device) -> Device {
        if self.model.is_training() {
            training_device.clone()
        } else {
            training_device.clone().inner()
        }
    }

    /// The training surface (optimizer, gradients, mode, weights).
    pub fn part(&mut self) -> &mut dyn TrainPart {
        &mut *self.model
    }

    /// Read-only training surface.
    pub fn part_ref(&self) -> &dyn TrainPart {
        &*self.model
    }
}

impl std::fmt::Debug for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backbone")
            .field("name", &self.name)
            .field("variant", &self.variant)
            .field("num_features", &self.num_features)
            .field("input", &self.input)
            .finish_non_exhaustive()
    }
}
