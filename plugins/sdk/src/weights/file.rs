//! Reading a weights file as a flat list of named tensors: safetensors, PyTorch zip checkpoints
//! and PyTorch legacy pickles (burn-store's readers; strided tensors come out contiguous).

use std::path::{Path, PathBuf};

use crate::burn::store::pytorch_reader::{FileFormat, PytorchReader};
use crate::burn::store::{ModuleStore, SafetensorsStore, bridge};
use crate::burn::tensor::{DType, TensorData};

use super::WeightsError;

/// Keys a checkpoint commonly nests its weights under, most specific first. When a file holds
/// tensors under one of them, only that subtree is the model (an optimizer state beside it is
/// not).
pub const CONTAINER_KEYS: [&str; 6] = [
    "model_state_dict",
    "state_dict",
    "model_ema",
    "model",
    "net",
    "module",
];

/// One tensor of a file, materialised as 32-bit floats (or its own integer type).
#[derive(Debug, Clone)]
pub struct FileTensor {
    /// Name, with the container key removed (see [`WeightsFile::container`]); a naming
    /// scheme rewrites it.
    pub name: String,
    /// The name as the file has it (container key removed); kept through renames for reports.
    pub source: String,
    /// The file's own dtype (the data is converted to f32 when it is a float).
    pub stored_dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// The values.
    pub data: TensorData,
}

/// A weights file, read.
#[derive(Debug, Clone)]
pub struct WeightsFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// `safetensors`, `pytorch (zip)`, `pytorch (legacy pickle)`, ...
    pub format: String,
    /// The key the weights were nested under (`model_state_dict`, ...), if any; a leading
    /// `module.` (a model saved from `DataParallel`) is reported here too.
    pub container: Option<String>,
    /// Tensors in name order.
    pub tensors: Vec<FileTensor>,
}

/// Reads a `.safetensors` file or a PyTorch `.pth`/`.pt`/`.bin`/`.ckpt` checkpoint (by content:
/// a safetensors header is recognised whatever the extension).
pub fn read_weights(path: &Path) -> Result<WeightsFile, WeightsError> {
    let err = |message: String| WeightsError::Read {
        path: path.to_owned(),
        message,
    };
    let head = read_head(path).map_err(|e| err(e.to_string()))?;
    let (format, raw) = if looks_like_safetensors(&head) {
        let mut store = SafetensorsStore::from_file(path);
        let tensors = store
            .get_all_tensors()
            .map_err(|e| err(e.to_string()))?
            .values()
            .cloned()
            .collect::<Vec<_>>();
        ("safetensors".to_owned(), tensors)
    } else {
        let reader = PytorchReader::new(path).map_err(|e| {
            err(format!(
                "{e} (rateme reads .safetensors files and PyTorch checkpoints written by \
                 torch.save; a TorchScript archive needs `torch.jit.load(f).state_dict()` \
                 saved with torch.save first)"
            ))
        })?;
        let format = match reader.metadata().format_type {
            FileFormat::Zip => "pytorch (zip)",
            FileFormat::Legacy => "pytorch (legacy pickle)",
            FileFormat::Tar => "pytorch (tar)",
            FileFormat::Pickle => "pytorch (pickle)",
        };
        let tensors = reader
            .into_tensors()
            .into_values()
            .map(bridge::from_pytorch)
            .collect::<Vec<_>>();
        (format.to_owned(), tensors)
    };
    let mut tensors = Vec::with_capacity(raw.len());
    for t in raw {
        let name = t.name.clone();
        let stored_dtype = t.dtype;
        let shape = t.shape.to_vec();
        let data = bridge::into_data(t).map_err(|e| err(format!("tensor `{name}`: {e}")))?;
        let data = if stored_dtype.is_float() && stored_dtype != DType::F32 {
            data.convert::<f32>()
        } else {
            data
        };
        tensors.push(FileTensor {
            source: name.clone(),
            name,
            stored_dtype,
            shape,
            data,
        });
    }
    if tensors.is_empty() {
        return Err(err("the file holds no tensors".to_owned()));
    }
    let container = strip_container(&mut tensors);
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(WeightsFile {
        path: path.to_owned(),
        format,
        container,
        tensors,
    })
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)?.take(16).read_to_end(&mut head)?;
    Ok(head)
}

/// A safetensors file starts with the little-endian u64 length of a JSON header that opens
/// with `{`.
fn looks_like_safetensors(head: &[u8]) -> bool {
    head.len() >= 9 && head[8] == b'{' && {
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        len > 1 && len < (1 << 32)
    }
}

/// Keeps only the subtree under the first container key that holds tensors, then removes a
/// `module.` prefix that every name has. Returns what was removed.
fn strip_container(tensors: &mut Vec<FileTensor>) -> Option<String> {
    let mut removed = Vec::new();
    if let Some(key) = CONTAINER_KEYS.iter().find(|key| {
        let prefix = format!("{key}.");
        tensors.iter().any(|t| t.name.starts_with(&prefix))
            && !tensors.iter().all(|t| t.name.starts_with("module."))
    }) {
        let prefix = format!("{key}.");
        tensors.retain(|t| t.name.starts_with(&prefix));
        for t in tensors.iter_mut() {
            t.name = t.name[prefix.len()..].to_owned();
            t.source = t.name.clone();
        }
        removed.push((*key).to_owned());
    }
    if tensors.iter().all(|t| t.name.starts_with("module.")) {
        for t in tensors.iter_mut() {
            t.name = t.name["module.".len()..].to_owned();
            t.source = t.name.clone();
        }
        removed.push("module".to_owned());
    }
    (!removed.is_empty()).then(|| removed.join("."))
}
