//! MLflow tracking without a server: off unless asked for, and a server that cannot be reached
//! never stops training (records wait on disk). The tests against a real MLflow server are in
//! `tests/mlflow/` (pytest, run by scripts/test-mlflow.sh).

mod common;

use std::path::Path;

use common::{assert_ok, experiment, train, train_with_env};
use rateme::tracking::journal;
use rateme::tracking::record::Record;

const RUNS: &str = "[[runs]]\nname = \"r\"\nbackbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 24 } }\n";

fn free_port_uri() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

fn journals(dir: &Path) -> Vec<std::path::PathBuf> {
    journal::find(&dir.join("runs"))
}

#[test]
fn untracked_runs_write_no_journal_and_no_tracking_wins_over_the_environment() {
    let d = tempfile::tempdir().unwrap();
    let exp = experiment(d.path(), "", RUNS);
    assert_ok(&train(&exp, &[]));
    assert!(journals(d.path()).is_empty());
    assert!(!d.path().join("runs/r/mlflow").exists());

    let out = train_with_env(
        &exp,
        &["--no-tracking", "--restart"],
        &[("MLFLOW_TRACKING_URI", &free_port_uri())],
    );
    assert_ok(&out);
    assert!(journals(d.path()).is_empty());
}

#[test]
fn an_unreachable_server_never_stops_training_and_everything_waits_on_disk() {
    let d = tempfile::tempdir().unwrap();
    let exp = experiment(d.path(), "", RUNS);
    let text = std::fs::read_to_string(&exp).unwrap();
    // No `uri` in the file: the environment variable alone turns tracking on (MLflow's
    // convention). No waiting for the absent server at the end.
    let with_table = text.replacen(
        "[defaults]",
        "[tracking]\nflush_timeout_s = 0\n\n[defaults]",
        1,
    );
    std::fs::write(&exp, with_table).unwrap();
    let uri = free_port_uri();
    let out = train_with_env(
        &exp,
        &[],
        &[
            ("MLFLOW_TRACKING_URI", &uri),
            ("MLFLOW_EXPERIMENT_NAME", "from-env"),
        ],
    );
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tracking server unreachable"), "{stderr}");
    assert!(stderr.contains("records wait on disk"), "{stderr}");

    let found = journals(d.path());
    assert_eq!(found.len(), 1, "{found:?}");
    let entries = journal::read_from(&found[0], 0, 100_000).unwrap();
    let records: Vec<Record> = entries.into_iter().map(|e| e.record.unwrap()).collect();
    assert_eq!(journal::pending(&found[0]).unwrap(), records.len() as u64);
    match &records[0] {
        Record::Start {
            uri: u, experiment, ..
        } => {
            assert_eq!(u, &uri);
            assert_eq!(experiment, "from-env");
        }
        other => panic!("first record {other:?}"),
    }
    // 40 batches, evaluations every 10: 4 points of each evaluation metric; batch_loss every 10.
    let points = |key: &str| {
        records
            .iter()
            .filter(|r| matches!(r, Record::Metric { key: k, .. } if k == key))
            .count()
    };
    assert_eq!(points("val_loss"), 4);
    assert_eq!(points("batch_loss"), 4);
    let statuses: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Status { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [rateme::tracking::record::RunStatus::Finished]);
    let artifacts = records
        .iter()
        .filter(|r| matches!(r, Record::Artifact { .. }))
        .count();
    assert!(artifacts >= 5, "{artifacts}");
}

#[test]
fn a_tracking_table_with_a_file_uri_is_refused_with_its_location() {
    let d = tempfile::tempdir().unwrap();
    let exp = experiment(d.path(), "", RUNS);
    let text = std::fs::read_to_string(&exp).unwrap();
    std::fs::write(
        &exp,
        text.replacen(
            "[defaults]",
            "[tracking]\nuri = \"file:///tmp/mlruns\"\n\n[defaults]",
            1,
        ),
    )
    .unwrap();
    let out = train(&exp, &["--check"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exp.toml:4:") && stderr.contains("tracking.uri"),
        "{stderr}"
    );
}
