//! MLflow tracking: every run of a sweep becomes an MLflow run (params = the flattened run spec,
//! metrics = every evaluation, artifacts = the run's files and the results table).
//!
//! Training never waits for the server. Each run appends records to its own journal on disk
//! (`<run dir>/mlflow/<uid>/`), and one background thread delivers the journals with retries and
//! backoff. What the server has not acknowledged when the sweep ends stays on disk and is sent
//! at the next contact (the next `runner` on the same experiment, or `runner sync`), each record
//! once: the journal keeps an acknowledged offset, metric points carry fixed timestamps (MLflow
//! keeps one copy of identical points, so a resent request after a lost reply adds nothing), and
//! the run is found again by its `rateme.uid` tag if its creation reply was lost.

pub mod batch;
pub mod client;
pub mod journal;
pub mod record;
pub mod sender;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use journal::JournalWriter;
use rateme_spec::{Experiment, RunSpec, TrackingSpec};
use rateme_train::events::{Event, Sink};
use record::{Float, Record, RunStatus, now_ms};
pub use sender::{FlushReport, SenderHandle};

/// The environment variable MLflow clients read the server from.
pub const URI_ENV: &str = "MLFLOW_TRACKING_URI";
/// The environment variable MLflow clients read the experiment name from.
pub const EXPERIMENT_ENV: &str = "MLFLOW_EXPERIMENT_NAME";
/// The folder of a run's journals.
pub const RUN_SUBDIR: &str = "mlflow";
const CURRENT: &str = "current";

/// Command-line overrides.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--tracking-uri`.
    pub uri: Option<String>,
    /// `--no-tracking`.
    pub disabled: bool,
}

/// Settings after the experiment file, the environment and the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Server base URI (credentials removed).
    pub uri: String,
    /// MLflow experiment name.
    pub experiment: String,
    /// The rest of `[tracking]`.
    pub spec: TrackingSpec,
}

impl Settings {
    /// Whether and where to track: `--no-tracking` / `enabled = false` turn it off; the URI is
    /// `--tracking-uri`, else `[tracking] uri`, else `MLFLOW_TRACKING_URI`; no URI, no tracking.
    pub fn resolve(exp: &Experiment, overrides: &Overrides) -> Result<Option<Self>, String> {
        let spec = exp.tracking.clone().unwrap_or_default();
        if overrides.disabled || !spec.enabled {
            return Ok(None);
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let is_http = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        let uri = match overrides.uri.clone().or_else(|| spec.uri.clone()) {
            Some(uri) if !is_http(&uri) => {
                return Err(format!(
                    "tracking URI `{}`: rateme talks to an MLflow tracking server over REST; give http(s)://host:port (start one with `mlflow server`)",
                    client::redact(&uri)
                ));
            }
            Some(uri) => uri,
            None => match env(URI_ENV) {
                Some(uri) if is_http(&uri) => uri,
                Some(uri) => {
                    // Set for other MLflow clients (a file store, Databricks): not for us to
                    // fail on.
                    tracing::warn!(
                        "{URI_ENV}=`{}` is not an http(s) tracking server; runs are not tracked",
                        client::redact(&uri)
                    );
                    return Ok(None);
                }
                None => return Ok(None),
            },
        };
        let experiment = spec
            .experiment
            .clone()
            .or_else(|| env(EXPERIMENT_ENV))
            .unwrap_or_else(|| exp.name.clone());
        Ok(Some(Self {
            uri: client::redact(&uri),
            experiment,
            spec,
        }))
    }
}

/// Tracking for one `runner` invocation.
pub struct Tracking {
    settings: Settings,
    sender: SenderHandle,
    context_tags: Vec<(String, String)>,
    /// Journals of the runs tracked in this invocation (for the sweep's results files).
    session: Arc<Mutex<Vec<PathBuf>>>,
}

impl Tracking {
    /// Starts the sender and queues what earlier invocations of this experiment left unsent.
    pub fn start(exp: &Experiment, settings: Settings) -> Self {
        let sender = SenderHandle::spawn();
        let mut spooled = 0;
        for spec in &exp.runs {
            for dir in journal::find(&spec.run_dir(&exp.name).join(RUN_SUBDIR)) {
                if journal::pending(&dir).unwrap_or(0) > 0 {
                    spooled += 1;
                    sender.add(dir);
                }
            }
        }
        if spooled > 0 {
            tracing::info!("mlflow: sending {spooled} spooled journal(s) from earlier runs");
        }
        Self {
            context_tags: context_tags(exp),
            settings,
            sender,
            session: Arc::default(),
        }
    }

    /// Where runs go, for messages.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The sink that tracks one run.
    pub fn run_sink(&self, exp: &Experiment, spec: &RunSpec) -> RunTracker {
        let params = serde_json::to_value(spec)
            .map(|v| batch::flatten(&v))
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.chars().take(batch::MAX_KEY).collect(),
                    batch::truncate_visibly(&v, batch::MAX_PARAM_VALUE),
                )
            })
            .collect();
        let mut tags = self.context_tags.clone();
        tags.extend(self.settings.spec.tags.clone());
        RunTracker {
            settings: self.settings.clone(),
            sender: self.sender.clone(),
            session: self.session.clone(),
            run_name: spec.name.clone(),
            run_dir: spec.run_dir(&exp.name),
            experiment_file: exp.source.clone(),
            params,
            tags,
            journal: None,
            logged: HashSet::new(),
            terminal: false,
        }
    }

    /// Uploads `files` (local path, artifact path) to every run tracked in this invocation.
    pub fn attach_to_session(&self, files: &[(PathBuf, String)]) {
        let dirs = self.session.lock().expect("session list").clone();
        for dir in dirs {
            let result = JournalWriter::open(&dir).and_then(|(mut w, _)| {
                let mut records = Vec::new();
                for (local, path) in files {
                    if local.is_file() {
                        records.push(Record::Artifact {
                            file: w.snapshot(local)?,
                            path: path.clone(),
                        });
                    }
                }
                w.append(&records)?;
                w.sync()
            });
            if let Err(e) = result {
                tracing::warn!("mlflow: {}: {e}", dir.display());
            }
            self.sender.add(dir);
        }
        self.sender.nudge();
    }

    /// Waits up to `flush_timeout_s` for the server to take everything, and says what happened.
    pub fn finish(self) -> FlushReport {
        let timeout = Duration::from_secs_f64(self.settings.spec.flush_timeout_s);
        self.sender.flush(timeout)
    }
}

/// Tags every run gets: where it came from and what built it.
fn context_tags(exp: &Experiment) -> Vec<(String, String)> {
    let mut tags = vec![
        ("mlflow.source.type".to_owned(), "LOCAL".to_owned()),
        (
            "mlflow.source.name".to_owned(),
            format!("runner {}", exp.path.display()),
        ),
        (
            "rateme.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        (
            "rateme.experiment_file".to_owned(),
            exp.path.display().to_string(),
        ),
        (
            "rateme.experiment_hash".to_owned(),
            rateme_util::fsutil::fnv1a_hex(exp.source.as_bytes()),
        ),
        (
            "rateme.plugin_abi".to_owned(),
            batch::truncate_visibly(rateme_sdk::ABI_FINGERPRINT, batch::MAX_TAG_VALUE),
        ),
    ];
    if let Ok(user) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        tags.push(("mlflow.user".into(), user));
    }
    if !exp.description.trim().is_empty() {
        tags.push((
            "mlflow.note.content".into(),
            batch::truncate_visibly(exp.description.trim(), batch::MAX_TAG_VALUE),
        ));
    }
    // The commit of the repository the experiment file lives in (the working directory for the
    // embedded demo), and whether it had uncommitted changes.
    let dir = exp
        .path
        .parent()
        .filter(|p| p.is_dir() && !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if let Some(commit) = git(&["rev-parse", "HEAD"]) {
        tags.push(("mlflow.source.git.commit".into(), commit));
        if let Some(status) = git(&["status", "--porcelain", "--untracked-files=no"]) {
            tags.push(("rateme.git_dirty".into(), (!status.is_empty()).to_string()));
        }
    }
    tags
}

/// The sink that turns one run's events into journal records.
pub struct RunTracker {
    settings: Settings,
    sender: SenderHandle,
    session: Arc<Mutex<Vec<PathBuf>>>,
    run_name: String,
    run_dir: PathBuf,
    experiment_file: String,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    journal: Option<JournalWriter>,
    /// (metric, step) already in the journal: a resumed run re-evaluates batches logged after
    /// its checkpoint; MLflow gets each point once.
    logged: HashSet<(String, u64)>,
    terminal: bool,
}

impl RunTracker {
    fn open(&mut self, resumed_at: Option<u64>, device: &str) -> std::io::Result<()> {
        let base = self.run_dir.join(RUN_SUBDIR);
        if let Some(at) = resumed_at
            && let Some(dir) = self.current_journal(&base)
        {
            let (mut w, records) = JournalWriter::open(&dir)?;
            let mut logged_params = BTreeMap::new();
            for r in &records {
                match r {
                    Record::Metric { key, step, .. } => {
                        self.logged.insert((key.clone(), *step));
                    }
                    Record::Param { key, value } => {
                        logged_params.insert(key.clone(), value.clone());
                    }
                    _ => {}
                }
            }
            let mut out = vec![Record::Status {
                status: RunStatus::Running,
                end_time: None,
            }];
            out.push(Record::Tag {
                key: "rateme.resumed_at_batch".into(),
                value: at.to_string(),
            });
            out.push(Record::Tag {
                key: "rateme.device".into(),
                value: device.into(),
            });
            // MLflow params are immutable: a setting allowed to change on resume (`batches`,
            // ...) is recorded as a tag instead.
            for (k, v) in &self.params {
                match logged_params.get(k) {
                    None => out.push(Record::Param {
                        key: k.clone(),
                        value: v.clone(),
                    }),
                    Some(old) if old != v => out.push(Record::Tag {
                        key: format!("rateme.changed.{k}"),
                        value: format!("{old} → {v}"),
                    }),
                    Some(_) => {}
                }
            }
            w.append(&out)?;
            w.sync()?;
            tracing::info!("mlflow: continuing the MLflow run of `{}`", self.run_name);
            self.attach(w);
            return Ok(());
        }
        let uid = new_uid();
        let dir = base.join(&uid);
        let mut tags = self.tags.clone();
        tags.push(("rateme.uid".into(), uid.clone()));
        if !device.is_empty() {
            tags.push(("rateme.device".into(), device.into()));
        }
        let mut w = JournalWriter::create(
            &dir,
            &Record::Start {
                uid: uid.clone(),
                uri: self.settings.uri.clone(),
                experiment: self.settings.experiment.clone(),
                run_name: self.run_name.clone(),
                start_time: now_ms(),
                tags,
            },
        )?;
        let params: Vec<Record> = self
            .params
            .iter()
            .map(|(k, v)| Record::Param {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        w.append(&params)?;
        w.sync()?;
        rateme_util::fsutil::write_atomic(&base.join(CURRENT), uid.as_bytes())?;
        self.attach(w);
        Ok(())
    }

    /// The journal the run's last attempt wrote, when it goes to the same server and experiment.
    fn current_journal(&self, base: &Path) -> Option<PathBuf> {
        let uid = std::fs::read_to_string(base.join(CURRENT)).ok()?;
        let dir = base.join(uid.trim());
        match journal::read_start(&dir) {
            Ok(Record::Start {
                uri, experiment, ..
            }) if uri == self.settings.uri && experiment == self.settings.experiment => Some(dir),
            Ok(_) => {
                tracing::warn!(
                    "mlflow: `{}` was tracked on another server or experiment before; its resumed part becomes a new MLflow run",
                    self.run_name
                );
                None
            }
            Err(_) => None,
        }
    }

    fn attach(&mut self, w: JournalWriter) {
        let dir = w.dir().to_owned();
        self.session.lock().expect("session list").push(dir.clone());
        self.sender.add(dir);
        self.journal = Some(w);
        self.sender.nudge();
    }

    fn write(&mut self, records: &[Record], durable: bool) -> std::io::Result<()> {
        let Some(w) = self.journal.as_mut() else {
            return Ok(());
        };
        w.append(records)?;
        if durable {
            w.sync()?;
        }
        self.sender.nudge();
        Ok(())
    }

    fn metric(&mut self, key: &str, value: f64, step: u64, ts: i64) -> Option<Record> {
        self.logged
            .insert((key.to_owned(), step))
            .then(|| Record::Metric {
                key: key.to_owned(),
                value: Float(value),
                step,
                timestamp: ts,
            })
    }

    fn end(&mut self, status: RunStatus, extra: Vec<Record>) -> std::io::Result<()> {
        if self.journal.is_none() {
            // Failed before training started: still show the run, with its error.
            self.open(None, "")?;
        }
        let mut records = extra;
        records.push(Record::Status {
            status,
            end_time: Some(now_ms()),
        });
        self.terminal = true;
        self.write(&records, true)
    }

    fn finished_records(&mut self, s: &rateme_train::RunSummary) -> std::io::Result<Vec<Record>> {
        let ts = now_ms();
        let step = s.batches;
        let mut out: Vec<Record> = [
            ("best_val_loss", s.val_loss),
            ("best_val_mae", s.val_mae),
            ("best_spearman", s.spearman),
            ("baseline_mae", s.baseline_mae),
            ("images_per_s", s.images_per_s),
        ]
        .into_iter()
        .filter_map(|(k, v)| self.metric(k, v, step, ts))
        .collect();
        out.extend(
            [
                ("rateme.backbone", s.backbone.clone()),
                ("rateme.head", s.head.clone()),
                ("rateme.params", s.params.to_string()),
                ("rateme.best_batch", s.best_batch.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| Record::Tag {
                key: k.into(),
                value: v,
            }),
        );
        let mut files = vec![
            (self.run_dir.join("metrics.csv"), "metrics.csv".to_owned()),
            (self.run_dir.join("summary.json"), "summary.json".to_owned()),
            (
                self.run_dir.join("best/model.json"),
                "model.json".to_owned(),
            ),
        ];
        if self.settings.spec.checkpoints {
            for f in ["backbone.bpk", "head.bpk", "model.json"] {
                files.push((self.run_dir.join("best").join(f), format!("best/{f}")));
            }
        }
        let w = self.journal.as_mut().expect("journal open after Started");
        for (local, path) in files {
            if local.is_file() {
                out.push(Record::Artifact {
                    file: w.snapshot(&local)?,
                    path,
                });
            }
        }
        out.push(Record::Artifact {
            file: w.snapshot_bytes("experiment.toml", self.experiment_file.as_bytes())?,
            path: "experiment.toml".into(),
        });
        Ok(out)
    }
}

impl Sink for RunTracker {
    fn on_event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::Started { start, device, .. } => {
                self.open((*start > 0).then_some(*start), device)?;
            }
            Event::Batch { batch, loss, .. } => {
                let every = self.settings.spec.log_every;
                if every > 0
                    && batch % every == 0
                    && let Some(r) = self.metric("batch_loss", *loss, *batch, now_ms())
                {
                    self.write(&[r], false)?;
                }
            }
            Event::Evaluated(e) => {
                let ts = now_ms();
                let records: Vec<Record> = [
                    ("lr", e.lr),
                    ("train_loss", e.train_loss),
                    ("val_loss", e.val_loss),
                    ("val_mae", e.val_mae),
                    ("val_spearman", e.val_spearman),
                    ("elapsed_s", e.elapsed_s),
                ]
                .into_iter()
                .filter_map(|(k, v)| self.metric(k, v, e.batch, ts))
                .collect();
                self.write(&records, true)?;
            }
            Event::Checkpointed { .. } => {}
            Event::Finished(summary) => {
                let extra = self.finished_records(summary)?;
                self.end(RunStatus::Finished, extra)?;
            }
            Event::Interrupted { batch } => {
                let tag = Record::Tag {
                    key: "rateme.interrupted_at_batch".into(),
                    value: batch.to_string(),
                };
                self.end(RunStatus::Killed, vec![tag])?;
            }
            Event::Failed { message } => {
                let tag = Record::Tag {
                    key: "rateme.error".into(),
                    value: batch::truncate_visibly(message, batch::MAX_TAG_VALUE),
                };
                self.end(RunStatus::Failed, vec![tag])?;
            }
        }
        Ok(())
    }
}

impl Drop for RunTracker {
    fn drop(&mut self) {
        if self.journal.is_some() && !self.terminal {
            // Only a panic unwinds past the run without a final event.
            let tag = Record::Tag {
                key: "rateme.error".into(),
                value: "the run panicked; see the runner's log".into(),
            };
            if let Err(e) = self.end(RunStatus::Failed, vec![tag]) {
                tracing::warn!("mlflow: {e}");
            }
        }
    }
}

/// A random id (hex, 32 digits) from the clock, the process and a counter, hashed.
fn new_uid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let a = rateme_util::fsutil::fnv1a_hex(seed.as_bytes());
    let b = rateme_util::fsutil::fnv1a_hex(format!("{seed}/{a}").as_bytes());
    format!("{a}{b}")
}

/// Delivers every journal with unsent records under `roots` (run directories, experiment
/// output folders), waiting at most `timeout`.
pub fn sync(roots: &[PathBuf], timeout: Duration) -> (usize, FlushReport) {
    let sender = SenderHandle::spawn();
    let mut n = 0;
    for root in roots {
        for dir in journal::find(root) {
            if journal::pending(&dir).unwrap_or(0) > 0 {
                n += 1;
                sender.add(dir);
            }
        }
    }
    (n, sender.flush(timeout))
}

/// One line per journal of a flush report, for the end of a sweep or `runner sync`.
pub fn describe(report: &FlushReport) -> Vec<String> {
    let mut lines = Vec::new();
    for j in &report.journals {
        let place = j.url.clone().unwrap_or_else(|| "(not created yet)".into());
        let mut line = format!("mlflow: {} → {place}", j.run_name);
        if j.pending > 0 {
            line.push_str(&format!(
                "; {} records not sent yet, spooled in {}",
                j.pending,
                j.dir.display()
            ));
        }
        if j.rejected > 0 {
            line.push_str(&format!(
                "; {} refused by the server (see {})",
                j.rejected,
                j.dir.join(journal::REJECTED).display()
            ));
        }
        if let Some(why) = &j.stuck {
            line.push_str(&format!("; stopped: {why}"));
        }
        lines.push(line);
    }
    if report.pending() > 0 {
        lines.push(format!(
            "mlflow: {} records wait on disk{}; the next `runner` on this experiment or `runner sync` sends them",
            report.pending(),
            report
                .unreachable
                .as_ref()
                .map(|e| format!(" (server unreachable: {e})"))
                .unwrap_or_default()
        ));
    }
    lines
}
