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
