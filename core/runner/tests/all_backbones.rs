//! `experiments/all_backbones.toml`, RateMeAI's recipe for its four backbones with the
//! `attention-mlp` head, resolves every plugin and trains end to end: the CPU smoke test of the
//! file itself (2 batches of 4 at 64 pixels on synthetic data, through `--set`), which writes
//! a results table with one row per backbone.

mod common;

#[test]
fn all_backbones_smoke_runs_on_cpu_and_writes_four_rows() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::root().join("experiments/all_backbones.toml");
    let table = dir.path().join("data/ratings.csv");
    let runs = dir.path().join("runs");
    let sets = [
        "device=cpu".to_owned(),
        "batches=2".to_owned(),
        "batch_size=4".to_owned(),
        "backbone.options.input_size=64".to_owned(),
        format!("data.table={}", table.display()),
        "data.synthetic={count=48,size=64,seed=5}".to_owned(),
        format!("output_dir={}", runs.display()),
    ];
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir.path())
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .arg(&exp)
        .arg("--plugins")
        .arg(common::plugin_dir())
        .args(sets.iter().flat_map(|s| ["--set", s.as_str()]))
        .output()
        .unwrap();
    common::assert_ok(&out);

    let results: Vec<_> = std::fs::read_dir(dir.path().join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    let csv = std::fs::read_to_string(&results[0]).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let backbones: Vec<&str> = rows.iter().map(|r| r.split(',').nth(2).unwrap()).collect();
    assert_eq!(
        backbones,
        [
            "efficientnet/b5",
            "convnext/base",
            "vit/b16",
            "clip/vit-b32"
        ],
        "{csv}"
    );
    assert!(
        rows.iter().all(|r| r.split(',').nth(1) == Some("ok")),
        "{csv}"
    );
    let md = results[0].with_extension("md");
    let md = std::fs::read_to_string(md).unwrap();
    for run in [
        "efficientnet-b5",
        "convnext-base",
        "vit-b16",
        "clip-vit-b32",
    ] {
        assert!(md.contains(&format!("| {run} |")), "{md}");
    }
    // Each run as RateMeAI built it: the ConvNeXt front widens the head's input 4×.
    let card = std::fs::read_to_string(runs.join("convnext-base/best/model.json")).unwrap();
    assert!(card.contains("\"front\": \"convnext\""), "{card}");
    assert!(card.contains("\"head_norm\": false"), "{card}");
}
