//! Forward+backward throughput of one backbone plugin: `fwdbwd <plugin dir> <backbone> <variant>
//! <batch> <iterations> [device]` prints `images_per_s <value> <input size>` (after one warm-up
//! iteration). The device is a run's `device` value (`cpu`, the default, or `tch-cpu` / `cuda` in
//! a `tch` build). Run by `benches/backbones.sh` side by side with PyTorch (the second number is
//! the input size).

use std::time::Instant;

use rateme::device::DeviceSpec;
use rateme::plugins::PluginHost;
use rateme::sdk::BuildContext;
use rateme::sdk::burn::tensor::{Distribution, Tensor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, backbone, variant, batch, iterations, device) = match &args[..] {
        [_, dir, backbone, variant, batch, iterations] => {
            (dir, backbone, variant, batch, iterations, "cpu")
        }
        [_, dir, backbone, variant, batch, iterations, device] => {
            (dir, backbone, variant, batch, iterations, device.as_str())
        }
        _ => {
            eprintln!(
                "usage: fwdbwd <plugin dir> <backbone> <variant> <batch> <iterations> [device]"
            );
            std::process::exit(2);
        }
    };
    let batch: usize = batch.parse().expect("batch");
    let iterations: usize = iterations.parse().expect("iterations");
    let mut host = PluginHost::new();
    host.load_dir(std::path::Path::new(dir))
        .unwrap_or_else(|e| panic!("loading plugins: {e:?}"));
    let entry = host
        .registry
        .get_backbone(backbone)
        .expect("backbone plugin");
    let device = DeviceSpec::parse(device)
        .and_then(|spec| spec.device())
        .unwrap_or_else(|e| panic!("device: {e}"))
        .autodiff();
    let ctx = BuildContext {
        device: device.clone(),
        seed: 0,
        variant: variant.clone(),
    };
    let options = toml::Value::Table(toml::Table::new());
    let mut model = (entry.ctor)(&ctx, &options).expect("build");
    let size = model.input_spec().height as usize;
    let step = |model: &mut rateme::sdk::Backbone| {
        let x = Tensor::<4>::random(
            [batch, 3, size, size],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let loss = model.forward_features(x).sum();
        let mut grads = loss.backward();
        model.part().collect_grads(&mut grads);
        model.part().grad_sq_norm()
    };
    step(&mut model);
    let start = Instant::now();
    for _ in 0..iterations {
        step(&mut model);
    }
    let s = start.elapsed().as_secs_f64();
    println!("images_per_s {:.3} {size}", (batch * iterations) as f64 / s);
}
