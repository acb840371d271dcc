use crate::InputSpec;
use crate::burn::module::Module;
use crate::burn::tensor::{Device, Tensor};
use crate::trainable::{TrainPart, Trainable};

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
    model: Box<dyn BackboneDyn>,
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
            model: Box::new(Trainable::new(model)),
        }
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
