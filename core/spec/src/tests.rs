use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Experiment, SpecError> {
    Experiment::parse(Path::new("exp.toml"), text.to_owned())
}

const BASE: &str = r#"
[defaults]
batches = 10
data = { table = "d.csv" }
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 32 } }
head = { plugin = "linear" }
optimizer = { lr = 1e-2, grad_clip = 1.0 }
"#;

#[test]
fn defaults_merge_into_runs_key_by_key() {
    let exp = parse(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\n\n[[runs]]\nname = \"b\"\noptimizer = {{ lr = 5e-4 }}\nbackbone = {{ options = {{ widths = [4] }} }}\n"
    ))
    .unwrap();
    assert_eq!(exp.name, "exp");
    let (a, b) = (&exp.runs[0], &exp.runs[1]);
    assert_eq!(a.optimizer.lr, 1e-2);
    assert_eq!(b.optimizer.lr, 5e-4);
    assert_eq!(
        b.optimizer.grad_clip,
        Some(1.0),
        "unset keys keep the default"
    );
    assert_eq!(b.backbone.plugin.get_ref(), "smallconv");
    let opts = b.backbone.options.get_ref().as_table().unwrap();
    assert_eq!(
        opts.get("input_size").and_then(|v| v.as_integer()),
        Some(32)
    );
    assert!(opts.contains_key("widths"));
    // Documented defaults.
    assert_eq!(
        (a.batch_size, a.eval_every, a.checkpoint_every, a.seed),
        (32, 100, 1000, 42)
    );
    assert_eq!(a.device, "cpu");
    assert_eq!(a.schedule, ScheduleSpec::default());
    assert_eq!(a.data.val_fraction, 0.15);
    assert_eq!(a.run_dir("exp"), Path::new("runs/exp/a"));
}

#[test]
fn another_plugin_does_not_inherit_the_default_options() {
    let exp = parse(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\nbackbone = {{ plugin = \"vit\" }}\n"
    ))
    .unwrap();
    let b = &exp.runs[0].backbone;
    assert_eq!(b.plugin.get_ref(), "vit");
    assert!(b.variant.is_none());
    assert!(b.options.get_ref().as_table().unwrap().is_empty());
}

fn err(text: &str) -> SpecError {
    parse(text).unwrap_err()
}

#[test]
fn unknown_field_names_line_column_and_valid_fields() {
    let e = err(&format!("{BASE}\n[[runs]]\nname = \"a\"\nbatchs = 3\n"));
    let at = e.location().unwrap();
    let line = BASE.lines().count() + 4;
    assert_eq!((at.line, at.column), (line, 1), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "exp.toml:{line}:1: runs[0]: unknown field `batchs`, expected one of"
        )),
        "{msg}"
    );
    assert!(msg.contains("`batches`"), "{msg}");
    assert!(e.render().contains("batchs = 3\n"), "{}", e.render());
}

#[test]
fn wrong_types_and_values_are_located() {
    let e = err(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\nbatch_size = \"big\"\n"
    ));
    assert!(
        e.to_string().contains("invalid type: string \"big\""),
        "{e}"
    );
    assert_eq!(e.location().unwrap().column, 14);

    let e = err(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\noptimizer = {{ name = \"lbfgs\" }}\n"
    ));
    assert!(
        e.to_string()
            .contains("optimizer.name: unknown optimizer `lbfgs`; valid: adamw, adam, sgd"),
        "{e}"
    );

    let e = err(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\noptimizer = {{ momentum = 0.9 }}\n"
    ));
    assert!(e.to_string().contains("apply to sgd only"), "{e}");

    let e = err(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\ndevice = \"tpu\"\n"
    ));
    assert!(
        e.to_string().contains("unknown device `tpu`; valid: cpu"),
        "{e}"
    );

    let e = err(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\nschedule = {{ factor = 1.5 }}\n"
    ));
    assert!(
        e.to_string().contains("schedule.factor: must be in (0, 1)"),
        "{e}"
    );

    let e = err(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\n[[runs]]\nname = \"a\"\n"
    ));
    assert!(
        e.to_string()
            .contains("run name `a` is already used by runs[0]"),
        "{e}"
    );
}

#[test]
fn structural_errors() {
    let e = err("name = 3\n[[runs]]\n");
    assert!(
        e.to_string()
            .starts_with("exp.toml:1:8: name: expected a string"),
        "{e}"
    );
    let e = err("[defaults]\n");
    assert!(e.to_string().contains("no runs"), "{e}");
    let e = err("nmae = \"x\"\n");
    assert!(
        e.to_string()
            .starts_with("exp.toml:1:1: nmae: unknown top-level key; valid: name,"),
        "{e}"
    );
    let e = err("[[runs]\nname = 1\n");
    assert!(e.to_string().starts_with("exp.toml:1:"), "{e}");
    assert!(e.to_string().contains("invalid TOML"), "{e}");
    let e = err("[[runs]]\nname = \"a\"\n");
    assert!(e.to_string().contains("missing field"), "{e}");
}

#[test]
fn option_errors_point_at_the_key() {
    let text =
        format!("{BASE}\n[[runs]]\nname = \"a\"\nbackbone = {{ options = {{ chanels = 3 }} }}\n");
    let exp = parse(&text).unwrap();
    let span = exp.runs[0].backbone.options.span();
    let at = exp.locate_option(&span, Some("chanels"));
    let line = text.lines().position(|l| l.contains("chanels")).unwrap() + 1;
    assert_eq!(at.line, line);
    assert_eq!(
        at.column,
        text.lines().nth(line - 1).unwrap().find("chanels").unwrap() + 1
    );
}

#[test]
fn shipped_experiments_parse() {
    let demo = Experiment::parse(Path::new(DEMO_PATH), DEMO_EXPERIMENT.to_owned()).unwrap();
    assert!(
        demo.runs.len() >= 2,
        "the demo compares at least two configurations"
    );
    assert!(demo.runs.iter().all(|r| r.device == "cpu"));
    let all = Experiment::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/all_backbones.toml"),
    )
    .unwrap();
    let names: Vec<&str> = all
        .runs
        .iter()
        .map(|r| r.backbone.plugin.get_ref().as_str())
        .collect();
    assert_eq!(names, ["efficientnet", "convnext", "vit", "clip"]);
    for r in &all.runs {
        assert_eq!(
            (r.batch_size, r.batches, r.eval_every, r.checkpoint_every),
            (32, 25_000, 100, 1000)
        );
        assert_eq!(r.optimizer.lr, 1e-3);
        assert_eq!(r.optimizer.weight_decay, Some(1e-5));
        assert_eq!(r.optimizer.grad_clip, Some(1.0));
        assert_eq!(
            (
                r.schedule.factor,
                r.schedule.patience,
                r.schedule.cooldown,
                r.schedule.min_lr
            ),
            (0.7, 5, 3, 1e-6)
        );
        assert_eq!(r.head.plugin.get_ref(), "attention-mlp");
    }
}

#[test]
fn a_plateau_option_with_the_constant_schedule_is_a_located_error() {
    let text = format!(
        "{BASE}\n[[runs]]\nname = \"a\"\nschedule = {{ name = \"constant\" }}\n\n[[runs]]\nname = \"b\"\n[runs.schedule]\nname = \"constant\"\nfactor = 0.5\n"
    );
    let err = parse(&text).unwrap_err().to_string();
    let line = text.lines().position(|l| l.starts_with("factor")).unwrap() + 1;
    assert!(
        err.contains(&format!("exp.toml:{line}:")) && err.contains("runs[1].schedule.factor"),
        "{err}"
    );
    assert!(err.contains("remove `factor`"), "{err}");
    // From the defaults, it is located there; with the plateau schedule it is fine.
    let defaults = format!("{BASE}schedule = {{ patience = 3 }}\n\n[[runs]]\nname = \"a\"\n");
    assert!(parse(&defaults).is_ok());
    let err = parse(&format!("{defaults}schedule = {{ name = \"constant\" }}\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("runs[0].schedule.patience"), "{err}");
}

#[test]
fn backbone_lr_scale_defaults_to_one_and_must_be_positive() {
    let exp = parse(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\n\n[[runs]]\nname = \"b\"\nbackbone = {{ lr_scale = 0.1 }}\n"
    ))
    .unwrap();
    assert_eq!(exp.runs[0].backbone.lr_scale, 1.0);
    assert_eq!(exp.runs[1].backbone.lr_scale, 0.1);
    let err = parse(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\nbackbone = {{ lr_scale = 0.0 }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("runs[0] (a).backbone.lr_scale: must be a positive number")
            && err.contains("freeze = true"),
        "{err}"
    );
}

fn run_with_data(data: &str) -> Result<Experiment, SpecError> {
    parse(&format!(
        "{BASE}\n[[runs]]\nname = \"a\"\n[runs.data]\ntable = \"d.csv\"\n{data}\n"
    ))
}

#[test]
fn augment_is_the_recipe_by_default_and_keeps_the_bool_spelling() {
    let default = run_with_data("").unwrap();
    let recipe = AugmentSpec::On(AugmentSettings::RECIPE);
    assert_eq!(default.runs[0].data.augment, recipe);
    assert_eq!(default.runs[0].data.crop_pct, 1.0);
    let on = run_with_data("augment = true").unwrap();
    assert_eq!(on.runs[0].data.augment, recipe);
    let off = run_with_data("augment = false").unwrap();
    assert_eq!(off.runs[0].data.augment, AugmentSpec::Off);
    assert!(off.runs[0].data.augment.settings().is_none());
    let r = AugmentSettings::RECIPE;
    assert_eq!(
        (
            r.flip,
            r.rotate,
            r.translate,
            r.brightness,
            r.contrast,
            r.saturation,
            r.hue
        ),
        (0.5, 15.0, 0.1, 0.1, 0.1, 0.0, 0.0)
    );
    assert!(r.random_resized_crop.is_none());
}

#[test]
fn an_augment_table_sets_some_keys_and_keeps_the_recipe_for_the_rest() {
    let exp = run_with_data(
        "crop_pct = 0.875\n[runs.data.augment]\nflip = 0.0\nhue = 0.05\nsaturation = 0.2\nrandom_resized_crop = { scale = [0.5, 1.0] }\n",
    )
    .unwrap();
    let data = &exp.runs[0].data;
    assert_eq!(data.crop_pct, 0.875);
    let a = data.augment.settings().unwrap();
    assert_eq!((a.flip, a.hue, a.saturation), (0.0, 0.05, 0.2));
    assert_eq!(
        (a.rotate, a.translate, a.brightness, a.contrast),
        (15.0, 0.1, 0.1, 0.1)
    );
    let rrc = a.random_resized_crop.as_ref().unwrap();
    assert_eq!(rrc.scale, [0.5, 1.0]);
    assert_eq!(rrc.ratio, [0.75, 4.0 / 3.0], "torchvision's default ratio");
    // An empty table is the recipe; it serialises as `true` then.
    let empty = run_with_data("augment = {}").unwrap();
    assert_eq!(empty.runs[0].data.augment, AugmentSpec::default());
}

#[test]
fn augment_and_crop_pct_round_trip_and_keep_the_old_hash_text() {
    for (text, json) in [
        ("", "true"),
        ("augment = true", "true"),
        ("augment = { flip = 0.5 }", "true"),
        ("augment = false", "false"),
    ] {
        let exp = run_with_data(text).unwrap();
        let data = &exp.runs[0].data;
        let value = serde_json::to_value(data).unwrap();
        assert_eq!(value["augment"].to_string(), json, "{text}");
        assert!(value.get("crop_pct").is_none(), "crop_pct 1 is left out");
        let back: DataSpec = serde_json::from_value(value).unwrap();
        assert_eq!(back.augment, data.augment);
    }
    let exp = run_with_data("crop_pct = 0.9\naugment = { rotate = 5, random_resized_crop = {} }")
        .unwrap();
    let data = &exp.runs[0].data;
    let json = serde_json::to_string(data).unwrap();
    assert!(json.contains("\"crop_pct\":0.9"), "{json}");
    assert!(json.contains("\"rotate\":5.0"), "{json}");
    let back: DataSpec = serde_json::from_str(&json).unwrap();
    assert_eq!((back.augment, back.crop_pct), (data.augment.clone(), 0.9));
    // And through TOML (what a run's saved spec is written as).
    let toml_text = toml::to_string(data).unwrap();
    let back: DataSpec = toml::from_str(&toml_text).unwrap();
    assert_eq!(back.augment, data.augment, "{toml_text}");
}

#[test]
fn augment_errors_are_located_one_line_and_name_the_key() {
    let cases = [
        (
            "augment = { flip = 1.5 }",
            "1.5",
            "data.augment.flip: must be in [0, 1]",
        ),
        (
            "augment = { hue = 0.7 }",
            "0.7",
            "data.augment.hue: must be in [0, 0.5]",
        ),
        (
            "augment = { rotate = -3 }",
            "-3",
            "data.augment.rotate: must be in [0, 180]",
        ),
        (
            "augment = { contrast = -0.1 }",
            "-0.1",
            "data.augment.contrast: must be a number ≥ 0",
        ),
        (
            "augment = { flipp = 0.5 }",
            "flipp",
            "unknown field `flipp`, expected one of",
        ),
        (
            "augment = \"yes\"",
            "\"yes\"",
            "`true` (RateMeAI's recipe), `false` or a table",
        ),
        ("crop_pct = 1.2", "1.2", "data.crop_pct: must be in (0, 1]"),
        ("crop_pct = 0", "0", "data.crop_pct: must be in (0, 1]"),
        (
            "augment = { random_resized_crop = { scale = [0.9, 0.1] } }",
            "{ scale",
            "random_resized_crop.scale: must be [lo, hi] with 0 < lo ≤ hi ≤ 1",
        ),
        (
            "augment = { random_resized_crop = { ratio = [0, 1] } }",
            "{ ratio",
            "random_resized_crop.ratio: must be [lo, hi] with 0 < lo ≤ hi",
        ),
        (
            "augment = { random_resized_crop = { size = 3 } }",
            "size =",
            "unknown field `size`",
        ),
    ];
    for (data, at, message) in cases {
        let text =
            format!("{BASE}\n[[runs]]\nname = \"a\"\n[runs.data]\ntable = \"d.csv\"\n{data}\n");
        let e = parse(&text).unwrap_err();
        let line = text.lines().count();
        let column = data.find(at).unwrap() + 1;
        let loc = e.location().unwrap();
        assert_eq!((loc.line, loc.column), (line, column), "{data}: {e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("exp.toml:{line}:{column}: runs[0]: ")),
            "{msg}"
        );
        assert!(msg.contains(message), "{data}: {msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
}

#[test]
fn sparing_norm_and_bias_from_weight_decay_is_opt_in_and_invisible_when_unset() {
    let exp = parse(&format!(
        "{BASE}\n[[runs]]\nname = \"default\"\n\n[[runs]]\nname = \"timm\"\noptimizer = {{ decay_norm_and_bias = false }}\n\n[[runs]]\nname = \"sgd\"\noptimizer = {{ name = \"sgd\", weight_decay = 1e-4, decay_norm_and_bias = false }}\n"
    ))
    .unwrap();
    let [default, timm, sgd] = &exp.runs[..] else {
        panic!("three runs")
    };
    assert!(default.optimizer.settings().decays_norm_and_bias());
    assert!(!timm.optimizer.settings().decays_norm_and_bias());
    assert!(!sgd.optimizer.settings().decays_norm_and_bias());
    // Runs saved before the key existed hash their spec without it: unset, it is not written.
    let json = serde_json::to_string(&default.optimizer).unwrap();
    assert!(!json.contains("decay_norm_and_bias"), "{json}");
    // A wrong type points at the value.
    let text =
        format!("{BASE}\n[[runs]]\nname = \"a\"\noptimizer = {{ decay_norm_and_bias = \"no\" }}\n");
    let line = text.lines().count();
    let column = text.lines().last().unwrap().find("\"no\"").unwrap() + 1;
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("exp.toml:{line}:{column}: "))
            && err.contains("invalid type: string \"no\", expected a boolean"),
        "{err}"
    );
}
