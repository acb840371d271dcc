//! Checkpoint and best-weights writes on their own thread, in order: the step hands over the
//! bytes and goes on. A failed write stops the run at the next hand-over (or at the end);
//! dropping the writer waits for what was handed over, so nothing queued is lost.

use std::path::PathBuf;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use super::checkpoint::{self, Tensors, TrainState};

/// One write.
pub(crate) enum Job {
    /// `<run>/best/`: weights only, with the model card.
    Best {
        dir: PathBuf,
        tensors: Tensors,
        card: String,
    },
    /// `<run>/checkpoint/`: weights, optimizer state and the training state.
    Checkpoint {
        dir: PathBuf,
        tensors: Tensors,
        state: Box<TrainState>,
        card: String,
    },
}

/// A failed write: the folder and the error.
#[derive(Debug)]
pub(crate) struct WriteFailed {
    pub path: PathBuf,
    pub message: String,
}

pub(crate) struct Writer {
    tx: Option<Sender<Job>>,
    handle: Option<JoinHandle<Result<(), WriteFailed>>>,
}

impl Writer {
    pub fn start() -> Self {
        let (tx, rx) = channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("rateme-writer".into())
            .spawn(move || {
                for job in rx {
                    write(job)?;
                }
                Ok(())
            })
            .ok();
        Self {
            tx: Some(tx),
            handle,
        }
    }

    /// Queues a write; reports an earlier write's failure instead (the thread has stopped).
    pub fn send(&mut self, job: Job) -> Result<(), WriteFailed> {
        let job = match &self.tx {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(e) => e.0,
            },
            None => job,
        };
        // The thread is gone: take its error, or write here if it never started.
        self.finish()?;
        write(job)
    }

    /// Waits for every queued write.
    pub fn finish(&mut self) -> Result<(), WriteFailed> {
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(WriteFailed {
                path: PathBuf::from("(checkpoint writer)"),
                message: "the writer thread panicked".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::error!("{}: {}", e.path.display(), e.message);
        }
    }
}

fn write(job: Job) -> Result<(), WriteFailed> {
    let (dir, result) = match job {
        Job::Best { dir, tensors, card } => {
            let r = checkpoint::write_dir(
                &dir,
                &[
                    ("backbone.bpk", &tensors.backbone),
                    ("head.bpk", &tensors.head),
                    ("model.json", card.as_bytes()),
                ],
            );
            (dir, r)
        }
        Job::Checkpoint {
            dir,
            tensors,
            state,
            card,
        } => {
            let r = checkpoint::save(&dir, &tensors, &state, &card);
            (dir, r)
        }
    };
    result.map_err(|e| WriteFailed {
        path: dir,
        message: e.to_string(),
    })
}
