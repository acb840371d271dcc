//! `runner`: trains the runs of an experiment file (the embedded demo when none is given),
//! writes the results table, regenerates the README table, predicts scores for new images.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use rateme::device::DeviceSpec;
use rateme::plugins::PluginHost;
use rateme::spec::{DEMO_EXPERIMENT, DEMO_PATH, Experiment};
use rateme::sweep::{self, SweepOptions};
use rateme::tracking;
use rateme::train::events::{ProgressSink, Sink};

#[derive(Parser)]
#[command(
    name = "runner",
    version,
    about = "Train and compare image-rating models",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Train the runs of an experiment file (the default command).
    Train(TrainArgs),
    /// Rebuild results/<experiment>.md, .csv and .svg from the runs' folders (whatever has
    /// finished, on whichever machine; the others listed as failed, unfinished or not run), and
    /// print the README block (`--readme` also replaces it in a README).
    Report(ReportArgs),
    /// Measure each run's training step (images/s) on synthetic data on its device, model
    /// alone: no data is read and nothing is written.
    Bench(BenchArgs),
    /// Print one score per image with a trained run's model.
    Predict(PredictArgs),
    /// Send what earlier runs left unsent to their MLflow servers (runs of an experiment file,
    /// or every run under a folder; default: runs/).
    Sync(SyncArgs),
    /// Build ratings tables from Reddit dumps (see the README's "Reddit ingest").
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Rank a folder of images by pairwise comparisons in the browser (TrueSkill).
    Rank(RankArgs),
    /// Pretrained weight files.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// List the plugins found in the plugin directory.
    Plugins {
        /// Plugin directory (default: the runner's own directory).
        #[arg(long)]
        plugins: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum WeightsCommand {
    /// List a file's tensors (name, dtype, shape) and which plugin, variant and naming scheme
    /// it fits, best first.
    Inspect {
        /// A .safetensors file or a PyTorch .pth/.pt checkpoint.
        file: PathBuf,
        /// Plugin directory (default: the runner's own directory).
        #[arg(long)]
        plugins: Option<PathBuf>,
    },
}

#[derive(Args, Default)]
struct TrainArgs {
    /// Experiment file; the embedded demo experiment when omitted.
    experiment: Option<PathBuf>,
    /// Set a run key in every run, over the file's values (repeatable): a dotted key and a TOML
    /// value, a bare word being a string: `--set batches=2 --set device=cpu --set
    /// backbone.options.input_size=64`. The experiment is then `<name>+set-<hash>`: its runs and
    /// results go to folders of that name, never the file's own.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Plugin directory (overrides the experiment's `plugins`; default: beside the runner).
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// Device for every run: cpu, tch-cpu, cuda, cuda:N (overrides the experiment's).
    #[arg(long)]
    device: Option<String>,
    /// Continue runs from their checkpoints (finished runs are kept as they are).
    #[arg(long)]
    resume: bool,
    /// Train runs from scratch, deleting the results they already have (without --resume or
    /// --restart, a run with results is refused and nothing is deleted).
    #[arg(long, conflicts_with = "resume")]
    restart: bool,
    /// Only this run (repeatable).
    #[arg(long = "run", value_name = "NAME")]
    runs: Vec<String>,
    /// Only the runs of one slice of the sweep, for running it on many machines: `i/n` (the
    /// i-th of n slices, from 0), `auto` (Slurm array: SLURM_ARRAY_TASK_ID of an array 0-(n-1))
    /// or `auto/n` (the index from SLURM_ARRAY_TASK_ID or Kubernetes' JOB_COMPLETION_INDEX, n
    /// given). A run's slice depends only on its name. Shards write only their runs' folders;
    /// `runner report` builds the experiment's results once they are done.
    #[arg(long, value_name = "I/N|auto|auto/N")]
    shard: Option<String>,
    /// Check the experiment file and plugins, train nothing.
    #[arg(long)]
    check: bool,
    /// MLflow tracking server for every run (overrides `[tracking] uri` and
    /// MLFLOW_TRACKING_URI).
    #[arg(long, value_name = "URI")]
    tracking_uri: Option<String>,
    /// Do not log to MLflow, whatever the experiment file or environment says.
    #[arg(long, conflicts_with = "tracking_uri")]
    no_tracking: bool,
}

#[derive(Subcommand)]
enum IngestCommand {
    /// Pushshift-style dumps (zstd, --long=31 windows, or plain NDJSON) → per-post ratings and
    /// the posts to download (offline; no network).
    Reddit(RedditArgs),
    /// Download the rated posts' images and write the training manifest (resumable).
    Download(DownloadArgs),
    /// Write a synthetic Pushshift-format dump (for tests and benchmarks; no real data).
    FakeDump(FakeDumpArgs),
}

#[derive(Args)]
struct RedditArgs {
    /// Comments dump (`.zst` or `.ndjson`).
    #[arg(long)]
    comments: PathBuf,
    /// Submissions dump (`.zst` or `.ndjson`): adds posts.parquet, the posts to download.
    #[arg(long)]
    submissions: Option<PathBuf>,
    /// Output folder: ratings.parquet, summary.json, ratings_hist.svg (and posts.parquet).
    #[arg(long)]
    out: PathBuf,
    /// Which posts to keep: ratemeai (media and an imgur url, not removed; RateMeAI's) or
    /// all-images (also i.redd.it, galleries, direct image links).
    #[arg(long, default_value = "ratemeai")]
    posts: String,
    /// Rating rule: ratemeai (RateMeAI's, the default) or strict.
    #[arg(long, default_value = "ratemeai")]
    extractor: String,
    /// Parse threads (default: one per core, one core left to decompression).
    #[arg(long)]
    workers: Option<usize>,
}

#[derive(Args)]
struct FakeDumpArgs {
    /// Comment lines.
    #[arg(long, default_value_t = 1_000_000)]
    comments: u64,
    /// Comments per post on average.
    #[arg(long, default_value_t = 20)]
    per_post: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder: comments.ndjson and submissions.ndjson.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct DownloadArgs {
    /// The ingest folder (from `runner ingest reddit --submissions ...`).
    #[arg(long)]
    out: PathBuf,
    /// Downloads at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Minimum milliseconds between two requests to one host.
    #[arg(long, default_value_t = 250)]
    per_host_interval_ms: u64,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Retries of a transient failure (timeout, 5xx, 429).
    #[arg(long, default_value_t = 4)]
    retries: u32,
    /// First retry delay in milliseconds (doubles each retry).
    #[arg(long, default_value_t = 1000)]
    backoff_ms: u64,
    /// User-Agent header.
    #[arg(long)]
    user_agent: Option<String>,
    /// Rewrite URLs starting with FROM to start with TO (repeatable; first match wins), for a
    /// mirror or a cache, e.g. `--url-map https://i.imgur.com/=http://mirror:8080/imgur/`.
    #[arg(long, value_name = "FROM=TO")]
    url_map: Vec<String>,
    /// Imgur API base URL (albums; needs IMGUR_CLIENT_ID in the environment).
    #[arg(long, default_value = "https://api.imgur.com")]
    imgur_api: String,
    /// Retry failures an earlier run recorded as final (404, not an image, ...).
    #[arg(long)]
    retry_failed: bool,
    /// Only the first N posts (a trial run).
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Args)]
struct RankArgs {
    /// The image folder (JPEG, PNG, WebP; subfolders too).
    folder: PathBuf,
    /// Address to listen on. Keep the loopback default unless others must reach the page.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Session database (SQLite). Default: `.rateme-rank.sqlite` in the folder.
    #[arg(long)]
    db: Option<PathBuf>,
    /// TrueSkill mean of a new image (the original app: 0).
    #[arg(long, default_value_t = 0.0)]
    mu0: f64,
    /// TrueSkill deviation of a new image (the original app: 8.33).
    #[arg(long, default_value_t = 8.33)]
    sigma0: f64,
    /// Seed of the pairing modes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the training manifest (path,target,weight,sigma,comparisons) here and exit.
    #[arg(long, value_name = "CSV")]
    export_manifest: Option<PathBuf>,
    /// The manifest's target: mu, or conservative (mu − 3σ).
    #[arg(long, default_value = "mu")]
    score: String,
    /// Start from a trained run's scores: its model scores every image (as `predict` does),
    /// and the scores, calibrated by the run's validation Spearman, become each image's
    /// starting rating, which the active mode uses. Stored with the session.
    #[arg(long, value_name = "RUN_DIR")]
    prior: Option<PathBuf>,
    /// Plugin directory for `--prior` (default: next to the runner).
    #[arg(long)]
    plugins: Option<PathBuf>,
}

#[derive(Args)]
struct SyncArgs {
    /// Experiment files (their runs' folders) or folders to search for spooled records.
    paths: Vec<PathBuf>,
    /// The `--set`s the runs were trained with (they name their folders; see `train --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
}

#[derive(Args)]
struct BenchArgs {
    /// Experiment file; the embedded demo experiment when omitted.
    experiment: Option<PathBuf>,
    /// Set a run key in every run (as for training): `--set precision=bf16`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Plugin directory (overrides the experiment's `plugins`; default: beside the runner).
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// Device for every run: cpu, tch-cpu, cuda, cuda:N (overrides the experiment's).
    #[arg(long)]
    device: Option<String>,
    /// Only this run (repeatable).
    #[arg(long = "run", value_name = "NAME")]
    runs: Vec<String>,
    /// Untimed steps first (allocation, kernel selection).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
}

#[derive(Args)]
struct ReportArgs {
    /// Experiment file (the embedded demo when omitted).
    experiment: Option<PathBuf>,
    /// The `--set`s the runs were trained with (they name the results files; see `train --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Also replace the table between the experiment's markers in this README.
    #[arg(long, value_name = "README", num_args = 0..=1, default_missing_value = "README.md")]
    readme: Option<PathBuf>,
}

#[derive(Args)]
struct PredictArgs {
    /// A run directory (runs/<experiment>/<run>) or a weights directory (its best/ or checkpoint/).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Plugin directory (default: beside the runner).
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// Device: cpu, tch-cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Images to score.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// The experiment file (the embedded demo when none), with `--set` overrides.
fn load_experiment(path: Option<&PathBuf>, set: &[String]) -> Result<Experiment> {
    let parsed = match path {
        Some(p) => Experiment::load_with(p, set),
        None => Experiment::parse_with(
            std::path::Path::new(DEMO_PATH),
            DEMO_EXPERIMENT.to_owned(),
            set,
        ),
    };
    parsed.map_err(|e| anyhow::anyhow!(e.render()))
}

fn train(args: TrainArgs) -> Result<ExitCode> {
    let exp = load_experiment(args.experiment.as_ref(), &args.set)?;
    let device = args
        .device
        .as_deref()
        .map(DeviceSpec::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let shard = args
        .shard
        .as_deref()
        .map(|given| rateme::train::shard::Shard::parse(given, |name| std::env::var(name).ok()))
        .transpose()?;
    let dirs = sweep::plugin_dirs(&exp, args.plugins.as_ref());
    let host = sweep::load_plugins(&dirs)?;
    sweep::check(&exp, &host, &dirs)?;
    if let Some(s) = &shard {
        eprintln!(
            "shard {} (from {}): {} of the experiment's {} runs",
            s.shard,
            s.from,
            exp.runs
                .iter()
                .filter(|r| s.shard.contains(&r.name))
                .count(),
            exp.runs.len()
        );
    }
    if !exp.overrides.is_empty() {
        let runs = exp.runs[0].run_dir(&exp.name);
        eprintln!(
            "--set: experiment `{}`: runs under {}, results in {}",
            exp.name,
            runs.parent().unwrap_or(&runs).display(),
            exp.results_dir.join(format!("{}.md", exp.name)).display()
        );
    }
    if args.check {
        println!(
            "{}: {} runs, plugins ok",
            exp.path.display(),
            exp.runs.len()
        );
        if let Some(s) = &shard {
            let names: Vec<&str> = exp
                .runs
                .iter()
                .filter(|r| s.shard.contains(&r.name))
                .map(|r| r.name.as_str())
                .collect();
            println!("shard {}: {}", s.shard, names.join(", "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let overrides = tracking::Overrides {
        uri: args.tracking_uri,
        disabled: args.no_tracking,
    };
    let tracker = tracking::Settings::resolve(&exp, &overrides)
        .map_err(anyhow::Error::msg)?
        .map(|settings| {
            eprintln!(
                "mlflow: tracking to {} (experiment `{}`)",
                settings.uri, settings.experiment
            );
            tracking::Tracking::start(&exp, settings)
        });
    rateme::interrupt::install();
    let opts = SweepOptions {
        device,
        resume: args.resume,
        restart: args.restart,
        only: args.runs,
        shard: shard.as_ref().map(|s| s.shard),
    };
    let outcomes = sweep::run_all(&exp, &host, &opts, |spec| {
        let mut sinks = vec![Box::new(ProgressSink::new()) as Box<dyn Sink>];
        if let Some(t) = &tracker {
            sinks.push(Box::new(t.run_sink(&exp, spec)));
        }
        sinks
    })?;
    // A shard writes only its runs' folders: the experiment's results files are shared by all
    // shards, and `runner report` builds them from the run folders when the shards are done.
    let md = match &shard {
        Some(s) => {
            let mut report = String::from("runner report");
            if let Some(p) = &args.experiment {
                report.push_str(&format!(" {}", p.display()));
            }
            for set in &args.set {
                report.push_str(&format!(" --set {set}"));
            }
            eprintln!(
                "shard {}: {} runs done here; `{report}` builds the results table from every run's folder",
                s.shard,
                outcomes.len(),
            );
            None
        }
        None => {
            let md = rateme::report::write_results(&exp).context("writing results")?;
            println!("{}", std::fs::read_to_string(&md).unwrap_or_default());
            println!("results: {}", md.display());
            Some(md)
        }
    };
    if let Some(t) = tracker {
        if let Some(md) = &md {
            let files: Vec<(PathBuf, String)> = ["md", "csv", "svg"]
                .iter()
                .map(|ext| {
                    let name = format!("{}.{ext}", exp.name);
                    (md.with_file_name(&name), format!("results/{name}"))
                })
                .collect();
            t.attach_to_session(&files);
        }
        let report = t.finish();
        for line in tracking::describe(&report) {
            eprintln!("{line}");
        }
    }
    if rateme::interrupt::requested() {
        eprintln!("stopped by the user; `--resume` continues where the runs stopped");
        return Ok(ExitCode::from(130));
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for o in outcomes.iter().filter(|o| o.result.is_err()) {
            eprintln!(
                "error: run `{}` failed: {}",
                o.name,
                o.result.as_ref().err().map_or("", |e| e.as_str())
            );
        }
        Ok(ExitCode::from(2))
    }
}

fn bench(args: BenchArgs) -> Result<ExitCode> {
    if args.steps == 0 {
        bail!("--steps 0: give at least one timed step");
    }
    let exp = load_experiment(args.experiment.as_ref(), &args.set)?;
    let device = args
        .device
        .as_deref()
        .map(DeviceSpec::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let dirs = sweep::plugin_dirs(&exp, args.plugins.as_ref());
    let host = sweep::load_plugins(&dirs)?;
    sweep::check(&exp, &host, &dirs)?;
    for name in &args.runs {
        if !exp.runs.iter().any(|r| &r.name == name) {
            let all: Vec<&str> = exp.runs.iter().map(|r| r.name.as_str()).collect();
            bail!(
                "--run {name}: no such run; the experiment has {}",
                all.join(", ")
            );
        }
    }
    println!(
        "| run | backbone | head | input | batch | device | precision | parameters | images/s | ms/step |"
    );
    println!("|---|---|---|---:|---:|---|---|---:|---:|---:|");
    for spec in exp
        .runs
        .iter()
        .filter(|r| args.runs.is_empty() || args.runs.contains(&r.name))
    {
        let r = rateme::train::bench::bench_run(
            &exp,
            spec,
            &host,
            device.as_ref(),
            args.warmup,
            args.steps,
        )
        .with_context(|| format!("run `{}`", spec.name))?;
        println!(
            "| {} | {} | {} | {}×{} | {} | {} | {} | {} | {:.2} | {:.1} |",
            r.run,
            r.backbone,
            r.head,
            r.input.0,
            r.input.1,
            r.batch,
            r.device,
            r.precision,
            thousands(r.params),
            r.images_per_s,
            r.step_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn report(args: ReportArgs) -> Result<ExitCode> {
    let exp = load_experiment(args.experiment.as_ref(), &args.set)?;
    let (_, csv, _) = rateme::report::results_paths(&exp.name, &exp.results_dir);
    if exp.runs.iter().any(|r| r.run_dir(&exp.name).exists()) {
        let md = rateme::report::write_results(&exp).context("writing results")?;
        eprintln!("results: {}", md.display());
    } else if csv.exists() {
        // The run folders were removed (to save space): the results files stay as they are.
        eprintln!(
            "no run folders of experiment `{}`: the README block comes from {} as it is",
            exp.name,
            csv.display()
        );
    } else {
        let first = exp.runs[0].run_dir(&exp.name);
        bail!(
            "no run of experiment `{}` has a folder yet (e.g. {}) and there is no {}: train it first, from this folder, or give report the --set values it was trained with",
            exp.name,
            first.display(),
            csv.display()
        );
    }
    let block = rateme::report::readme_block(&exp)?;
    print!("{block}");
    if let Some(readme) = args.readme {
        rateme::report::update_readme(&exp, &readme)?;
        println!("updated {}", readme.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn host_for(plugins: Option<PathBuf>) -> Result<PluginHost> {
    let dir = plugins.unwrap_or_else(rateme::plugins::default_dir);
    let mut host = PluginHost::new();
    host.load_dir(&dir).map_err(|errors| {
        anyhow::anyhow!(
            errors
                .iter()
                .map(|e| format!("error: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    Ok(host)
}

fn predict(args: PredictArgs) -> Result<ExitCode> {
    let host = host_for(args.plugins)?;
    let device = DeviceSpec::parse(&args.device).map_err(anyhow::Error::msg)?;
    let predictor = rateme::Predictor::load(&args.checkpoint, &host, &device)?;
    let scores = predictor.predict_paths(&args.images)?;
    for (path, score) in args.images.iter().zip(scores) {
        println!("{score:.4}\t{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn sync(args: SyncArgs) -> Result<ExitCode> {
    let mut roots = Vec::new();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("runs")]
    } else {
        args.paths
    };
    for p in paths {
        if p.is_dir() {
            roots.push(p);
        } else {
            let exp = load_experiment(Some(&p), &args.set)?;
            roots.extend(
                exp.runs
                    .iter()
                    .map(|r| r.run_dir(&exp.name).join(tracking::RUN_SUBDIR)),
            );
        }
    }
    let (found, report) = tracking::sync(&roots, Duration::from_secs_f64(args.timeout.max(0.0)));
    if found == 0 {
        println!("mlflow: nothing to send");
        return Ok(ExitCode::SUCCESS);
    }
    for line in tracking::describe(&report) {
        println!("{line}");
    }
    if report.pending() > 0 || report.journals.iter().any(|j| j.stuck.is_some()) {
        Ok(ExitCode::FAILURE)
    } else {
        println!("mlflow: all records of {found} run(s) delivered");
        Ok(ExitCode::SUCCESS)
    }
}

fn ingest(cmd: IngestCommand) -> Result<ExitCode> {
    use rateme::ingest;
    match cmd {
        IngestCommand::Reddit(a) => {
            let extractor = match a.extractor.as_str() {
                "ratemeai" => ingest::rating::Extractor::Ratemeai,
                "strict" => ingest::rating::Extractor::Strict,
                other => bail!("--extractor {other}: valid values are ratemeai and strict"),
            };
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let filter = ingest::posts::PostFilter::parse(&a.posts).ok_or_else(|| {
                anyhow::anyhow!(
                    "--posts {}: valid values are ratemeai and all-images",
                    a.posts
                )
            })?;
            let opts = ingest::OfflineOptions {
                comments: a.comments,
                submissions: a.submissions,
                filter,
                out: a.out,
                extractor,
                workers: a.workers.unwrap_or((cores - 1).max(1)),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let summary = ingest::offline(&opts)?;
            println!("{}", ingest::describe(&summary));
            println!("wrote {}", opts.out.join(ingest::files::RATINGS).display());
            if opts.submissions.is_some() {
                println!(
                    "wrote {}; next: runner ingest download --out {}",
                    opts.out.join(ingest::download::files::POSTS).display(),
                    opts.out.display()
                );
            }
        }
        IngestCommand::Download(a) => {
            let mut opts = ingest::download::DownloadOptions::new(a.out);
            let fetch = &mut opts.fetch;
            fetch.per_host_interval = Duration::from_millis(a.per_host_interval_ms);
            fetch.timeout = Duration::try_from_secs_f64(a.timeout)
                .map_err(|_| anyhow::anyhow!("--timeout {}: give seconds > 0", a.timeout))?;
            fetch.retries = a.retries;
            fetch.backoff = Duration::from_millis(a.backoff_ms);
            if let Some(ua) = a.user_agent {
                fetch.user_agent = ua;
            }
            for m in &a.url_map {
                fetch.url_map.push(
                    ingest::fetch::parse_url_map(m)
                        .map_err(|e| anyhow::anyhow!("--url-map {e}"))?,
                );
            }
            opts.concurrency = a.concurrency.max(1);
            opts.imgur_api = a.imgur_api;
            opts.retry_failed = a.retry_failed;
            opts.limit = a.limit;
            opts.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let summary = ingest::download::download(&opts)?;
            println!("{}", ingest::download::describe(&summary));
            println!(
                "wrote {} ({} images); train on it with data.table = \"{}\"",
                opts.dir.join(ingest::download::files::MANIFEST).display(),
                summary.images_ok,
                opts.dir.join(ingest::download::files::MANIFEST).display()
            );
        }
        IngestCommand::FakeDump(a) => {
            let spec = ingest::fake::FakeDump {
                comments: a.comments,
                per_post: a.per_post,
                seed: a.seed,
                ..Default::default()
            };
            std::fs::create_dir_all(&a.out)?;
            let write = |name: &str,
                         f: &dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()>|
             -> Result<()> {
                let path = a.out.join(name);
                let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
                f(&mut w)?;
                std::io::Write::flush(&mut w)?;
                println!("wrote {}", path.display());
                Ok(())
            };
            write("comments.ndjson", &|w| spec.write_comments(w))?;
            write("submissions.ndjson", &|w| spec.write_submissions(w))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn rank(a: RankArgs) -> Result<ExitCode> {
    use rateme_rank::trueskill::TrueSkill;
    if !a.folder.is_dir() {
        bail!(
            "{}: not a folder; give the folder of images to rank",
            a.folder.display()
        );
    }
    if !(a.sigma0 > 0.0 && a.sigma0.is_finite() && a.mu0.is_finite()) {
        bail!(
            "--mu0 {} --sigma0 {}: give finite numbers, sigma0 > 0",
            a.mu0,
            a.sigma0
        );
    }
    let env = TrueSkill {
        mu: a.mu0,
        sigma: a.sigma0,
        ..TrueSkill::default()
    };
    let db = a.db.unwrap_or_else(|| a.folder.join(".rateme-rank.sqlite"));
    if let Some(out) = a.export_manifest {
        let conservative = match a.score.as_str() {
            "mu" => false,
            "conservative" => true,
            other => bail!("--score {other}: valid values are mu and conservative"),
        };
        if !db.exists() {
            bail!(
                "{}: no ranking session yet; rank first with `runner rank {}`",
                db.display(),
                a.folder.display()
            );
        }
        let mut ranker =
            rateme_ranker::open_folder(&a.folder, &db, env, a.seed).map_err(anyhow::Error::msg)?;
        let text = ranker.manifest_csv(conservative);
        rateme::fsutil::write_atomic(&out, text.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "wrote {} ({} images)",
            out.display(),
            text.lines().count() - 1
        );
        return Ok(ExitCode::SUCCESS);
    }
    let prior = match &a.prior {
        Some(run) => Some(model_prior(run, &a.folder, a.plugins.clone())?),
        None => None,
    };
    rateme_ranker::serve(rateme_ranker::ServeOptions {
        settings: rateme_ranker::Settings {
            root: a.folder,
            env,
            seed: a.seed,
            prior,
        },
        db,
        addr: std::net::SocketAddr::new(a.host, a.port),
    })
    .map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}

/// Scores every readable image of `folder` with the model of `run` and reads the run's
/// validation Spearman for the calibration.
fn model_prior(
    run: &Path,
    folder: &Path,
    plugins: Option<PathBuf>,
) -> Result<rateme_ranker::ModelPrior> {
    let summary_path = run.join("summary.json");
    let summary: serde_json::Value = std::fs::read(&summary_path)
        .map_err(anyhow::Error::from)
        .and_then(|b| Ok(serde_json::from_slice(&b)?))
        .with_context(|| {
            format!(
                "--prior {}: no readable summary.json; give a finished run's folder (runs/<experiment>/<run>)",
                run.display()
            )
        })?;
    let rho = summary["spearman"].as_f64().with_context(|| {
        format!(
            "{}: no validation `spearman`; the prior is calibrated by it",
            summary_path.display()
        )
    })?;
    let correlation = rateme_rank::prior::pearson_from_spearman(rho).clamp(0.0, 1.0);
    let host = host_for(plugins)?;
    let predictor = rateme::Predictor::load(run, &host, &DeviceSpec::Cpu)?;
    let listed = rateme_ranker::folder::list(folder)
        .with_context(|| format!("listing {}", folder.display()))?;
    let usable: Vec<String> = listed
        .into_iter()
        .filter(|p| {
            matches!(
                rateme_ranker::folder::check(folder, p),
                rateme_ranker::folder::FileState::Ok { .. }
            )
        })
        .collect();
    eprintln!(
        "prior: scoring {} images with {} (validation Spearman {rho:.3}, correlation {correlation:.3})",
        usable.len(),
        run.display()
    );
    let paths: Vec<PathBuf> = usable.iter().map(|p| folder.join(p)).collect();
    let scores = predictor.predict_paths(&paths)?;
    Ok(rateme_ranker::ModelPrior {
        run: run.display().to_string(),
        correlation,
        scores: usable
            .into_iter()
            .zip(scores)
            .map(|(p, s)| (p, f64::from(s)))
            .collect(),
    })
}

fn list_plugins(plugins: Option<PathBuf>) -> Result<ExitCode> {
    let host = host_for(plugins)?;
    if host.libraries.is_empty() {
        bail!(
            "no plugin libraries (librateme_*.so) found; build them with `cargo build --workspace`"
        );
    }
    for e in host.registry.backbones() {
        println!("backbone  {:<14} {}", e.name, e.description);
        for v in rateme::train::catalog::backbone_variants(&host, &e.name) {
            let name = if v.variant.is_empty() {
                "-"
            } else {
                &v.variant
            };
            match v.params {
                Ok(params) => println!(
                    "  {name:<10} {:>13} params  input {}x{}  features {:<5} stages {}",
                    thousands(params),
                    v.input.0,
                    v.input.1,
                    v.features,
                    stage_span(&v.stages),
                ),
                Err(e) => println!("  {name:<10} does not build with default options: {e}"),
            }
        }
        print_schemes(&e.schemes);
    }
    for e in host.registry.heads() {
        println!("head      {:<14} {}", e.name, e.description);
        print_schemes(&e.schemes);
    }
    Ok(ExitCode::SUCCESS)
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Stage names, the middle ones elided when there are many (`embed, block:1 .. block:12, head`).
fn stage_span(stages: &[String]) -> String {
    match stages.len() {
        0 => "(none)".to_owned(),
        1..=6 => stages.join(", "),
        n => format!(
            "{}, {} .. {}, {}",
            stages[0],
            stages[1],
            stages[n - 2],
            stages[n - 1]
        ),
    }
}

/// The pretrained-weight naming schemes a plugin reads, one line.
fn print_schemes(schemes: &[rateme::sdk::weights::NamingScheme]) {
    if !schemes.is_empty() {
        let names: Vec<&str> = schemes.iter().map(|s| s.name()).collect();
        println!("  weights in the names of: {}", names.join(", "));
    }
}

fn inspect_weights(path: &std::path::Path, plugins: Option<PathBuf>) -> Result<ExitCode> {
    let file = rateme::sdk::weights::read_weights(path)?;
    let host = host_for(plugins)?;
    println!(
        "{}: {}{}, {} tensors",
        path.display(),
        file.format,
        file.container
            .as_deref()
            .map(|c| format!(", weights under `{c}`"))
            .unwrap_or_default(),
        file.tensors.len()
    );
    for t in &file.tensors {
        println!(
            "  {:<60} {:<5} {:?}",
            t.name,
            format!("{:?}", t.stored_dtype),
            t.shape
        );
    }
    let fits = rateme::train::inspect::inspect(&file, &host, |what| {
        tracing::debug!("trying {what}");
    });
    if fits.is_empty() {
        println!("fits no loaded plugin under any of its naming schemes");
        return Ok(ExitCode::FAILURE);
    }
    println!("fits (best first; `pretrained_partial = true` loads an incomplete one):");
    for fit in fits.iter().take(8) {
        let m = &fit.matching;
        println!(
            "  {} {} {}, scheme `{}`: {}/{} applied, {} missing, {} mis-shaped, {} unexpected{}",
            fit.kind,
            fit.plugin,
            fit.shape,
            m.scheme,
            m.applied.len(),
            fit.model_tensors,
            m.missing.len(),
            m.mis_shaped.len(),
            m.unexpected.len(),
            if fit.is_complete() { "  (loads)" } else { "" }
        );
    }
    let best = &fits[0].matching;
    let shown = 12;
    let more = |n: usize| {
        if n > shown {
            println!("  ... and {} more", n - shown);
        }
    };
    for t in best.missing.iter().take(shown) {
        println!("  best fit misses {} {:?}", t.name, t.shape);
    }
    more(best.missing.len());
    for t in best.mis_shaped.iter().take(shown) {
        println!(
            "  best fit: {} expects {:?}, the file's {} has {:?}",
            t.name, t.expected, t.file_name, t.found
        );
    }
    more(best.mis_shaped.len());
    for t in best.unexpected.iter().take(shown) {
        println!("  best fit has no place for {} {:?}", t.name, t.shape);
    }
    more(best.unexpected.len());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => train(cli.train),
        Some(Command::Train(a)) => train(a),
        Some(Command::Report(a)) => report(a),
        Some(Command::Bench(a)) => bench(a),
        Some(Command::Predict(a)) => predict(a),
        Some(Command::Sync(a)) => sync(a),
        Some(Command::Ingest(c)) => ingest(c),
        Some(Command::Rank(a)) => rank(a),
        Some(Command::Weights(WeightsCommand::Inspect { file, plugins })) => {
            inspect_weights(&file, plugins)
        }
        Some(Command::Plugins { plugins }) => list_plugins(plugins),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "{}",
                format!("{e:#}").trim_start_matches("error: ").pipe_error()
            );
            ExitCode::FAILURE
        }
    }
}

trait PipeError {
    fn pipe_error(&self) -> String;
}

impl PipeError for &str {
    fn pipe_error(&self) -> String {
        if self.starts_with("error") {
            (*self).to_owned()
        } else {
            format!("error: {self}")
        }
    }
}
