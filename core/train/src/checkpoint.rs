//! Checkpoints: a directory written whole or not at all.
//!
//! `<run>/checkpoint/` holds the weights and optimizer state of backbone and head (burnpack)
//! plus `state.json` (step, data order, schedule, history, ...). A new checkpoint is written to
//! `checkpoint.new/`, synced, then swapped in with two renames; a crash between them leaves
//! `checkpoint.old/`, which [`find`] falls back to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::events::EvalRecord;
use super::schedule::Plateau;

/// Everything besides tensors needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Training batches done.
    pub batch: u64,
    /// Current epoch (0-based).
    pub epoch: u64,
    /// Position in the epoch's order.
    pub pos: usize,
    /// This epoch's order of training rows.
    pub order: Vec<usize>,
    /// Learning-rate schedule.
    pub schedule: Plateau,
    /// Every evaluation so far.
    pub history: Vec<EvalRecord>,
    /// Sum and count of training losses since the last evaluation.
    pub loss_sum: f64,
    /// Number of losses in `loss_sum`.
    pub loss_count: u64,
    /// Seconds spent (all sessions).
    pub elapsed_s: f64,
    /// Seconds spent in training steps only (for images/s).
    pub train_s: f64,
    /// Lowest validation loss and the batch it was reached at.
    pub best: Option<(f64, u64)>,
    /// Hash of the resolved run spec; a resume with another spec is refused.
    pub spec_hash: String,
    /// Seconds the step waited for the data loader (all sessions).
    #[serde(default)]
    pub loader_wait_s: f64,
}

/// The tensors of a checkpoint, as byte buffers.
#[derive(Debug, Clone)]
pub struct Tensors {
    /// Backbone weights.
    pub backbone: Vec<u8>,
    /// Head weights.
    pub head: Vec<u8>,
    /// Backbone optimizer state (None for a weights-only directory).
    pub backbone_optim: Option<Vec<u8>>,
    /// Head optimizer state.
    pub head_optim: Option<Vec<u8>>,
}

const FILES: [&str; 4] = [
    "backbone.bpk",
    "head.bpk",
    "backbone.optim.bpk",
    "head.optim.bpk",
];

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join(name))?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes a directory `dir` atomically with the given files (name, bytes).
pub fn write_dir(dir: &Path, files: &[(&str, &[u8])]) -> std::io::Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new = dir.with_file_name(format!("{name}.new"));
    let old = dir.with_file_name(format!("{name}.old"));
    if new.exists() {
        std::fs::remove_dir_all(&new)?;
    }
    std::fs::create_dir_all(&new)?;
    for (file, bytes) in files {
        write_file(&new, file, bytes)?;
    }
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old)?;
    }
    rateme_util::crash::point(&format!("{name}-swap"));
    std::fs::rename(&new, dir)?;
    if let Some(parent) = dir.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Writes a checkpoint (tensors + `state.json` + `model.json`) to `dir` atomically.
pub fn save(
    dir: &Path,
    tensors: &Tensors,
    state: &TrainState,
    model_json: &str,
) -> std::io::Result<()> {
    let state_json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    let mut files: Vec<(&str, &[u8])> =
        vec![(FILES[0], &tensors.backbone), (FILES[1], &tensors.head)];
    if let Some(b) = &tensors.backbone_optim {
        files.push((FILES[2], b));
    }
    if let Some(h) = &tensors.head_optim {
        files.push((FILES[3], h));
    }
    files.push(("state.json", &state_json));
    files.push(("model.json", model_json.as_bytes()));
    write_dir(dir, &files)
}

/// The checkpoint directory to resume from: `dir`, or `dir.old` after a crash mid-swap.
pub fn find(dir: &Path) -> Option<PathBuf> {
    if dir.join("state.json").exists() {
        return Some(dir.to_owned());
    }
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let old = dir.with_file_name(format!("{name}.old"));
    old.join("state.json").exists().then_some(old)
}

/// Reads a checkpoint written by [`save`].
pub fn load(dir: &Path) -> std::io::Result<(Tensors, TrainState)> {
    let read = |name: &str| std::fs::read(dir.join(name));
    let optional = |name: &str| {
        let p = dir.join(name);
        if p.exists() {
            std::fs::read(p).map(Some)
        } else {
            Ok(None)
        }
    };
    let tensors = Tensors {
        backbone: read(FILES[0])?,
        head: read(FILES[1])?,
        backbone_optim: optional(FILES[2])?,
        head_optim: optional(FILES[3])?,
    };
    let state: TrainState = serde_json::from_slice(&read("state.json")?)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", dir.join("state.json").display())))?;
    Ok((tensors, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_swap_and_fallback() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("checkpoint");
        write_dir(&dir, &[("state.json", b"1")]).unwrap();
        write_dir(&dir, &[("state.json", b"2")]).unwrap();
        assert_eq!(std::fs::read(dir.join("state.json")).unwrap(), b"2");
        assert!(!root.path().join("checkpoint.old").exists());
        // Crash between the two renames: only .old is there.
        std::fs::rename(&dir, root.path().join("checkpoint.old")).unwrap();
        assert_eq!(find(&dir), Some(root.path().join("checkpoint.old")));
    }
}
