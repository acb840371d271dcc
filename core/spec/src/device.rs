//! Which burn device a run trains on. `cpu` = burn's pure-Rust `flex` backend (nothing to
//! install); `tch-cpu` and `cuda[:N]` = LibTorch, available when built with the `tch` feature.

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

    /// The plain (non-autodiff) device, or why this build cannot provide it.
    pub fn device(&self) -> Result<Device, String> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "tch")]
            Self::TchCpu => Ok(Device::libtorch()),
            #[cfg(feature = "tch")]
            Self::Cuda(n) => Ok(Device::libtorch_cuda(*n)),
            #[cfg(not(feature = "tch"))]
            Self::TchCpu | Self::Cuda(_) => Err(format!(
                "device `{self}` needs LibTorch: run `bash scripts/setup-libtorch.sh`, then build with `--features tch` (see README)"
            )),
        }
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

    #[cfg(not(feature = "tch"))]
    #[test]
    fn libtorch_devices_explain_the_feature() {
        let err = DeviceSpec::Cuda(0).device().unwrap_err();
        assert!(err.contains("setup-libtorch.sh"), "{err}");
    }
}
