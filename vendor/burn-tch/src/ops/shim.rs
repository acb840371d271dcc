//! rateme's addition (see PATCHES.md): calling the C entry points in `csrc/`, which hand back
//! new LibTorch tensors through output pointers and report a C++ exception as a message.

use std::ffi::{CStr, c_char};
use torch_sys::C_tensor;

/// The tensors `call` writes through its `N` output pointers, taking ownership of them (`None`
/// where it left a pointer null); a message it returns is LibTorch's error, freed here and
/// raised as a panic naming `what`.
///
/// # Safety
/// `call` must either write a new LibTorch tensor (or null) through each pointer and return null,
/// or return an error message allocated with malloc.
pub(crate) unsafe fn outputs<const N: usize>(
    what: &str,
    call: impl FnOnce(&mut [*mut C_tensor; N]) -> *mut c_char,
) -> [Option<tch::Tensor>; N] {
    let mut out: [*mut C_tensor; N] = [std::ptr::null_mut(); N];
    let error = call(&mut out);
    if !error.is_null() {
        // SAFETY: a NUL-terminated message from strdup.
        let message = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
        unsafe { libc::free(error.cast()) };
        panic!("LibTorch {what} failed: {message}");
    }
    // SAFETY: each non-null pointer is a tensor the shim allocated for the caller.
    out.map(|tensor| (!tensor.is_null()).then(|| unsafe { tch::Tensor::from_ptr(tensor) }))
}
