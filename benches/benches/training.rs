//! One training step of the small plugin pair (smallconv/tiny + linear, batch 32, 64×64, on the
//! flex CPU backend), and loading the plugin libraries.

use criterion::{Criterion, criterion_group, criterion_main};
use rateme::plugins::PluginHost;
use rateme::sdk::OptimizerSettings;
use rateme::sdk::burn::tensor::{Device, Distribution, Tensor};
use rateme::train::build_model;

fn training_step(c: &mut Criterion) {
    let dir = rateme_benches::plugin_dir();
    let host = rateme_benches::host(&dir);
    let device = Device::flex().autodiff();
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
            &format!("train_step/smallconv-{variant}+linear/b32/64px"),
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
                    let norm = (model.backbone.part_ref().grad_sq_norm()
                        + model.head.part_ref().grad_sq_norm())
                    .sqrt();
                    let scale = (1.0 / (norm + 1e-6)).min(1.0);
                    model.backbone.part().step(1e-3, scale);
                    model.head.part().step(1e-3, scale);
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
