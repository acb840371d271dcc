mod activation;
mod base;
mod bool_tensor;
#[cfg(rateme_libtorch_shim)]
mod convolution_backward;
#[cfg(rateme_libtorch_shim)]
pub(crate) mod norm;
#[cfg(rateme_libtorch_shim)]
mod shim;
mod int_tensor;
mod module;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
