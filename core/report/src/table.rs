use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use rateme_spec::{Experiment, RunSpec};
use rateme_train::{FailedRun, RunSummary, checkpoint};

/// One row of the results table (one run). Written to `results/<experiment>.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Run name.
    pub run: String,
    /// `ok` or `failed: <reason>`.
    pub status: String,
    /// Backbone `plugin/variant`.
    pub backbone: String,
    /// Head plugin.
    pub head: String,
    /// Parameters.
    pub params: Option<usize>,
    /// Parameters that were trained (all but a frozen backbone's). Absent from results files
    /// written before this column existed.
    #[serde(default)]
    pub trainable_params: Option<usize>,
    /// Mean train loss (MSE) before the best evaluation.
    pub train_loss: Option<f64>,
    /// Validation MSE at the best evaluation.
    pub val_loss: Option<f64>,
    /// Validation MAE at the best evaluation.
    pub val_mae: Option<f64>,
    /// Predict-the-training-mean MAE on the same validation set.
    pub baseline_mae: Option<f64>,
    /// Spearman ρ at the best evaluation.
    pub spearman: Option<f64>,
    /// Batch of the best evaluation.
    pub best_batch: Option<u64>,
    /// Wall time (s).
    pub wall_s: Option<f64>,
    /// Training images per second.
    pub images_per_s: Option<f64>,
    /// Device.
    pub device: String,
}

impl ResultRow {
    fn from_summary(s: &RunSummary) -> Self {
        Self {
            run: s.run.clone(),
            status: "ok".into(),
            backbone: s.backbone.clone(),
            head: s.head.clone(),
            params: Some(s.params),
            trainable_params: Some(s.trainable_params),
            train_loss: Some(s.train_loss),
            val_loss: Some(s.val_loss),
            val_mae: Some(s.val_mae),
            baseline_mae: Some(s.baseline_mae),
            spearman: Some(s.spearman),
            best_batch: Some(s.best_batch),
            wall_s: Some(s.wall_s),
            images_per_s: Some(s.images_per_s),
            device: s.device.clone(),
        }
    }

    fn without_results(run: &str, status: String) -> Self {
        Self {
            run: run.to_owned(),
            status,
            backbone: String::new(),
            head: String::new(),
            params: None,
            trainable_params: None,
            train_loss: None,
            val_loss: None,
            val_mae: None,
            baseline_mae: None,
            spearman: None,
            best_batch: None,
            wall_s: None,
            images_per_s: None,
            device: String::new(),
        }
    }

    /// The row of the run `spec` from what its directory holds: its results (`summary`, read
    /// from `summary.json`), its failure (`failed.json`), a checkpoint of a run not finished
    /// yet, or nothing.
    fn from_run_dir(exp: &Experiment, spec: &RunSpec, summary: Option<&RunSummary>) -> Self {
        let dir = spec.run_dir(&exp.name);
        if let Some(summary) = summary {
            return Self::from_summary(summary);
        }
        if let Some(failed) = FailedRun::read(&dir) {
            let first = failed.error.lines().next().unwrap_or("").to_owned();
            return Self::without_results(&spec.name, format!("failed: {first}"));
        }
        let status = match checkpoint::find(&dir.join("checkpoint")) {
            Some(found) => match checkpoint_batch(&found) {
                Some(batch) => format!(
                    "unfinished: checkpoint at batch {batch} of {} (--resume continues it)",
                    spec.batches
                ),
                None => "unfinished: has a checkpoint (--resume continues it)".to_owned(),
            },
            None if rateme_train::existing_outputs(&dir).is_empty() => "not run yet".to_owned(),
            None => "unfinished: stopped before its first checkpoint (--resume starts it again)"
                .to_owned(),
        };
        Self::without_results(&spec.name, status)
    }
}

/// A run's results, from the `summary.json` in its directory.
fn read_summary(dir: &Path) -> Option<RunSummary> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The batch a checkpoint was written at, from its `state.json`.
fn checkpoint_batch(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("state.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()?
        .get("batch")?
        .as_u64()
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn params(p: Option<usize>) -> String {
    match p {
        None => "–".into(),
        Some(p) if p >= 1_000_000 => format!("{:.1}M", p as f64 / 1e6),
        Some(p) if p >= 1_000 => format!("{:.1}k", p as f64 / 1e3),
        Some(p) => p.to_string(),
    }
}

/// The markdown table of rows.
pub fn markdown_table(rows: &[ResultRow]) -> String {
    let mut t = String::from(
        "| run | backbone | head | params | trained params | train loss | val loss | val MAE | mean-baseline MAE | Spearman ρ | best batch | wall time | images/s | device |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        if r.status != "ok" {
            t.push_str(&format!(
                "| {} | {} | | | | | | | | | | | | |\n",
                r.run,
                r.status.replace('|', "\\|")
            ));
            continue;
        }
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.run,
            r.backbone,
            r.head,
            params(r.params),
            params(r.trainable_params),
            f(r.train_loss, 3),
            f(r.val_loss, 3),
            f(r.val_mae, 3),
            f(r.baseline_mae, 3),
            f(r.spearman, 3),
            r.best_batch.map_or("–".into(), |b| b.to_string()),
            r.wall_s.map_or("–".into(), |s| format!("{s:.0} s")),
            f(r.images_per_s, 0),
            r.device
        ));
    }
    t
}

/// Paths of an experiment's results files.
pub fn results_paths(exp_name: &str, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join(format!("{exp_name}.md")),
        dir.join(format!("{exp_name}.csv")),
        dir.join(format!("{exp_name}.svg")),
    )
}

/// Writes `results/<experiment>.md`, `.csv` and the loss-curve plot `.svg` from the run
/// directories (each run's `summary.json`, `failed.json` or checkpoint): one row per run of the experiment, in the file's
/// order, whichever process or machine trained it. A sweep, a `--run` subset and `runner report`
/// after shards all write the same files for the same run directories. A run whose directory
/// no longer exists keeps its row from the existing CSV.
pub fn write_results(exp: &Experiment) -> std::io::Result<PathBuf> {
    let dir = &exp.results_dir;
    std::fs::create_dir_all(dir)?;
    let (md_path, csv_path, svg_path) = results_paths(&exp.name, dir);
    // A run whose folder is gone (deleted to save space) keeps the row the results file has.
    let previous = read_rows(&csv_path).unwrap_or_default();
    let summaries: Vec<Option<RunSummary>> = exp
        .runs
        .iter()
        .map(|spec| read_summary(&spec.run_dir(&exp.name)))
        .collect();
    let mut gone = Vec::new();
    let rows: Vec<ResultRow> = exp
        .runs
        .iter()
        .zip(&summaries)
        .map(|(spec, summary)| {
            let kept = previous.iter().find(|p| p.run == spec.name);
            match kept {
                Some(row) if !spec.run_dir(&exp.name).exists() => {
                    gone.push(spec.name.as_str());
                    row.clone()
                }
                _ => ResultRow::from_run_dir(exp, spec, summary.as_ref()),
            }
        })
        .collect();
    if !gone.is_empty() {
        tracing::warn!(
            "runs without a folder: {}; their rows are kept from {}, and their loss curves are not in the plot",
            gone.join(", "),
            csv_path.display()
        );
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        w.serialize(r).map_err(std::io::Error::other)?;
    }
    rateme_util::fsutil::write_atomic(&csv_path, &w.into_inner().map_err(std::io::Error::other)?)?;

    let histories: Vec<(String, Vec<rateme_train::events::EvalRecord>)> = summaries
        .into_iter()
        .flatten()
        .map(|s| (s.run, s.history))
        .collect();
    let svg = plot_history_safe(&exp.name, &histories);
    rateme_util::fsutil::write_atomic(&svg_path, svg.as_bytes())?;

    let svg_name = svg_path.file_name().unwrap_or_default().to_string_lossy();
    let mut md = format!("# Results: {}\n\n", exp.name);
    if !exp.description.is_empty() {
        md.push_str(&format!("{}\n\n", exp.description.trim()));
    }
    md.push_str(&format!("Experiment file: `{}`.\n\n", exp.path.display()));
    md.push_str(&markdown_table(&rows));
    md.push_str(
        "\nLosses are MSE on the rating scale; metrics are taken at the evaluation with the lowest \
         validation loss (`best batch`). *Mean-baseline MAE* always predicts the training-set mean: \
         a model is only useful where its MAE is below it. Spearman ρ is the rank correlation of \
         predictions with the ratings on the validation set.\n\n",
    );
    md.push_str(&format!("![Loss curves]({svg_name})\n"));
    rateme_util::fsutil::write_atomic(&md_path, md.as_bytes())?;
    Ok(md_path)
}

fn plot_history_safe(
    name: &str,
    histories: &[(String, Vec<rateme_train::events::EvalRecord>)],
) -> String {
    super::plot_history(name, histories).unwrap_or_else(|e| {
        tracing::warn!("loss plot failed: {e}");
        String::from("<svg xmlns=\"http://www.w3.org/2000/svg\"/>")
    })
}

/// Reads a results CSV back.
pub fn read_rows(path: &Path) -> std::io::Result<Vec<ResultRow>> {
    let mut r = csv::Reader::from_path(path).map_err(std::io::Error::other)?;
    r.deserialize()
        .map(|row| row.map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trained_params_are_shown_and_older_results_files_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.csv");
        // A results file from before the `trainable_params` column.
        std::fs::write(
            &old,
            "run,status,backbone,head,params,train_loss,val_loss,val_mae,baseline_mae,spearman,best_batch,wall_s,images_per_s,device\n\
             a,ok,smallconv/tiny,linear,6233,1.0,1.1,0.8,1.6,0.8,100,27.0,1800.0,cpu\n",
        )
        .unwrap();
        let mut rows = read_rows(&old).unwrap();
        assert_eq!(rows[0].params, Some(6233));
        assert_eq!(rows[0].trainable_params, None);
        let table = markdown_table(&rows);
        assert!(table.contains("| params | trained params |"), "{table}");
        assert!(table.contains("| 6.2k | – |"), "{table}");

        // A frozen backbone: fewer trained than total parameters, and the column round-trips.
        rows[0].trainable_params = Some(33);
        let new = dir.path().join("new.csv");
        let mut w = csv::Writer::from_path(&new).unwrap();
        w.serialize(&rows[0]).unwrap();
        w.flush().unwrap();
        let back = read_rows(&new).unwrap();
        assert_eq!(back, rows);
        assert!(markdown_table(&back).contains("| 6.2k | 33 |"));
    }
}
