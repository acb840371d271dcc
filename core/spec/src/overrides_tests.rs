//! `--set KEY=VALUE` overrides: parsing, merging over every run, located errors, naming.

use std::path::Path;

use super::*;

const FILE: &str = r#"
[defaults]
batches = 10
device = "cuda"
data = { table = "d.csv" }
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 32 } }
head = { plugin = "linear" }
optimizer = { lr = 1e-2, grad_clip = 1.0 }

[[runs]]
name = "a"

[[runs]]
name = "b"
batches = 20
optimizer = { lr = 5e-4 }
backbone = { options = { widths = [4] } }
"#;

fn with(sets: &[&str]) -> Result<Experiment, SpecError> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Experiment::parse_with(Path::new("exp.toml"), FILE.to_owned(), &sets)
}

fn err(sets: &[&str]) -> SpecError {
    with(sets).unwrap_err()
}

fn options(run: &RunSpec) -> &toml::Table {
    run.backbone.options.get_ref().as_table().unwrap()
}

#[test]
fn a_set_wins_over_the_defaults_and_every_run() {
    let exp = with(&["batches=2", "optimizer.lr=1e-4"]).unwrap();
    for run in &exp.runs {
        assert_eq!(run.batches, 2, "{}", run.name);
        assert_eq!(run.optimizer.lr, 1e-4, "{}", run.name);
        assert_eq!(run.optimizer.grad_clip, Some(1.0), "other keys are kept");
    }
    // Without, the file's values.
    let exp = with(&[]).unwrap();
    assert_eq!((exp.runs[0].batches, exp.runs[1].batches), (10, 20));
    assert_eq!(exp.runs[1].optimizer.lr, 5e-4);
}

#[test]
fn a_dotted_key_sets_one_option_and_keeps_the_others() {
    let exp = with(&["backbone.options.input_size=64"]).unwrap();
    let b = options(&exp.runs[1]);
    assert_eq!(b.get("input_size").and_then(|v| v.as_integer()), Some(64));
    assert!(
        b.contains_key("widths"),
        "the run's own option is kept: {b:?}"
    );
    assert_eq!(
        exp.runs[1].backbone.variant.as_ref().unwrap().get_ref(),
        "tiny"
    );
    assert_eq!(
        options(&exp.runs[0])
            .get("input_size")
            .and_then(|v| v.as_integer()),
        Some(64)
    );
    // An inline table merges the same way, as a run's table merges over [defaults].
    let inline = with(&["backbone.options={ input_size = 64 }"]).unwrap();
    assert_eq!(options(&inline.runs[1]), b);
    // Later overrides win over earlier ones.
    let exp = with(&["batches=2", "batches=3"]).unwrap();
    assert_eq!(exp.runs[1].batches, 3);
}

#[test]
fn values_are_toml_and_a_bare_word_is_a_string() {
    let exp = with(&[
        "device=cpu",
        "data.table=data/x/manifest.parquet",
        "backbone.freeze=true",
        "data.augment=false",
        "optimizer.betas=[0.8, 0.9]",
        "seed = 7",
    ])
    .unwrap();
    let run = &exp.runs[0];
    assert_eq!(run.device, "cpu");
    assert_eq!(run.data.table, Path::new("data/x/manifest.parquet"));
    assert_eq!(run.backbone.freeze.get_ref(), &Freeze::All(true));
    assert_eq!(run.data.augment, AugmentSpec::Off);
    assert_eq!(run.optimizer.betas, Some([0.8, 0.9]));
    assert_eq!(run.seed, 7);
    let exp = with(&["backbone.freeze=stage:1", "backbone.variant='inf'"]).unwrap();
    let bb = &exp.runs[0].backbone;
    assert_eq!(bb.freeze.get_ref(), &Freeze::Through("stage:1".into()));
    assert_eq!(bb.variant.as_ref().unwrap().get_ref(), "inf");
}

#[test]
fn another_plugin_replaces_the_table_as_in_the_file() {
    let exp = with(&["backbone.plugin=vit"]).unwrap();
    let bb = &exp.runs[1].backbone;
    assert_eq!(bb.plugin.get_ref(), "vit");
    assert!(bb.variant.is_none());
    assert!(options(&exp.runs[1]).is_empty());
}

#[test]
fn a_wrong_type_is_one_located_line_naming_the_set() {
    let e = err(&["batches=many"]);
    assert_eq!(
        e.to_string(),
        "--set batches=many: runs[0]: invalid type: string \"many\", expected u64"
    );
    let at = e.location().unwrap();
    assert!(at.command_line);
    assert_eq!((at.line, at.column), (1, 9));
    assert_eq!(e.render(), format!("error: {e}"), "one line");

    let e = err(&[
        "device=cpu",
        "backbone.options={ input_size = 64 }",
        "optimizer.lr=true",
    ]);
    assert_eq!(
        e.to_string(),
        "--set optimizer.lr=true: runs[0]: invalid type: boolean `true`, expected f64"
    );
    assert_eq!(e.location().unwrap().line, 3);
    let e = err(&["optimizer={ lr = \"fast\" }"]);
    assert!(
        e.to_string().starts_with("--set optimizer={ lr = \"fast\" }: runs[0]: invalid type: string \"fast\", expected f64"),
        "{e}"
    );
}

#[test]
fn an_unknown_key_is_refused_like_a_misspelt_key_in_the_file() {
    let e = err(&["batchs=3"]);
    let msg = e.to_string();
    assert!(
        msg.starts_with("--set batchs=3: runs[0]: unknown field `batchs`, expected one of"),
        "{msg}"
    );
    assert!(msg.contains("`batches`"), "{msg}");
    let e = err(&["backbone.optons.input_size=64"]);
    assert!(
        e.to_string().starts_with(
            "--set backbone.optons.input_size=64: runs[0]: unknown field `optons`, expected one of"
        ),
        "{e}"
    );
    let e = err(&["lr=1e-3"]);
    assert!(e.to_string().contains("unknown field `lr`"), "{e}");
}

#[test]
fn checks_after_parsing_point_at_the_set() {
    let e = err(&["batches=0"]);
    assert_eq!(
        e.to_string(),
        "--set batches=0: runs[0] (a).batches: must be at least 1"
    );
    let e = err(&["device=tpu"]);
    assert!(
        e.to_string()
            .starts_with("--set device=tpu: runs[0] (a).device: unknown device `tpu`"),
        "{e}"
    );
    let e = err(&["optimizer.name=lbfgs"]);
    assert!(
        e.to_string().starts_with(
            "--set optimizer.name=lbfgs: runs[0] (a).optimizer.name: unknown optimizer"
        ),
        "{e}"
    );
    // A check across keys points at the key it names.
    let e = err(&["schedule.name=constant", "schedule.factor=0.5"]);
    assert!(
        e.to_string()
            .starts_with("--set schedule.factor=0.5: runs[0].schedule.factor"),
        "{e}"
    );
}

#[test]
fn malformed_sets_are_refused() {
    let cases = [
        ("batches", "--set batches: expected KEY=VALUE"),
        ("a..b=1", "--set a..b=1: `a..b` is not a key path"),
        (
            "bat ches=1",
            "--set bat ches=1: `bat ches` is not a key path",
        ),
        ("batches=", "--set batches=: no value after `=`"),
        (
            "name=x",
            "--set name=x: a run's name cannot be set for every run",
        ),
        (
            "tracking.uri=http://x",
            "--set tracking.uri=http://x: `tracking` is a top-level key of the experiment file",
        ),
        (
            "backbone.options={ input_size = 64",
            "--set backbone.options={ input_size = 64: invalid TOML:",
        ),
        ("device=\"cpu", "--set device=\"cpu: invalid TOML:"),
        (
            "batches=1\n2",
            "--set batches=1\\n2: give each --set on one line",
        ),
    ];
    for (set, expected) in cases {
        let e = err(&[set]);
        assert!(e.to_string().starts_with(expected), "{set:?}: {e}");
        assert!(!e.render().contains('\n'), "one line: {}", e.render());
    }
}

#[test]
fn errors_in_the_file_stay_located_in_the_file() {
    let text = format!("{FILE}batchs = 1\n");
    let e = Experiment::parse_with(Path::new("exp.toml"), text.clone(), &["batches=2".into()])
        .unwrap_err();
    let line = text.lines().count();
    assert!(
        e.to_string().starts_with(&format!(
            "exp.toml:{line}:1: runs[1]: unknown field `batchs`"
        )),
        "{e}"
    );
    assert!(e.render().contains("batchs = 1\n"), "{}", e.render());
}

#[test]
fn sets_move_the_experiment_to_its_own_name_and_folders() {
    let plain = with(&[]).unwrap();
    assert_eq!(plain.name, "exp");
    assert_eq!(plain.runs[0].run_dir(&plain.name), Path::new("runs/exp/a"));
    assert!(plain.overrides.is_empty());
    assert_eq!(plain.source, FILE);

    let exp = with(&["batches=2", "device=cpu"]).unwrap();
    let suffix = exp.name.strip_prefix("exp+set-").expect(&exp.name);
    assert_eq!(suffix.len(), 8);
    assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{suffix}");
    assert_eq!(
        exp.runs[0].run_dir(&exp.name),
        Path::new("runs").join(&exp.name).join("a")
    );
    assert_eq!(exp.overrides, ["batches=2", "device=cpu"]);
    assert!(
        exp.description
            .contains("`--set batches=2` `--set device=cpu`"),
        "{}",
        exp.description
    );
    // The source is the file, then the overrides as comments: the same TOML.
    assert!(exp.source.starts_with(FILE));
    assert!(
        exp.source
            .ends_with("# --set batches=2\n# --set device=cpu\n"),
        "{}",
        exp.source
    );
    let reparsed = Experiment::parse(Path::new("exp.toml"), exp.source.clone()).unwrap();
    assert_eq!(reparsed.runs[0].batches, 10);

    // The same overrides, spelled otherwise: the same name; others: another.
    let same = with(&["batches = 2", "device=\"cpu\""]).unwrap();
    assert_eq!(same.name, exp.name);
    assert_ne!(with(&["batches=3", "device=cpu"]).unwrap().name, exp.name);

    // An output_dir of the file moves too; one from --set is taken as given.
    let text = format!("{FILE}output_dir = \"out/x\"\n");
    let exp =
        Experiment::parse_with(Path::new("exp.toml"), text.clone(), &["batches=2".into()]).unwrap();
    let dir = exp.runs[1].run_dir(&exp.name);
    assert_eq!(dir, Path::new(&format!("out/x{}/b", &exp.name[3..])));
    let exp = Experiment::parse_with(
        Path::new("exp.toml"),
        text,
        &["batches=2".into(), "output_dir=elsewhere".into()],
    )
    .unwrap();
    assert_eq!(exp.runs[1].run_dir(&exp.name), Path::new("elsewhere/b"));
}

#[test]
fn plugin_option_errors_point_at_the_set_that_gave_the_option() {
    let exp = with(&["backbone.options.chanels=3"]).unwrap();
    let span = exp.runs[1].backbone.options.span();
    let at = exp.locate_option(&span, Some("chanels"));
    assert!(at.command_line);
    assert_eq!(at.to_string(), "--set backbone.options.chanels=3");
    // An option from the file is still found in the file.
    let at = exp.locate_option(&span, Some("widths"));
    assert!(!at.command_line);
    let line = FILE.lines().position(|l| l.contains("widths")).unwrap() + 1;
    assert_eq!(at.line, line);
    // And a head option of that name is not the backbone's.
    let at = exp.locate_option(&exp.runs[1].head.options.span(), Some("chanels"));
    assert!(!at.command_line);
    // An error that names no option goes to the last --set that gave the table one.
    let exp = with(&[
        "backbone.options.widths=[8]",
        "backbone.options={ input_size = \"x\" }",
    ])
    .unwrap();
    let at = exp.locate_option(&exp.runs[0].backbone.options.span(), None);
    assert_eq!(
        at.to_string(),
        "--set backbone.options={ input_size = \"x\" }"
    );
    assert_eq!(at.column, 33, "at the value");
    let at = exp.locate_option(&exp.runs[0].head.options.span(), None);
    assert!(!at.command_line, "the head's options were not set");
}

#[test]
fn a_set_changes_one_augment_key_over_the_bool_spelling() {
    let exp = with(&["data.augment.flip=0.2"]).unwrap();
    for run in &exp.runs {
        let a = run.data.augment.settings().unwrap();
        assert_eq!(a.flip, 0.2);
        assert_eq!(
            (a.rotate, a.translate, a.brightness),
            (15.0, 0.1, 0.1),
            "the other keys keep the recipe"
        );
    }
    // Over `augment = false` in the file too, and over a table only the key changes.
    let file = FILE.replace(
        "data = { table = \"d.csv\" }",
        "data = { table = \"d.csv\", augment = { rotate = 5, hue = 0.1 } }",
    );
    let sets = [
        "data.augment.flip=0.2".to_owned(),
        "data.crop_pct=0.875".to_owned(),
    ];
    let exp = Experiment::parse_with(Path::new("exp.toml"), file, &sets).unwrap();
    let data = &exp.runs[0].data;
    let a = data.augment.settings().unwrap();
    assert_eq!((a.flip, a.rotate, a.hue), (0.2, 5.0, 0.1));
    assert_eq!(data.crop_pct, 0.875);
    let exp = with(&["data.augment=false"]).unwrap();
    assert_eq!(exp.runs[0].data.augment, AugmentSpec::Off);

    let e = err(&["data.augment.flip=2"]);
    assert_eq!(
        e.to_string(),
        "--set data.augment.flip=2: runs[0]: data.augment.flip: must be in [0, 1] (the \
         probability of a horizontal flip), got 2"
    );
    assert_eq!(e.render(), format!("error: {e}"), "one line");
    let e = err(&["data.augment.flop=0.2"]);
    assert!(
        e.to_string()
            .starts_with("--set data.augment.flop=0.2: runs[0]: unknown field `flop`"),
        "{e}"
    );
}
