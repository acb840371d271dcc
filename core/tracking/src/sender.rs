//! The background sender: one thread per process that delivers every registered journal to its
//! server, in order, with retries and backoff. Training threads only append to journals and
//! nudge it through a bounded channel (a full channel means a nudge is already pending).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::batch;
use super::client::{ApiError, Auth, Client};
use super::journal::{self, DeliveryState, Entry};
use super::record::Record;

/// Records read per delivery step (one request's worth at most).
const READ_AHEAD: usize = batch::MAX_ITEMS;
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const IDLE_POLL: Duration = Duration::from_millis(500);

/// One journal's delivery: where it goes and how far it got.
struct Outbox {
    dir: PathBuf,
    client: Arc<Client>,
    uid: String,
    experiment: String,
    run_name: String,
    start_time: i64,
    tags: Vec<(String, String)>,
    state: DeliveryState,
    /// Set when nothing will get through without the user (reported once, records kept).
    stuck: Option<String>,
}

impl Outbox {
    fn open(dir: &Path, clients: &mut HashMap<String, Arc<Client>>) -> Result<Self, String> {
        let start = journal::read_start(dir).map_err(|e| e.to_string())?;
        let Record::Start {
            uid,
            uri,
            experiment,
            run_name,
            start_time,
            tags,
        } = start
        else {
            unreachable!("read_start returns a start record")
        };
        let client = match clients.get(&uri) {
            Some(c) => c.clone(),
            None => {
                let c =
                    Arc::new(Client::new(&uri, Auth::from_env(&uri)).map_err(|e| e.to_string())?);
                clients.insert(uri.clone(), c.clone());
                c
            }
        };
        Ok(Self {
            dir: dir.to_owned(),
            client,
            uid,
            experiment,
            run_name,
            start_time,
            tags,
            state: DeliveryState::load(dir).map_err(|e| e.to_string())?,
            stuck: None,
        })
    }

    fn save(&self) -> Result<(), ApiError> {
        self.state.save(&self.dir).map_err(|e| ApiError::Fatal {
            message: format!("{}: {e}", self.dir.display()),
        })
    }

    /// Creates (or finds again) the MLflow run.
    fn ensure_run(&mut self) -> Result<String, ApiError> {
        if let Some(id) = &self.state.run_id {
            return Ok(id.clone());
        }
        let exp_id = match &self.state.experiment_id {
            Some(id) => id.clone(),
            None => self.client.experiment_id(&self.experiment)?,
        };
        self.state.experiment_id = Some(exp_id.clone());
        // A run created by an earlier attempt whose reply was lost carries our uid.
        let info = match self.client.find_run(&exp_id, &self.uid)? {
            Some(info) => info,
            None => self
                .client
                .create_run(&exp_id, &self.run_name, self.start_time, &self.tags)?,
        };
        self.state.run_id = Some(info.run_id.clone());
        self.state.artifact_uri = Some(info.artifact_uri);
        self.save()?;
        tracing::info!(
            "mlflow: run `{}` → {}",
            self.run_name,
            self.run_url().unwrap_or_default()
        );
        Ok(info.run_id)
    }

    /// The run's page in the MLflow UI.
    fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}#/experiments/{}/runs/{}",
            self.client.base(),
            self.state.experiment_id.as_ref()?,
            self.state.run_id.as_ref()?
        ))
    }

    /// Delivers one request's worth. `Ok(false)`: nothing left right now.
    fn step(&mut self) -> Result<bool, ApiError> {
        let entries =
            journal::read_from(&self.dir, self.state.offset, READ_AHEAD).map_err(|e| {
                ApiError::Fatal {
                    message: format!("{}: {e}", self.dir.display()),
                }
            })?;
        let Some(first) = entries.first() else {
            return Ok(false);
        };
        let run_id = self.ensure_run()?;
        let mut uploaded = None;
        match &first.record {
            None => {
                tracing::warn!(
                    "mlflow: {}: skipping an unreadable journal line",
                    self.dir.display()
                );
                self.reject(&entries[..1], "unreadable journal line");
            }
            Some(Record::Start { .. }) => self.acknowledge(&entries[..1], false),
            Some(r) if r.is_batchable() => {
                let records: Vec<&Record> =
                    entries.iter().map_while(|e| e.record.as_ref()).collect();
                let n = batch::pack(&records);
                match self.client.log_batch(&run_id, &records[..n]) {
                    Ok(()) => self.acknowledge(&entries[..n], true),
                    Err(ApiError::Rejected { message }) if n > 1 => {
                        // Find the record(s) at fault: send them one by one.
                        tracing::warn!(
                            "mlflow: a batch was refused ({message}); sending its records one by one"
                        );
                        for (entry, record) in entries[..n].iter().zip(&records[..n]) {
                            match self.client.log_batch(&run_id, &[record]) {
                                Ok(()) => self.acknowledge(std::slice::from_ref(entry), true),
                                Err(ApiError::Rejected { message }) => {
                                    self.reject(std::slice::from_ref(entry), &message)
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(ApiError::Rejected { message }) => self.reject(&entries[..1], &message),
                    Err(e) => return Err(e),
                }
            }
            Some(Record::Status { status, end_time }) => {
                match self.client.update_run(&run_id, *status, *end_time) {
                    Ok(()) => self.acknowledge(&entries[..1], true),
                    Err(ApiError::Rejected { message }) => self.reject(&entries[..1], &message),
                    Err(e) => return Err(e),
                }
            }
            Some(Record::Artifact { file, path }) => {
                let local = self.dir.join(journal::FILES).join(file);
                let root = self.state.artifact_uri.clone().unwrap_or_default();
                match self.client.upload_artifact(&root, path, &local) {
                    Ok(()) => {
                        self.acknowledge(&entries[..1], true);
                        uploaded = Some(local);
                    }
                    Err(ApiError::Rejected { message }) => self.reject(&entries[..1], &message),
                    Err(e) => return Err(e),
                }
            }
            Some(_) => unreachable!("every record kind is handled"),
        }
        self.save()?;
        if let Some(snapshot) = uploaded {
            // The server has it (and the state says so): the snapshot was only the spool.
            let _ = std::fs::remove_file(snapshot);
        }
        Ok(true)
    }

    fn acknowledge(&mut self, entries: &[Entry], count: bool) {
        if let Some(last) = entries.last() {
            self.state.offset = last.end;
        }
        if count {
            self.state.delivered += entries.len() as u64;
        }
    }

    fn reject(&mut self, entries: &[Entry], reason: &str) {
        for e in entries {
            tracing::warn!(
                "mlflow: the server refused a record of `{}`: {reason}",
                self.run_name
            );
            if let Err(err) = journal::reject(&self.dir, &e.line, reason) {
                tracing::warn!("mlflow: {}: {err}", self.dir.display());
            }
        }
        if let Some(last) = entries.last() {
            self.state.offset = last.end;
        }
        self.state.rejected += entries.len() as u64;
    }
}

/// One journal's state at the end of a flush.
#[derive(Debug, Clone)]
pub struct JournalReport {
    /// The journal folder.
    pub dir: PathBuf,
    /// Run name.
    pub run_name: String,
    /// The run's MLflow UI page, once created.
    pub url: Option<String>,
    /// Records still on disk only.
    pub pending: u64,
    /// Records the server refused.
    pub rejected: u64,
    /// Why delivery stopped for good in this process, if it did.
    pub stuck: Option<String>,
}

/// What [`SenderHandle::flush`] found.
#[derive(Debug, Clone, Default)]
pub struct FlushReport {
    /// Every journal the sender handled.
    pub journals: Vec<JournalReport>,
    /// The last connection problem, if the server was unreachable at the end.
    pub unreachable: Option<String>,
}

impl FlushReport {
    /// Records not delivered.
    pub fn pending(&self) -> u64 {
        self.journals.iter().map(|j| j.pending).sum()
    }
}

enum Msg {
    Add(PathBuf),
    Nudge,
    Flush {
        deadline: Instant,
        reply: std::sync::mpsc::Sender<FlushReport>,
    },
}

/// The handle training code holds.
#[derive(Clone)]
pub struct SenderHandle {
    tx: SyncSender<Msg>,
}

impl SenderHandle {
    /// Starts the sender thread.
    pub fn spawn() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(256);
        std::thread::Builder::new()
            .name("mlflow-sender".into())
            .spawn(move || Sender::default().run(rx))
            .expect("spawn the MLflow sender thread");
        Self { tx }
    }

    /// Delivers the journal in `dir` (from where it stopped).
    pub fn add(&self, dir: PathBuf) {
        let _ = self.tx.send(Msg::Add(dir));
    }

    /// Says there is something new; never blocks.
    pub fn nudge(&self) {
        match self.tx.try_send(Msg::Nudge) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Waits until everything is delivered or `timeout` passes, then stops the thread.
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        let (reply, rx) = std::sync::mpsc::channel();
        if self
            .tx
            .send(Msg::Flush {
                deadline: Instant::now() + timeout,
                reply,
            })
            .is_err()
        {
            return FlushReport::default();
        }
        rx.recv().unwrap_or_default()
    }
}

#[derive(Default)]
struct Sender {
    clients: HashMap<String, Arc<Client>>,
    outboxes: Vec<Outbox>,
    offline: Option<String>,
    backoff: Duration,
}

impl Sender {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut flush: Option<(Instant, std::sync::mpsc::Sender<FlushReport>)> = None;
        let mut wait = Duration::ZERO;
        loop {
            // Take every message; sleep until one arrives or `wait` passes.
            let mut first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) if flush.is_none() => {
                    // Everyone is gone without a flush (a crash path): stop quietly, the
                    // journals keep what was not sent.
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => None,
            };
            while let Some(msg) = first.take().or_else(|| rx.try_recv().ok()) {
                match msg {
                    Msg::Add(dir) => self.add(&dir),
                    Msg::Nudge => {}
                    Msg::Flush { deadline, reply } => flush = Some((deadline, reply)),
                }
            }

            let (idle, err) = self.deliver();
            match err {
                Some(e) => {
                    if self.offline.is_none() {
                        tracing::warn!(
                            "mlflow: tracking server unreachable ({e}); training goes on, records are spooled on disk and sent when it is back"
                        );
                    }
                    self.offline = Some(e.to_string());
                    let retry_after = match &e {
                        ApiError::Unreachable { retry_after, .. } => *retry_after,
                        _ => None,
                    };
                    self.backoff = (self.backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                    wait = retry_after.unwrap_or(self.backoff);
                }
                None => {
                    if self.offline.take().is_some() {
                        tracing::info!(
                            "mlflow: tracking server reachable again; sending spooled records"
                        );
                    }
                    self.backoff = Duration::ZERO;
                    wait = if idle { IDLE_POLL } else { Duration::ZERO };
                }
            }
            if let Some((deadline, _)) = &flush {
                let now = Instant::now();
                if (idle && self.offline.is_none()) || now >= *deadline {
                    let (_, reply) = flush.take().expect("flush pending");
                    let _ = reply.send(self.report());
                    return;
                }
                wait = wait.min(*deadline - now);
            }
        }
    }

    fn add(&mut self, dir: &Path) {
        if self.outboxes.iter().any(|o| o.dir == dir) {
            return;
        }
        match Outbox::open(dir, &mut self.clients) {
            Ok(o) => self.outboxes.push(o),
            Err(e) => tracing::warn!("mlflow: cannot deliver {}: {e}", dir.display()),
        }
    }

    /// Delivers what it can, oldest journal first. Returns (nothing left to send, the
    /// connection problem that stopped it).
    fn deliver(&mut self) -> (bool, Option<ApiError>) {
        let mut idle = true;
        for ob in self.outboxes.iter_mut().filter(|o| o.stuck.is_none()) {
            // A bounded number of requests per pass keeps new messages (a flush) responsive.
            for _ in 0..64 {
                match ob.step() {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e @ ApiError::Unreachable { .. }) => return (false, Some(e)),
                    Err(ApiError::Fatal { message }) | Err(ApiError::Rejected { message }) => {
                        tracing::error!(
                            "mlflow: stopped sending run `{}`: {message}. Its records stay in {}; `runner sync` sends them once this is fixed",
                            ob.run_name,
                            ob.dir.display()
                        );
                        ob.stuck = Some(message);
                        break;
                    }
                }
            }
            if ob.stuck.is_none() && journal::pending(&ob.dir).unwrap_or(0) > 0 {
                idle = false;
            }
        }
        (idle, None)
    }

    fn report(&self) -> FlushReport {
        FlushReport {
            journals: self
                .outboxes
                .iter()
                .map(|o| JournalReport {
                    dir: o.dir.clone(),
                    run_name: o.run_name.clone(),
                    url: o.run_url(),
                    pending: journal::pending(&o.dir).unwrap_or(0),
                    rejected: o.state.rejected,
                    stuck: o.stuck.clone(),
                })
                .collect(),
            unreachable: self.offline.clone(),
        }
    }
}
