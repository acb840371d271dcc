mod activation;
mod base;
mod bool_tensor;
#[cfg(rateme_convolution_backward)]
mod convolution_backward;
mod int_tensor;
mod module;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
