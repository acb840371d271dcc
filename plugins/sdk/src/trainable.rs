//! The object-safe training surface shared by backbones and heads.
//!
//! burn's optimizers consume a module by value and are generic over it, so a trait object cannot
//! hold them directly. [`Trainable`] owns the module (training copy, plus an evaluation snapshot
//! while in eval mode), its own optimizer and its own share of the gradients, and implements
//! [`TrainPart`] for any [`Module`]. The runner sees only `dyn TrainPart`.

use crate::PluginError;
use crate::burn::module::{Flag, Module, ModuleMapper, ModuleVisitor, Param, ParamGroup};
use crate::burn::optim::{GradientsParams, ModuleOptimizer};
use crate::burn::store::burn_pack::Tensor as PackTensor;
use crate::burn::store::{
    BurnToPyTorchAdapter, ModuleRecord, ModuleSnapshot, PyTorchToBurnAdapter,
};
use crate::burn::tensor::{Bytes, Gradients, Tensor};
use crate::optim::OptimizerSettings;
use crate::weights::TensorInfo;

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
/// global norm from [`grad_sq_norm_tensor`](TrainPart::grad_sq_norm_tensor) →
/// [`step_scaled`](TrainPart::step_scaled) on every part with the same clipping scale, all on
/// the device (nothing read back to the host).
pub trait TrainPart: Send {
    /// Chooses the optimizer; resets its state.
    fn configure_optimizer(&mut self, settings: &OptimizerSettings);
    /// Module paths (whole path components) whose parameters get no weight decay when the
    /// settings spare norms and biases ([`OptimizerSettings::decays_norm_and_bias`]), beyond the
    /// one-dimensional parameters, which are always spared then. Applies from the next
    /// [`configure_optimizer`](TrainPart::configure_optimizer).
    fn exempt_from_decay(&mut self, paths: &[String]);
    /// The parameters (paths) the configured optimizer steps without weight decay; empty when
    /// everything decays.
    fn spared_from_decay(&self) -> &[String];
    /// Takes this part's gradients out of the gradients of a backward pass.
    fn collect_grads(&mut self, grads: &mut Gradients);
    /// Sum of squared gradient entries over this part's parameters (0 when none collected).
    /// Reads the value back from the device; see [`grad_sq_norm_tensor`](TrainPart::grad_sq_norm_tensor).
    fn grad_sq_norm(&self) -> f64;
    /// The same sum as a one-element tensor left on the device (`None` when no gradients were
    /// collected), so the step does not wait for the device.
    fn grad_sq_norm_tensor(&self) -> Option<Tensor<1>>;
    /// Per-parameter gradient norms of the collected gradients.
    fn grad_stats(&self) -> Vec<ParamGradStat>;
    /// Applies the collected gradients, multiplied by `grad_scale` (global-norm clipping), with
    /// learning rate `lr`. Does nothing when no gradients were collected or the part is frozen.
    fn step(&mut self, lr: f64, grad_scale: f64);
    /// [`step`](TrainPart::step) with the scale as a one-element tensor on the device (computed
    /// there from the global norm), so the step does not wait for the device.
    fn step_scaled(&mut self, lr: f64, grad_scale: &Tensor<1>);
    /// Training mode (dropout active, batch norm uses and updates batch statistics) or
    /// evaluation mode (no autodiff, running statistics).
    fn set_training(&mut self, training: bool);
    /// Whether the part is in training mode.
    fn is_training(&self) -> bool;
    /// Stops gradients and training behaviour for all parameters of this part.
    fn freeze(&mut self);
    /// Stops gradients and training behaviour (dropout, batch-norm statistics) for the
    /// parameters under any of these module paths (`stages.0`, `stem`; whole path components).
    fn freeze_paths(&mut self, prefixes: &[String]);
    /// Every tensor of the part (parameters and running statistics) by name and shape, in
    /// PyTorch's conventions (norm `weight`/`bias`, linear weights `[out, in]`), as pretrained
    /// files are matched against it.
    fn tensor_layout(&self) -> Vec<TensorInfo>;
    /// Replaces tensors by name (PyTorch's conventions, as
    /// [`tensor_layout`](TrainPart::tensor_layout) gives them); returns how many were applied.
    /// Tensors the part has no place for are an error.
    fn apply_tensors(&mut self, tensors: Vec<PackTensor>) -> Result<usize, PluginError>;
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
    decay_exempt: Vec<String>,
    spared: Vec<String>,
}

impl<M: Module + 'static> Trainable<M> {
    pub(crate) fn new(module: M) -> Self {
        Self {
            train: Some(module.train()),
            eval: None,
            optimizer: OptimizerSettings::default().build(None),
            grads: None,
            frozen: false,
            decay_exempt: Vec::new(),
            spared: Vec::new(),
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

impl<M: Module + 'static> Trainable<M> {
    /// Scales the collected gradients when asked, then takes the optimizer step.
    fn step_with(&mut self, lr: f64, scale: Option<ScaleBy<'_>>) {
        let Some(mut grads) = self.grads.take() else {
            return;
        };
        if self.frozen || grads.is_empty() {
            return;
        }
        if let Some(scale) = scale {
            let mut scaler = Scale {
                grads: &mut grads,
                scale,
            };
            self.train_module().visit(&mut scaler);
        }
        let module = self
            .train
            .take()
            .expect("a Trainable always holds its module");
        self.train = Some(self.optimizer.step(lr, module, grads));
    }
}

impl<M: Module + 'static> TrainPart for Trainable<M> {
    fn configure_optimizer(&mut self, settings: &OptimizerSettings) {
        self.spared = if settings.decays_norm_and_bias() {
            Vec::new()
        } else {
            let mut finder = DecayExempt {
                declared: &self.decay_exempt,
                path: Vec::new(),
                found: Vec::new(),
            };
            self.train_module().visit(&mut finder);
            finder.found
        };
        let exempt = (!self.spared.is_empty()).then(|| ParamGroup::from_paths(self.spared.clone()));
        self.optimizer = settings.build(exempt);
    }

    fn spared_from_decay(&self) -> &[String] {
        &self.spared
    }

    fn exempt_from_decay(&mut self, paths: &[String]) {
        self.decay_exempt = paths.to_vec();
    }

    fn collect_grads(&mut self, grads: &mut Gradients) {
        self.grads = Some(GradientsParams::from_module(grads, self.train_module()));
    }

    fn grad_sq_norm(&self) -> f64 {
        self.grad_sq_norm_tensor()
            .map(|t| f64::from(t.into_scalar::<f32>()))
            .unwrap_or(0.0)
    }

    fn grad_sq_norm_tensor(&self) -> Option<Tensor<1>> {
        let grads = self.grads.as_ref()?;
        let mut visitor = SqNorm { grads, acc: None };
        self.train_module().visit(&mut visitor);
        visitor.acc
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
        let scale = (grad_scale != 1.0).then_some(ScaleBy::Value(grad_scale));
        self.step_with(lr, scale);
    }

    fn step_scaled(&mut self, lr: f64, grad_scale: &Tensor<1>) {
        self.step_with(lr, Some(ScaleBy::Tensor(grad_scale)));
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

    fn freeze_paths(&mut self, prefixes: &[String]) {
        let mut mapper = FreezePaths {
            prefixes,
            path: Vec::new(),
        };
        self.map_train(|m| m.map(&mut mapper));
    }

    fn tensor_layout(&self) -> Vec<TensorInfo> {
        self.train_module()
            .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
            .into_iter()
            .map(|t| TensorInfo {
                name: t.name.clone(),
                shape: t.shape.to_vec(),
            })
            .collect()
    }

    fn apply_tensors(&mut self, tensors: Vec<PackTensor>) -> Result<usize, PluginError> {
        let module = self
            .train
            .as_mut()
            .expect("a Trainable always holds its module");
        // PyTorch's conventions to burn's: linear weights transposed, norm weight/bias to
        // gamma/beta (by the module types along each path).
        let result = module.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true);
        if !result.errors.is_empty() || !result.unused.is_empty() {
            let errors: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
            return Err(PluginError::Record(format!(
                "weights do not fit: {}{}",
                errors.join("; "),
                if result.unused.is_empty() {
                    String::new()
                } else {
                    format!("; no place for {}", result.unused.join(", "))
                }
            )));
        }
        if self.eval.is_some() {
            self.eval = Some(self.train_module().valid());
        }
        Ok(result.applied.len())
    }

    fn num_params(&self) -> usize {
        let mut visitor = CountParams {
            path: Vec::new(),
            count: 0,
        };
        self.train_module().visit(&mut visitor);
        visitor.count
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

/// A gradient scale: a number, or a one-element tensor on the device.
#[derive(Clone, Copy)]
enum ScaleBy<'a> {
    Value(f64),
    Tensor(&'a Tensor<1>),
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    scale: ScaleBy<'a>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let scaled = match self.scale {
                ScaleBy::Value(v) => g.mul_scalar(v),
                ScaleBy::Tensor(t) => g.mul(t.clone().unsqueeze::<D>()),
            };
            self.grads.register(param.id, scaled);
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

/// Freezes the parameters and training flags (dropout, batch norm) under some module paths.
/// Collects the paths of the parameters spared weight decay: one-dimensional ones, and those
/// under a declared path. The paths are the optimizer's own (`blocks.0.norm.gamma`), so its
/// groups match them on every step and when its state is loaded again.
struct DecayExempt<'a> {
    declared: &'a [String],
    path: Vec<String>,
    found: Vec<String>,
}

impl ModuleVisitor for DecayExempt<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
        let path = self.path.join(".");
        if D <= 1 || within(&path, self.declared) {
            self.found.push(path);
        }
    }
}

/// Whether `path` is one of `prefixes` or lies under one (whole path components).
fn within(path: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        path.strip_prefix(p.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

struct FreezePaths<'a> {
    prefixes: &'a [String],
    path: Vec<String>,
}

impl FreezePaths<'_> {
    fn frozen(&self) -> bool {
        within(&self.path.join("."), self.prefixes)
    }
}

impl ModuleMapper for FreezePaths<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.frozen() {
            param.set_require_grad(false)
        } else {
            param
        }
    }

    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        if self.frozen() {
            flag.with_value(false)
        } else {
            flag
        }
    }
}

/// Counts parameters as PyTorch's `parameters()` does: batch-norm running statistics (which
/// burn's `num_params` includes) are buffers, not parameters.
struct CountParams {
    path: Vec<(String, String)>,
    count: usize,
}

impl ModuleVisitor for CountParams {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push((name.to_owned(), container_type.to_owned()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // A field is entered with the type of the struct holding it.
        let running_stat = self.path.last().is_some_and(|(name, holder)| {
            name.starts_with("running_") && holder.ends_with("BatchNorm")
        });
        if !running_stat {
            self.count += param.lazy_shape().num_elements();
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::burn::nn::{Linear, LinearConfig};
    use crate::burn::tensor::{Device, Distribution};

    #[derive(Module, Debug)]
    struct Probe {
        linear: Linear,
        scale: Param<Tensor<1>>,
        token: Param<Tensor<3>>,
    }

    fn probe(device: &Device) -> Probe {
        let values = Distribution::Uniform(1.0, 2.0);
        Probe {
            linear: LinearConfig::new(3, 2).init(device),
            scale: Param::from_tensor(Tensor::random([4], values, device)),
            token: Param::from_tensor(Tensor::random([1, 1, 4], values, device)),
        }
    }

    /// Every parameter's values by path.
    #[derive(Default)]
    struct Values {
        path: Vec<String>,
        out: Vec<(String, Vec<f32>)>,
    }

    impl ModuleVisitor for Values {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_owned());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            self.out.push((self.path.join("."), values));
        }
    }

    fn values(part: &Trainable<Probe>) -> Vec<(String, Vec<f32>)> {
        let mut v = Values::default();
        part.module().visit(&mut v);
        v.out
    }

    /// One step on zero gradients (so that only weight decay moves a parameter); the paths
    /// whose values moved.
    fn step_on_zero_gradients(part: &mut Trainable<Probe>, device: &Device) -> Vec<String> {
        let before = values(part);
        let m = part.module();
        let x = Tensor::<2>::ones([2, 3], device);
        let loss = (m.linear.forward(x).sum() + m.scale.val().sum() + m.token.val().sum()) * 0.0;
        part.collect_grads(&mut loss.backward());
        part.step(0.1, 1.0);
        before
            .into_iter()
            .zip(values(part))
            .filter(|((_, a), (_, b))| a != b)
            .map(|((path, _), _)| path)
            .collect()
    }

    fn settings(name: &str, decay_norm_and_bias: bool) -> OptimizerSettings {
        let (beta1, beta2, eps, weight_decay) = (0.9, 0.999, 1e-8, 0.5);
        match name {
            "adamw" => OptimizerSettings::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                decay_norm_and_bias,
            },
            "adam" => OptimizerSettings::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                decay_norm_and_bias,
            },
            _ => OptimizerSettings::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay,
                decay_norm_and_bias,
            },
        }
    }

    #[test]
    fn sparing_norm_and_bias_from_decay_spares_exactly_them_and_the_declared_paths() {
        let device = Device::flex().autodiff();
        for name in ["adamw", "adam", "sgd"] {
            let mut part = Trainable::new(probe(&device));
            part.exempt_from_decay(&["token".to_owned()]);
            part.configure_optimizer(&settings(name, true));
            assert_eq!(
                step_on_zero_gradients(&mut part, &device),
                ["linear.weight", "linear.bias", "scale", "token"],
                "{name}: everything decays by default"
            );
            part.configure_optimizer(&settings(name, false));
            assert_eq!(
                step_on_zero_gradients(&mut part, &device),
                ["linear.weight"],
                "{name}: one-dimensional and declared parameters are spared"
            );
            // The groups survive the optimizer state's round trip (a resumed run).
            let bytes = part.optimizer_to_bytes().unwrap();
            let mut resumed = Trainable::new(part.train.take().unwrap());
            resumed.exempt_from_decay(&["token".to_owned()]);
            resumed.configure_optimizer(&settings(name, false));
            resumed.load_optimizer(bytes).unwrap();
            assert_eq!(
                step_on_zero_gradients(&mut resumed, &device),
                ["linear.weight"],
                "{name}: after loading the state"
            );
        }
    }

    #[test]
    fn adamw_spares_without_changing_the_decay_of_the_rest() {
        let device = Device::flex().autodiff();
        let mut part = Trainable::new(probe(&device));
        part.configure_optimizer(&settings("adamw", false));
        let before = values(&part);
        step_on_zero_gradients(&mut part, &device);
        // PyTorch's AdamW on a zero gradient: p * (1 - lr * weight_decay) for the decayed (here
        // the token too: nothing declares it).
        for ((path, a), (_, b)) in before.iter().zip(values(&part)) {
            let factor = if path == "scale" || path == "linear.bias" {
                1.0
            } else {
                0.95
            };
            for (x, y) in a.iter().zip(&b) {
                assert!((x * factor - y).abs() < 1e-6, "{path}: {x} -> {y}");
            }
        }
    }
}
