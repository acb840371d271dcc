//! A sweep: every run of an experiment, one after the other. A run that fails (bad data, NaN
//! loss, a panicking plugin) is reported and the sweep goes on.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use crate::plugins::{PluginHost, panic_message};
use crate::run::FailedRun;
use crate::shard::Shard;
use crate::{RunError, RunOptions, RunSummary, check_run, events::Sink};
use rateme_spec::device::DeviceSpec;
use rateme_spec::{Experiment, RunSpec};

/// Sweep-wide errors: nothing has been trained.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Plugins could not be loaded (one line per library).
    #[error("{}", .0.join("\n"))]
    Plugins(Vec<String>),
    /// Plugins the experiment names are not there.
    #[error(
        "{path}: missing plugins: {missing}; loaded: backbones [{backbones}], heads [{heads}] from {dirs}. Build them into the plugin directory or pass --plugins DIR"
    )]
    Missing {
        path: String,
        missing: String,
        backbones: String,
        heads: String,
        dirs: String,
    },
    /// A run's plugin settings are wrong.
    #[error("{0}")]
    RunSpec(String),
    /// Runs that already have results, and neither `--resume` nor `--restart` was given.
    #[error("{}", .0.join("\n"))]
    WouldOverwrite(Vec<String>),
    /// No run matches `--run`.
    #[error("no run named {0}; runs in this experiment: {1}")]
    NoSuchRun(String, String),
    /// A run's device is unknown or cannot be used here (no LibTorch in this build, no CUDA).
    #[error("run `{run}`: device: {message}")]
    Device { run: String, message: String },
}

/// The outcome of one run.
#[derive(Debug)]
pub struct RunOutcome {
    /// Run name.
    pub name: String,
    /// Its summary, or why it failed.
    pub result: Result<RunSummary, String>,
}

/// Where to look for plugin libraries: `--plugins`, else each run's `plugins`, else the
/// runner's own directory.
pub fn plugin_dirs(exp: &Experiment, cli: Option<&PathBuf>) -> Vec<PathBuf> {
    if let Some(dir) = cli {
        return vec![dir.clone()];
    }
    let mut dirs: BTreeSet<PathBuf> = exp.runs.iter().filter_map(|r| r.plugins.clone()).collect();
    if dirs.is_empty() || exp.runs.iter().any(|r| r.plugins.is_none()) {
        dirs.insert(crate::plugins::default_dir());
    }
    dirs.into_iter().collect()
}

/// Loads plugin libraries from `dirs`.
pub fn load_plugins(dirs: &[PathBuf]) -> Result<PluginHost, SweepError> {
    let mut host = PluginHost::new();
    let mut errors = Vec::new();
    for dir in dirs {
        if let Err(e) = host.load_dir(dir) {
            errors.extend(e.into_iter().map(|e| format!("error: {e}")));
        }
    }
    if errors.is_empty() {
        Ok(host)
    } else {
        Err(SweepError::Plugins(errors))
    }
}

/// Checks every run before anything trains: all plugins named exist (all missing ones listed in
/// one message), variants and options are valid.
pub fn check(exp: &Experiment, host: &PluginHost, dirs: &[PathBuf]) -> Result<(), SweepError> {
    let mut missing: Vec<String> = Vec::new();
    for run in &exp.runs {
        let bb = run.backbone.plugin.get_ref();
        if host.registry.get_backbone(bb).is_none() {
            let m = format!("backbone `{bb}`");
            if !missing.contains(&m) {
                missing.push(m);
            }
        }
        let head = run.head.plugin.get_ref();
        if host.registry.get_head(head).is_none() {
            let m = format!("head `{head}`");
            if !missing.contains(&m) {
                missing.push(m);
            }
        }
    }
    if !missing.is_empty() {
        return Err(SweepError::Missing {
            path: exp.path.display().to_string(),
            missing: missing.join(", "),
            backbones: host.backbone_names(),
            heads: host.head_names(),
            dirs: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    for run in &exp.runs {
        check_run(exp, run, host).map_err(|e| SweepError::RunSpec(e.to_string()))?;
    }
    Ok(())
}

/// Options of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// `--device` override.
    pub device: Option<DeviceSpec>,
    /// `--resume`.
    pub resume: bool,
    /// `--restart`: runs with results start from scratch (their results are deleted).
    pub restart: bool,
    /// Only these runs (all when empty).
    pub only: Vec<String>,
    /// Only the runs of this slice of the sweep (`--shard`), after `only`.
    pub shard: Option<Shard>,
}

/// Runs the experiment's runs in order. `make_sinks` gives each run its extra listeners. After
/// Ctrl-C (see [`rateme_util::interrupt`]) the current run stops at a checkpoint and no further run
/// starts.
pub fn run_all<'a>(
    exp: &'a Experiment,
    host: &'a PluginHost,
    opts: &SweepOptions,
    mut make_sinks: impl FnMut(&'a RunSpec) -> Vec<Box<dyn Sink + 'a>>,
) -> Result<Vec<RunOutcome>, SweepError> {
    for name in &opts.only {
        if !exp.runs.iter().any(|r| &r.name == name) {
            let all: Vec<&str> = exp.runs.iter().map(|r| r.name.as_str()).collect();
            return Err(SweepError::NoSuchRun(name.clone(), all.join(", ")));
        }
    }
    let selected: Vec<&RunSpec> = exp
        .runs
        .iter()
        .filter(|r| opts.only.is_empty() || opts.only.contains(&r.name))
        .filter(|r| opts.shard.is_none_or(|s| s.contains(&r.name)))
        .collect();
    if let Some(shard) = &opts.shard {
        let names: Vec<&str> = selected.iter().map(|r| r.name.as_str()).collect();
        tracing::info!(
            "shard {shard}: {} of the experiment's {} runs: {}",
            names.len(),
            exp.runs.len(),
            if names.is_empty() {
                "none (nothing to do)".to_owned()
            } else {
                names.join(", ")
            }
        );
    }
    // Before any data is read: every device the selected runs name must be usable (a missing
    // GPU stops the sweep now, not after the CPU runs before it).
    let mut checked: Vec<DeviceSpec> = Vec::new();
    for spec in &selected {
        let device = match &opts.device {
            Some(d) => Ok(d.clone()),
            None => DeviceSpec::parse(&spec.device),
        }
        .and_then(|d| {
            d.check_precision(&spec.precision)?;
            if !checked.contains(&d) {
                d.device()?;
                checked.push(d);
            }
            Ok(())
        });
        if let Err(message) = device {
            return Err(SweepError::Device {
                run: spec.name.clone(),
                message,
            });
        }
    }
    if !opts.resume && !opts.restart {
        // Before anything trains: a fresh start would delete what an earlier sweep left.
        let refusals: Vec<String> = selected
            .iter()
            .filter_map(|spec| {
                let dir = spec.run_dir(&exp.name);
                let found = crate::run::existing_outputs(&dir);
                (!found.is_empty()).then(|| crate::run::would_overwrite(&spec.name, &dir, &found))
            })
            .collect();
        if !refusals.is_empty() {
            return Err(SweepError::WouldOverwrite(refusals));
        }
    }
    let mut outcomes = Vec::new();
    for spec in selected {
        if rateme_util::interrupt::requested() {
            tracing::warn!(run = %spec.name, "not started: stopped by the user");
            break;
        }
        tracing::info!(run = %spec.name, "starting run");
        let run_opts = RunOptions {
            experiment: exp,
            spec,
            host,
            device: opts.device.clone(),
            resume: opts.resume,
            restart: opts.restart,
            sinks: make_sinks(spec),
        };
        // A failure is recorded beside the run (for `runner report`) until the run starts again.
        let dir = spec.run_dir(&exp.name);
        FailedRun::clear(&dir);
        let result = match std::panic::catch_unwind(AssertUnwindSafe(|| crate::run(run_opts))) {
            Ok(Ok(summary)) => Ok(summary),
            // Stopped by the user, or trained by another process: not a failure of the run.
            Ok(Err(e @ (RunError::Interrupted { .. } | RunError::Busy { .. }))) => {
                Err(e.to_string())
            }
            Ok(Err(e)) => Err(FailedRun::record(&dir, &spec.name, e.to_string())),
            Err(payload) => Err(FailedRun::record(
                &dir,
                &spec.name,
                format!("panicked: {}", panic_message(&*payload)),
            )),
        };
        match &result {
            Ok(s) => {
                tracing::info!(run = %spec.name, val_mae = s.val_mae, baseline_mae = s.baseline_mae, "run finished")
            }
            Err(e) => tracing::error!(run = %spec.name, "run failed: {e}"),
        }
        outcomes.push(RunOutcome {
            name: spec.name.clone(),
            result,
        });
    }
    Ok(outcomes)
}
