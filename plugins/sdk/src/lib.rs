//! # rateme-sdk: the plugin SDK
//!
//! The one shared library (`crate-type = ["dylib"]`) that the `runner` and every plugin link.
//! It re-exports [`burn`] so the whole process holds one copy of burn (and of burn-autodiff's
//! global graph state; two copies train nothing and report no error).
//!
//! A plugin is a dylib crate that depends on this crate only. It:
//! 1. implements [`BackboneModel`] or [`HeadModel`] for a `#[derive(Module)]` struct,
//! 2. writes a constructor that parses its options table ([`parse_options`]) and builds the
//!    model on the device it is given,
//! 3. registers the constructors by name with [`export_plugin!`].
//!
//! The runner loads the library, checks [`ABI_FINGERPRINT`], calls the register function and
//! from then on talks to models only through the object-safe [`Backbone`] and [`Head`] handles.

pub use burn;
pub use serde;
pub use toml;

mod abi;
pub mod activation;
pub mod autocast;
mod backbone;
mod error;
mod head;
mod input;
pub mod layers;
#[cfg(feature = "tch")]
#[allow(deprecated)] // burn marks its LibTorch backend deprecated (see core/spec's device.rs)
mod libtorch;
mod optim;
mod registry;
mod trainable;
pub mod weights;

pub use abi::{
    ABI_FINGERPRINT, ABI_FINGERPRINT_NUL, ABI_SYMBOL, ANCHOR_SYMBOL, PluginAbiFn, PluginAnchorFn,
    PluginRegisterFn, REGISTER_SYMBOL, SDK_ANCHOR,
};
pub use autocast::Precision;
pub use backbone::{Backbone, BackboneModel, Stage};
pub use error::PluginError;
pub use head::{Head, HeadModel};
pub use input::InputSpec;
pub use optim::OptimizerSettings;
pub use registry::{BackboneCtor, BuildContext, HeadCtor, PluginEntry, Registry, parse_options};
pub use trainable::{ParamGradStat, TrainPart};

/// The types a plugin usually needs.
pub mod prelude {
    pub use crate::autocast;
    pub use crate::burn;
    pub use crate::burn::module::Module;
    pub use crate::burn::prelude::*;
    pub use crate::{
        Backbone, BackboneModel, BuildContext, Head, HeadModel, InputSpec, PluginError, Registry,
        Stage, export_plugin, parse_options, weights::NamingScheme,
    };
}
