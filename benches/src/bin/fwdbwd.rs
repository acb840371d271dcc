//! Forward+backward throughput of one backbone plugin: `fwdbwd <plugin dir> <backbone> <variant>
//! <batch> <iterations> [device]` prints `images_per_s <value> <input size>`: the batch over the
//! median time of one step (forward, backward, the gradients collected by the parameters; no
//! optimizer step), after one warm-up step. The median keeps a step that the shared host slowed
//! from moving the number. The device is a run's `device` value (`cpu`, the default, or `tch-cpu`
//! / `cuda` in a `tch` build). Run by `benches/backbones.sh` side by side with PyTorch, which
//! times the same way (the second number is the input size).

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
        let start = Instant::now();
        let loss = model.forward_features(x).sum();
        let mut grads = loss.backward();
        model.part().collect_grads(&mut grads);
        device.sync().expect("the device runs the step");
        start.elapsed().as_secs_f64()
    };
    step(&mut model);
    let mut seconds: Vec<f64> = (0..iterations.max(1)).map(|_| step(&mut model)).collect();
    seconds.sort_by(f64::total_cmp);
    let mid = seconds.len() / 2;
    let median = if seconds.len() % 2 == 1 {
        seconds[mid]
    } else {
        (seconds[mid - 1] + seconds[mid]) / 2.0
    };
    println!("images_per_s {:.3} {size}", batch as f64 / median);
    // The spread of the steps, for judging how much the host moved them.
    eprintln!(
        "step_s min {:.3} median {median:.3} max {:.3}",
        seconds[0],
        seconds[seconds.len() - 1]
    );
}
