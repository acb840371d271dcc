//! The object-safe training surface shared by backbones and heads.
//!
//! burn's optimizers consume a module by value and are generic over it, so a trait object cannot
//! hold them directly. [`Trainable`] owns the module (training copy, plus an evaluation snapshot
//! while in eval mode), its own optimizer and its own share of the gradients, and implements
//! [`TrainPart`] for any [`Module`]. The runner sees only `dyn TrainPart`.

use crate::PluginError;
use crate::burn::module::{Module, ModuleVisitor, Param};
use crate::burn::optim::{GradientsParams, ModuleOptimizer};
use crate::burn::store::ModuleRecord;
use crate::burn::tensor::{Bytes, Gradients, Tensor};
use crate::optim::OptimizerSettings;

/// Gradient statistics of one parameter tensor (for diagnostics and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamGradStat {
    /// Module path, e.g. `blocks.0.conv.weight`.
    pub path: String,
    /// Number of scalars in the tensor.
    pub numel: usize,
    /// L2 norm of its gradient; `None` when the last backward pass gave it no gradient.
    pub grad_norm: Option<f64>,
}

/// What the runner needs from every trainable part (backbone or head), without knowing its type.
///
/// One training step, as the runner does it:
/// `loss.backward()` → [`collect_grads`](TrainPart::collect_grads) on every part →
/// global norm from [`grad_sq_norm`](TrainPart::grad_sq_norm) → [`step`](TrainPart::step) on
/// every part with the same clipping scale.
pub trait TrainPart: Send {
    /// Chooses the optimizer; resets its state.
    fn configure_optimizer(&mut self, settings: &OptimizerSettings);
    /// Takes this part's gradients out of the gradients of a backward pass.
    fn collect_grads(&mut self, grads: &mut Gradients);
    /// Sum of squared gradient entries over this part's parameters (0 when none collected).
    fn grad_sq_norm(&self) -> f64;
    /// Per-parameter gradient norms of the collected gradients.
    fn grad_stats(&self) -> Vec<ParamGradStat>;
    /// Applies the collected gradients, multiplied by `grad_scale` (global-norm clipping), with
    /// learning rate `lr`. Does nothing when no gradients were collected or the part is frozen.
    fn step(&mut self, lr: f64, grad_scale: f64);
    /// Training mode (dropout active, batch norm uses and updates batch statistics) or
    /// evaluation mode (no autodiff, running statistics).
    fn set_training(&mut self, training: bool);
    /// Whether the part is in training mode.
    fn is_training(&self) -> bool;
    /// Stops gradients and training behaviour for all parameters of this part.
    fn freeze(&mut self);
    /// Total number of scalar parameters.
    fn num_params(&self) -> usize;
    /// Number of scalar parameters that receive gradients.
    fn num_trainable_params(&self) -> usize;
    /// The weights (and batch-norm running statistics) as a burnpack byte buffer.
    fn weights_to_bytes(&self) -> Result<Vec<u8>, PluginError>;
    /// Loads weights written by [`weights_to_bytes`](TrainPart::weights_to_bytes).
    fn load_weights(&mut self, bytes: Vec<u8>) -> Result<(), PluginError>;
    /// The optimizer state as a burnpack byte buffer.
    fn optimizer_to_bytes(&self) -> Result<Vec<u8>, PluginError>;
    /// Loads optimizer state written by [`optimizer_to_bytes`](TrainPart::optimizer_to_bytes).
    fn load_optimizer(&mut self, bytes: Vec<u8>) -> Result<(), PluginError>;
}

/// Owns a module for training; see the module docs.
pub(crate) struct Trainable<M: Module> {
    train: Option<M>,
    eval: Option<M>,
    optimizer: ModuleOptimizer,
    grads: Option<GradientsParams>,
    frozen: bool,
}

impl<M: Module + 'static> Trainable<M> {
    pub(crate) fn new(module: M) -> Self {
        Self {
            train: Some(module.train()),
            eval: None,
            optimizer: OptimizerSettings::default().build(),
            grads: None,
            frozen: false,
        }
    }

    /// The module to run forward passes with in the current mode.
    pub(crate) fn module(&self) -> &M {
        self.eval
            .as_ref()
            .or(self.train.as_ref())
            .expect("a Trainable always holds its module")
    }

    fn train_module(&self) -> &M {
        self.train
            .as_ref()
            .expect("a Trainable always holds its module")
    }

    fn map_train(&mut self, f: impl FnOnce(M) -> M) {
        let module = self
            .train
            .take()
            .expect("a Trainable always holds its module");
        self.train = Some(f(module));
        if self.eval.is_some() {
            self.eval = Some(self.train_module().valid());
        }
    }
}

impl<M: Module + 'static> TrainPart for Trainable<M> {
    fn configure_optimizer(&mut self, settings: &OptimizerSettings) {
        self.optimizer = settings.build();
    }

    fn collect_grads(&mut self, grads: &mut Gradients) {
        self.grads = Some(GradientsParams::from_module(grads, self.train_module()));
    }

    fn grad_sq_norm(&self) -> f64 {
        let Some(grads) = &self.grads else { return 0.0 };
        let mut visitor = SqNorm { grads, acc: None };
        self.train_module().visit(&mut visitor);
        visitor
            .acc
            .map(|t| f64::from(t.into_scalar::<f32>()))
            .unwrap_or(0.0)
    }

    fn grad_stats(&self) -> Vec<ParamGradStat> {
        let mut visitor = Stats {
            grads: self.grads.as_ref(),
            path: Vec::new(),
            out: Vec::new(),
        };
        self.train_module().visit(&mut visitor);
        visitor.out
    }

    fn step(&mut self, lr: f64, grad_scale: f64) {
        let Some(mut grads) = self.grads.take() else {
            return;
        };
        if self.frozen || grads.is_empty() {
            return;
        }
        if grad_scale != 1.0 {
            let mut scaler = Scale {
                grads: &mut grads,
                scale: grad_scale,
            };
            self.train_module().visit(&mut scaler);
        }
        let module = self
            .train
            .take()
            .expect("a Trainable always holds its module");
        self.train = Some(self.optimizer.step(lr, module, grads));
    }

    fn set_training(&mut self, training: bool) {
        self.eval = if training {
            None
        } else {
            Some(self.train_module().valid())
        };
    }

    fn is_training(&self) -> bool {
        self.eval.is_none()
    }

    fn freeze(&mut self) {
        self.frozen = true;
        self.grads = None;
        self.map_train(|m| m.freeze());
    }

    fn num_params(&self) -> usize {
        self.train_module().num_params()
    }

    fn num_trainable_params(&self) -> usize {
        if self.frozen {
            return 0;
        }
        let mut visitor = CountTrainable { count: 0 };
        self.train_module().visit(&mut visitor);
        visitor.count
    }

    fn weights_to_bytes(&self) -> Result<Vec<u8>, PluginError> {
        // burn keeps the latest update of a batch-norm running statistic (`RunningState`)
        // pending until a mode switch syncs it, and a record reads only the synced value: a
        // checkpoint written between two evaluations would hold statistics one step old, and a
        // resume from it would evaluate differently from an uninterrupted run. `valid()` syncs
        // every running state in place (the copy it returns is not needed).
        drop(self.train_module().valid());
        let bytes = self
            .train_module()
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| PluginError::Record(format!("cannot serialise weights: {e}")))?;
        Ok(bytes.to_vec())
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> Result<(), PluginError> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| PluginError::Record(format!("cannot read weights: {e}")))?;
        let module = self
            .train
            .take()
            .expect("a Trainable always holds its module");
        let fallback = module.clone();
        match module.try_load_record(record) {
            Ok(loaded) => {
                self.train = Some(loaded);
                if self.eval.is_some() {
                    self.eval = Some(self.train_module().valid());
                }
                Ok(())
            }
            Err(e) => {
                self.train = Some(fallback);
                Err(PluginError::Record(format!(
                    "weights do not fit this model: {e}"
                )))
            }
        }
    }

    fn optimizer_to_bytes(&self) -> Result<Vec<u8>, PluginError> {
        let bytes = self
            .optimizer
            .into_bytes()
            .map_err(|e| PluginError::Record(format!("cannot serialise optimizer state: {e}")))?;
        Ok(bytes.to_vec())
    }

    fn load_optimizer(&mut self, bytes: Vec<u8>) -> Result<(), PluginError> {
        self.optimizer = self
            .optimizer
            .clone()
            .from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| PluginError::Record(format!("cannot read optimizer state: {e}")))?;
        Ok(())
    }
}

struct SqNorm<'a> {
    grads: &'a GradientsParams,
    acc: Option<Tensor<1>>,
}

impl ModuleVisitor for SqNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let sq = g.square().sum();
            self.acc = Some(match self.acc.take() {
                Some(acc) => acc + sq,
                None => sq,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    scale: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.scale));
        }
    }
}

struct Stats<'a> {
    grads: Option<&'a GradientsParams>,
    path: Vec<String>,
    out: Vec<ParamGradStat>,
}

impl ModuleVisitor for Stats<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        if !value.is_require_grad() {
            return;
        }
        let grad_norm = self
            .grads
            .and_then(|g| g.get::<D>(param.id))
            .map(|g| f64::from(g.square().sum().into_scalar::<f32>()).sqrt());
        self.out.push(ParamGradStat {
            path: self.path.join("."),
            numel: value.shape().num_elements(),
            grad_norm,
        });
    }
}

struct CountTrainable {
    count: usize,
}

impl ModuleVisitor for CountTrainable {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        if value.is_require_grad() {
            self.count += value.shape().num_elements();
        }
    }
}
