//! One training step of the small plugin pair (smallconv/tiny + linear, batch 32, 64×64), the
//! training loop's step (clipping on the device, the loss read back every step here), on the
//! device `RATEME_BENCH_DEVICE` names (`cpu` = flex, the default; `tch-cpu`, `cuda[:N]` in a
//! `tch` build), and loading the plugin libraries.

use criterion::{Criterion, criterion_group, criterion_main};
use rateme::device::DeviceSpec;
use rateme::plugins::PluginHost;
use rateme::sdk::OptimizerSettings;
use rateme::sdk::burn::tensor::{Distribution, Tensor};
use rateme::train::build_model;
use rateme::train::step::clip_and_step;

fn training_step(c: &mut Criterion) {
    let dir = rateme_benches::plugin_dir();
    let host = rateme_benches::host(&dir);
    let name = std::env::var("RATEME_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    let spec = DeviceSpec::parse(&name).unwrap_or_else(|e| panic!("RATEME_BENCH_DEVICE: {e}"));
    let device = spec
        .device()
        .unwrap_or_else(|e| panic!("RATEME_BENCH_DEVICE={name}: {e}"))
        .autodiff();
    let options: toml::Value = toml::from_str("input_size = 64").unwrap();
    let empty = toml::Value::Table(Default::default());
    for variant in ["tiny", "small"] {
        let mut model = build_model(
            &host,
            ("smallconv", variant, &options, "linear", &empty),
            true,
            &device,
            1,
        )
        .unwrap();
        for part in [model.backbone.part(), model.head.part()] {
            part.configure_optimizer(&OptimizerSettings::default());
        }
        let x = Tensor::<4>::random([32, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<2>::random([32, 1], Distribution::Normal(5.0, 1.0), &device);
        c.bench_function(
            &format!("train_step/{spec}/smallconv-{variant}+linear/b32/64px"),
            |b| {
                b.iter(|| {
                    let pred = model
                        .head
                        .forward(model.backbone.forward_features(x.clone()));
                    let loss = (pred - y.clone()).square().mean();
                    let value = loss.clone().into_scalar::<f32>();
                    let mut grads = loss.backward();
                    model.backbone.part().collect_grads(&mut grads);
                    model.head.part().collect_grads(&mut grads);
                    clip_and_step(&mut model, 1e-3, 1.0, Some(1.0));
                    value
                })
            },
        );
    }
}

fn plugin_loading(c: &mut Criterion) {
    let dir = rateme_benches::plugin_dir();
    // Libraries are never unloaded, so after the first load this measures the loader's own work
    // (directory scan, dlopen of an already-mapped library, ABI check, registration).
    c.bench_function("load_plugins/dir", |b| {
        b.iter(|| {
            let mut host = PluginHost::new();
            host.load_dir(&dir).unwrap();
            host.registry.backbones().count()
        })
    });
}

criterion_group!(benches, training_step, plugin_loading);
criterion_main!(benches);
