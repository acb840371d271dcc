//! Training through the streaming loader: memory bounded below the dataset's decoded size,
//! the same run whatever the number of decoding threads, unusable images skipped and listed,
//! too many of them a stop before training.

mod common;

use std::path::Path;

const RUN: &str = "[[runs]]\nname = \"p\"\nbackbone = { plugin = \"smallconv\", variant = \"tiny\", options = { input_size = 64 } }\n";

fn summary(run_dir: &Path) -> rateme::train::RunSummary {
    serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap()
}

/// The run folder of the experiment run with `sets` (its own `runs+set-…` folder).
fn run_dir(dir: &Path, out: &std::process::Output) -> std::path::PathBuf {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = stderr
        .split("experiment `t+set-")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no --set experiment name in: {stderr}"));
    dir.join(format!("runs+set-{name}/p"))
}

#[test]
fn trains_on_more_images_than_the_loader_holds() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUN);
    let count = 400u64;
    let out = common::train(
        &exp,
        &[
            "--set",
            &format!("data.synthetic.count={count}"),
            "--set",
            "data.synthetic.size=64",
            "--set",
            "data.loader.prefetch=1",
            "--set",
            "data.loader.workers=2",
            "--set",
            "data.loader.cache=\"off\"",
        ],
    );
    common::assert_ok(&out);
    let s = summary(&run_dir(dir.path(), &out));
    assert_eq!(s.train_size + s.val_size, count as usize);
    assert_eq!(s.batches, 40);
    // Holding every image decoded at 64 px (the old loader) needs count · 64 · 64 · 3 bytes;
    // the streaming loader's bound is three batches and two decoding buffers.
    let decoded = count * 64 * 64 * 3;
    let batch = 16 * 3 * 64 * 64 * 4;
    assert_eq!(
        s.loader_memory_bytes,
        3 * batch + 2 * (64 * 64 * 4 + 64 * 64 * 3)
    );
    assert!(
        s.loader_memory_bytes * 2 < decoded,
        "bound {} vs {decoded} decoded",
        s.loader_memory_bytes
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("loader: 2 workers, 1 batches ahead"),
        "{stderr}"
    );
    assert!(stderr.contains("the step waited"), "{stderr}");
}

#[test]
fn the_number_of_decoding_threads_does_not_change_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUN);
    let run = |workers: &str| {
        let out = common::train(
            &exp,
            &[
                "--set",
                "batches=20",
                "--set",
                &format!("data.loader.workers={workers}"),
            ],
        );
        common::assert_ok(&out);
        summary(&run_dir(dir.path(), &out))
    };
    let (one, three) = (run("1"), run("3"));
    let losses = |s: &rateme::train::RunSummary| -> Vec<(u64, u64)> {
        s.history
            .iter()
            .map(|r| (r.train_loss.to_bits(), r.val_loss.to_bits()))
            .collect()
    };
    assert_eq!(losses(&one), losses(&three));
    assert_eq!(one.history.len(), 2);
}

#[test]
fn unusable_images_are_skipped_listed_and_too_many_stop_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiment(dir.path(), "", RUN);
    // A first run makes the synthetic set; then three of its 120 images break.
    common::assert_ok(&common::train(&exp, &["--set", "batches=1"]));
    let data = dir.path().join("data/images");
    let mut pngs: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    pngs.sort();
    assert_eq!(pngs.len(), 120);
    std::fs::write(&pngs[3], b"").unwrap();
    std::fs::write(&pngs[50], b"<html><body>Not Found</body></html>").unwrap();
    let bytes = std::fs::read(&pngs[90]).unwrap();
    std::fs::write(&pngs[90], &bytes[..bytes.len() / 2]).unwrap();

    let out = common::train(&exp, &["--set", "batches=30"]);
    common::assert_ok(&out);
    let run = run_dir(dir.path(), &out);
    let s = summary(&run);
    assert_eq!(s.skipped, 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        s.train_size + s.val_size,
        118,
        "the header check left two out"
    );
    let list = std::fs::read_to_string(run.join("skipped.csv")).unwrap();
    let kinds: Vec<&str> = list
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(sorted, ["empty", "not-an-image", "truncated"], "{list}");

    // Stopped before training when too few are usable: nothing trained, the list written.
    let out = common::train(
        &exp,
        &[
            "--set",
            "batches=30",
            "--set",
            "data.loader.min_valid_fraction=0.99",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("only 118 of 120 images are usable"),
        "{stderr}"
    );
    let run = run_dir(dir.path(), &out);
    assert!(run.join("skipped.csv").exists());
    assert!(!run.join("metrics.csv").exists());
}
