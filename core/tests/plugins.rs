//! Plugin loading and cross-library training.

mod common;

use rateme::plugins::{PluginHost, PluginLoadError};
use rateme::sdk::OptimizerSettings;
use rateme::sdk::burn::tensor::{Device, Distribution, Tensor};
use rateme::train::build_model;

fn host() -> PluginHost {
    let mut host = PluginHost::new();
    host.load_file(&common::library("rateme_smallconv"))
        .unwrap();
    host.load_file(&common::library("rateme_linear_head"))
        .unwrap();
    host
}

#[test]
fn backbone_and_head_from_two_libraries_train_jointly() {
    let host = host();
    let bb_lib = host
        .registry
        .get_backbone("smallconv")
        .unwrap()
        .library
        .clone()
        .unwrap();
    let head_lib = host
        .registry
        .get_head("linear")
        .unwrap()
        .library
        .clone()
        .unwrap();
    assert_ne!(
        bb_lib, head_lib,
        "backbone and head must come from two libraries"
    );

    let device = Device::flex().autodiff();
    let empty = toml::Value::Table(Default::default());
    let options: toml::Value = toml::from_str("input_size = 16").unwrap();
    let mut model = build_model(
        &host,
        ("smallconv", "tiny", &options, "linear", &empty),
        true,
        &device,
        1,
    )
    .unwrap();
    for part in [model.backbone.part(), model.head.part()] {
        part.configure_optimizer(&OptimizerSettings::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        });
    }
    device.seed(7);
    let x = Tensor::<4>::random([8, 3, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<2>::random([8, 1], Distribution::Normal(0.0, 1.0), &device);

    let mut losses = Vec::new();
    for step in 0..40 {
        let pred = model
            .head
            .forward(model.backbone.forward_features(x.clone()));
        let loss = (pred - y.clone()).square().mean();
        losses.push(loss.clone().into_scalar::<f32>());
        let mut grads = loss.backward();
        model.backbone.part().collect_grads(&mut grads);
        model.head.part().collect_grads(&mut grads);
        if step == 0 {
            for (who, part) in [
                ("backbone", model.backbone.part_ref()),
                ("head", model.head.part_ref()),
            ] {
                let stats = part.grad_stats();
                assert!(!stats.is_empty(), "{who} reports no parameters");
                for s in &stats {
                    let g = s
                        .grad_norm
                        .unwrap_or_else(|| panic!("{who} parameter {} got no gradient", s.path));
                    assert!(
                        g > 0.0 && g.is_finite(),
                        "{who} parameter {} has gradient norm {g}",
                        s.path
                    );
                }
                let numel: usize = stats.iter().map(|s| s.numel).sum();
                assert_eq!(
                    numel,
                    part.num_trainable_params(),
                    "{who}: every trainable scalar is covered"
                );
            }
            // conv weights of 3 blocks + BN gamma/beta (3 each) in the backbone; weight + bias in the head.
            assert_eq!(model.backbone.part_ref().grad_stats().len(), 9);
            assert_eq!(model.head.part_ref().grad_stats().len(), 2);
        }
        model.backbone.part().step(1e-2, 1.0);
        model.head.part().step(1e-2, 1.0);
    }
    let first = losses[0];
    let last = *losses.last().unwrap();
    assert!(
        last < 0.2 * first,
        "loss should fall a lot on a fixed batch: {first} → {last}"
    );
}

#[test]
fn weights_round_trip_through_bytes() {
    let host = host();
    let device = Device::flex().autodiff();
    let empty = toml::Value::Table(Default::default());
    let options: toml::Value = toml::from_str("input_size = 16").unwrap();
    let build = |seed| {
        build_model(
            &host,
            ("smallconv", "tiny", &options, "linear", &empty),
            true,
            &device,
            seed,
        )
        .unwrap()
    };
    let mut a = build(1);
    let mut b = build(2);
    a.backbone.part().set_training(false);
    b.backbone.part().set_training(false);
    a.head.part().set_training(false);
    b.head.part().set_training(false);
    let x = Tensor::<4>::random(
        [2, 3, 16, 16],
        Distribution::Normal(0.0, 1.0),
        &device.clone().inner(),
    );
    let out = |m: &rateme::train::BuiltModel| {
        m.head
            .forward(m.backbone.forward_features(x.clone()))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    assert_ne!(out(&a), out(&b));
    b.backbone
        .part()
        .load_weights(a.backbone.part_ref().weights_to_bytes().unwrap())
        .unwrap();
    b.head
        .part()
        .load_weights(a.head.part_ref().weights_to_bytes().unwrap())
        .unwrap();
    assert_eq!(out(&a), out(&b));
}

#[test]
fn wrong_abi_plugin_is_refused() {
    // A plugin built against another SDK: the same library with its embedded fingerprint's
    // source hash changed (what a stale plugin looks like after an SDK edit).
    let real = common::library("rateme_smallconv");
    let mut bytes = std::fs::read(&real).unwrap();
    let needle = rateme::sdk::ABI_FINGERPRINT.as_bytes();
    let pos = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("fingerprint embedded in the plugin");
    let last = pos + needle.len() - 1;
    bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("librateme_stale.so");
    std::fs::write(&stale, &bytes).unwrap();

    let mut host = PluginHost::new();
    let errors = host.load_dir(dir.path()).unwrap_err();
    assert_eq!(errors.len(), 1);
    let PluginLoadError::Abi { plugin, runner, .. } = &errors[0] else {
        panic!("{:?}", errors[0])
    };
    assert_ne!(plugin, runner);
    let line = errors[0].to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(
        line.contains(plugin.as_str()) && line.contains(runner.as_str()),
        "{line}"
    );
    assert!(line.contains("cargo build --workspace"), "{line}");
    // Nothing was registered from it.
    assert!(host.registry.get_backbone("smallconv").is_none());
}

#[test]
fn a_library_that_is_not_a_plugin_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("librateme_junk.so"), b"not an ELF file").unwrap();
    let errors = PluginHost::new().load_dir(dir.path()).unwrap_err();
    assert!(
        errors[0]
            .to_string()
            .contains("librateme_junk.so: cannot load plugin library"),
        "{}",
        errors[0]
    );
}
