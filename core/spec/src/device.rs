//! Which burn device a run trains on. `cpu` = burn's pure-Rust `flex` backend (nothing to
//! install); `tch-cpu` and `cuda[:N]` = LibTorch, available when built with the `tch` feature.

use rateme_sdk::Precision;
use rateme_sdk::burn::tensor::Device;

/// A parsed `device = "..."` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// burn's flex CPU backend.
    Cpu,
    /// LibTorch on CPU.
    TchCpu,
    /// LibTorch CUDA device N.
    Cuda(usize),
}

const VALID: &str = "valid: cpu (flex, default), tch-cpu, cuda, cuda:N";

impl DeviceSpec {
    /// Parses a device name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "cpu" | "flex" => Ok(Self::Cpu),
            "tch-cpu" | "libtorch" => Ok(Self::TchCpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Self::Cuda(n)),
                _ => Err(format!("unknown device `{other}`; {VALID}")),
            },
        }
    }

    /// Whether runs on this device can compute in `precision` (the `precision` key).
    pub fn check_precision(&self, precision: &str) -> Result<Precision, String> {
        let precision = Precision::parse(precision)?;
        if precision == Precision::Bf16 && *self == Self::Cpu {
            return Err(
                "precision `bf16` needs a LibTorch device (tch-cpu or cuda); `cpu` (burn's flex) computes in f32 only: set precision = \"f32\" or another device".into(),
            );
        }
        Ok(precision)
    }

    /// The plain (non-autodiff) device, or why this build cannot provide it.
    pub fn device(&self) -> Result<Device, String> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            // burn marks its LibTorch devices deprecated (in favour of its CubeCL backends, whose
            // CUDA build needs an LLVM bundle this project cannot fetch; backends.md): LibTorch
            // is this project's CPU-fast and CUDA route, so the calls are allowed here.
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Self::TchCpu => Ok(Device::libtorch()),
            #[cfg(feature = "tch")]
            Self::Cuda(n) => cuda::device(*n),
            #[cfg(not(feature = "tch"))]
            Self::TchCpu | Self::Cuda(_) => Err(format!(
                "device `{self}` needs LibTorch: run `bash scripts/setup-libtorch.sh`, then build with `--features tch` (see README)"
            )),
        }
    }
}

/// LibTorch's CUDA half, loaded when a CUDA device is asked for, so one build runs on machines
/// with and without CUDA.
#[cfg(feature = "tch")]
mod cuda {
    use rateme_sdk::burn::tensor::{Device, DeviceType};

    /// Where the library is looked for, in the error.
    const WHERE: &str = "put the torch/lib and nvidia/*/lib folders of a CUDA build of PyTorch 2.11 on LD_LIBRARY_PATH (the run.sh of scripts/gpu-bundle.sh does), or use --device tch-cpu or cpu";

    /// Loads `libtorch_cuda.so` (once; `RTLD_GLOBAL`, so LibTorch finds its CUDA kernels and
    /// hooks) and checks that CUDA device `n` exists. Must run before any other LibTorch call:
    /// LibTorch decides once whether CUDA is there.
    pub(super) fn device(n: usize) -> Result<Device, String> {
        static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        LOADED.get_or_init(load).clone()?;
        let count = Device::enumerate(DeviceType::LibTorch).len();
        if count == 0 {
            return Err(format!(
                "device `cuda:{n}`: LibTorch's CUDA library loaded but sees no CUDA device (no NVIDIA driver, no GPU, or CUDA_VISIBLE_DEVICES hides them); use --device tch-cpu or cpu"
            ));
        }
        if n >= count {
            return Err(format!(
                "device `cuda:{n}`: LibTorch sees {count} CUDA device(s), cuda:0 to cuda:{}",
                count - 1
            ));
        }
        #[allow(deprecated)] // as for `tch-cpu` above
        Ok(Device::libtorch_cuda(n))
    }

    fn load() -> Result<(), String> {
        use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
        // SAFETY: loading LibTorch's own CUDA library, built with the libtorch_cpu and libc10
        // this process already has; its initialisers only register CUDA kernels and hooks.
        let library = unsafe { Library::open(Some("libtorch_cuda.so"), RTLD_NOW | RTLD_GLOBAL) }
            .map_err(|e| {
                format!(
                    "device `cuda` needs LibTorch's CUDA library and cannot load it ({e}); {WHERE}"
                )
            })?;
        // The CPU-only LibTorch of scripts/setup-libtorch.sh has a stand-in of this library.
        // SAFETY: only looks the symbol up, never calls it.
        let stand_in = unsafe {
            library.get::<unsafe extern "C" fn() -> i32>(b"rateme_libtorch_cuda_stand_in")
        };
        if stand_in.is_ok() {
            return Err(format!(
                "device `cuda`: this LibTorch has no CUDA (the CPU-only tree of scripts/setup-libtorch.sh is loaded); {WHERE}"
            ));
        }
        // Never unloaded: the kernels it registered stay in use.
        std::mem::forget(library);
        Ok(())
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::TchCpu => write!(f, "tch-cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!(DeviceSpec::parse("cpu"), Ok(DeviceSpec::Cpu));
        assert_eq!(DeviceSpec::parse("cuda"), Ok(DeviceSpec::Cuda(0)));
        assert_eq!(DeviceSpec::parse("cuda:3"), Ok(DeviceSpec::Cuda(3)));
        assert!(DeviceSpec::parse("cuda:x").unwrap_err().contains("valid:"));
        assert!(DeviceSpec::parse("ndarray").is_err());
    }

    /// On a machine without CUDA (CI): a one-line error naming the library or the missing
    /// device, not a panic inside LibTorch.
    #[cfg(feature = "tch")]
    #[test]
    fn cuda_without_cuda_is_a_clear_error() {
        if std::path::Path::new("/dev/nvidia0").exists() {
            return; // a GPU machine: covered by scripts/gpu-check.sh
        }
        let err = DeviceSpec::Cuda(0).device().unwrap_err();
        assert!(
            err.contains("libtorch_cuda.so")
                || err.contains("no CUDA")
                || err.contains("no CUDA device"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        assert!(DeviceSpec::TchCpu.device().is_ok());
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn libtorch_devices_explain_the_feature() {
        let err = DeviceSpec::Cuda(0).device().unwrap_err();
        assert!(err.contains("setup-libtorch.sh"), "{err}");
    }
}
