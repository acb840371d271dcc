use crate::burn::module::Module;
use crate::burn::tensor::Tensor;
use crate::trainable::{TrainPart, Trainable};

/// What a head plugin implements for its `#[derive(Module)]` struct.
pub trait HeadModel: Module + 'static {
    /// Features `[batch, in_features]` → scores `[batch, 1]`.
    fn forward(&self, features: Tensor<2>) -> Tensor<2>;
}

trait HeadDyn: TrainPart {
    fn forward(&self, features: Tensor<2>) -> Tensor<2>;
}

impl<M: HeadModel> HeadDyn for Trainable<M> {
    fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        self.module().forward(features)
    }
}

/// A built head, as the runner holds it.
pub struct Head {
    name: String,
    in_features: usize,
    model: Box<dyn HeadDyn>,
}

impl Head {
    /// Wraps a model built for `in_features` inputs.
    pub fn new<M: HeadModel>(name: impl Into<String>, in_features: usize, model: M) -> Self {
        Self {
            name: name.into(),
            in_features,
            model: Box::new(Trainable::new(model)),
        }
    }

    /// Registered plugin name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Width of the features the head was built for.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Scores `[batch, 1]`.
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        self.model.forward(features)
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

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("name", &self.name)
            .field("in_features", &self.in_features)
            .finish_non_exhaustive()
    }
}
