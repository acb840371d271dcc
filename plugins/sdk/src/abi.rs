//! The symbols every plugin library exports, and the fingerprint and anchor that guard them.

use crate::Registry;

/// Fingerprint of this SDK build: SDK version, rustc release and commit, target, profile and
/// optimisation level, enabled features, a hash of rustflags and of every SDK source file.
/// Computed by `build.rs`; a plugin embeds the value of the SDK it was compiled against.
pub const ABI_FINGERPRINT: &str = env!("RATEME_SDK_ABI");

/// [`ABI_FINGERPRINT`] with a trailing NUL, as [`export_plugin!`] embeds it into a plugin.
#[doc(hidden)]
pub const ABI_FINGERPRINT_NUL: &str = concat!(env!("RATEME_SDK_ABI"), "\0");

/// Exported by every plugin: `extern "C" fn() -> *const c_char`, a NUL-terminated fingerprint.
/// A C-ABI function returning a C string, so it can be read safely from a plugin built by any
/// compiler, before anything else is called.
pub const ABI_SYMBOL: &[u8] = b"rateme_plugin_abi\0";

/// Exported by every plugin: `fn(&mut Registry)`. Called only after the fingerprint matched.
pub const REGISTER_SYMBOL: &[u8] = b"rateme_plugin_register\0";

/// Exported by every plugin: `extern "C" fn() -> *const u8`, the address of [`SDK_ANCHOR`] as the
/// plugin sees it. A plugin linked to the process's SDK library sees the runner's; one that
/// carries its own copy of the SDK and of burn (a self-contained `cdylib`) sees its own, and is
/// refused before anything else of it is called: two copies of burn's autodiff state train
/// nothing and report no error.
pub const ANCHOR_SYMBOL: &[u8] = b"rateme_plugin_sdk_anchor\0";

/// A static the SDK library owns; only its address matters (see [`ANCHOR_SYMBOL`]).
#[doc(hidden)]
pub static SDK_ANCHOR: [u8; 16] = *b"rateme-sdk-anchr";

/// Signature of [`ANCHOR_SYMBOL`].
pub type PluginAnchorFn = unsafe extern "C" fn() -> *const u8;

/// Signature of [`ABI_SYMBOL`].
pub type PluginAbiFn = unsafe extern "C" fn() -> *const core::ffi::c_char;

/// Signature of [`REGISTER_SYMBOL`].
pub type PluginRegisterFn = fn(&mut Registry);

/// Exports a plugin library's ABI fingerprint and register function.
///
/// ```ignore
/// rateme_sdk::export_plugin!(|registry| {
///     registry.backbone("smallconv", "a small convnet for CPU demos", build_smallconv);
/// });
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($register:expr) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn rateme_plugin_abi() -> *const ::core::ffi::c_char {
            // A const: the value of the SDK this plugin is compiled against is copied into the
            // plugin, so a plugin left over from an older SDK build reports the old fingerprint.
            const WITH_NUL: &str = $crate::ABI_FINGERPRINT_NUL;
            WITH_NUL.as_ptr().cast()
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn rateme_plugin_sdk_anchor() -> *const u8 {
            $crate::SDK_ANCHOR.as_ptr()
        }

        #[unsafe(no_mangle)]
        pub fn rateme_plugin_register(registry: &mut $crate::Registry) {
            let register: fn(&mut $crate::Registry) = $register;
            register(registry)
        }
    };
}
