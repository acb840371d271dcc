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
            decay_norm_and_bias: true,
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

#[test]
fn an_undefined_symbol_names_the_likely_cause_and_the_fix() {
    // A plugin linked against another build of the SDK: the same library with one of the SDK
    // symbols it imports renamed (another build's symbol hash), so dlopen cannot bind it.
    let real = common::library("rateme_smallconv");
    let nm = std::process::Command::new("nm")
        .args(["-D", "--undefined-only"])
        .arg(&real)
        .output()
        .expect("run nm (binutils)");
    let listing = String::from_utf8_lossy(&nm.stdout);
    let symbol = listing
        .split_whitespace()
        .find(|s| s.contains("10rateme_sdk") && s.ends_with('E'))
        .expect("the plugin imports SDK symbols")
        .to_owned();
    let mut renamed = symbol.clone().into_bytes();
    let digit = renamed.len() - 2; // the last hex digit of the `17h<hash>E` suffix
    renamed[digit] = if renamed[digit] == b'0' { b'1' } else { b'0' };
    let mut bytes = std::fs::read(&real).unwrap();
    let mut count = 0;
    let mut at = 0;
    while let Some(pos) = bytes[at..]
        .windows(symbol.len())
        .position(|w| w == symbol.as_bytes())
    {
        let pos = at + pos;
        bytes[pos..pos + symbol.len()].copy_from_slice(&renamed);
        at = pos + symbol.len();
        count += 1;
    }
    assert!(count > 0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("librateme_othersdk.so"), &bytes).unwrap();

    let errors = PluginHost::new().load_dir(dir.path()).unwrap_err();
    let line = errors[0].to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    for needed in [
        "undefined symbol",
        "different builds of librateme_sdk.so",
        "cargo build --workspace",
    ] {
        assert!(line.contains(needed), "`{needed}` in: {line}");
    }
}

/// The target dir the tests run from (`<target>/<profile>/deps/<test binary>`).
fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

#[test]
fn a_plugin_with_its_own_copy_of_the_sdk_and_burn_is_refused() {
    // A self-contained plugin: the SDK's sources compiled into the plugin itself (a `cdylib`
    // that links burn statically) instead of linking librateme_sdk.so, with the runner's ABI
    // fingerprint so that only the anchor check can tell. Its dependencies are the SDK's own,
    // with the workspace's lock file and profiles, so cargo reuses the compiled burn.
    let root = common::root();
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path();
    let sdk = root.join("plugins/sdk");
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }
    std::fs::create_dir_all(krate.join("src")).unwrap();
    copy(&sdk.join("src"), &krate.join("src"));
    // The linear head's code as the plugin, `rateme_sdk` being the crate itself.
    std::fs::copy(
        root.join("plugins/linear-head/src/lib.rs"),
        krate.join("src/plugin.rs"),
    )
    .unwrap();
    let mut lib = std::fs::read_to_string(krate.join("src/lib.rs")).unwrap();
    lib.push_str("\nextern crate self as rateme_sdk;\nmod plugin;\n");
    std::fs::write(krate.join("src/lib.rs"), lib).unwrap();
    std::fs::write(
        krate.join("build.rs"),
        "fn main() { println!(\"cargo:rustc-env=RATEME_SDK_ABI={}\", std::env::var(\"OWN_SDK_ABI\").unwrap()); }\n",
    )
    .unwrap();
    let sdk_manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap();
    let deps = &sdk_manifest[sdk_manifest.find("[dependencies]").unwrap()..];
    let workspace: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut profiles = toml::Table::new();
    profiles.insert("profile".into(), workspace["profile"].clone());
    let mut ws_deps = String::new();
    for (name, spec) in workspace["workspace"]["dependencies"].as_table().unwrap() {
        if !name.starts_with("rateme") {
            ws_deps.push_str(&format!("{name} = {spec}\n"));
        }
    }
    let manifest = format!(
        "[package]\nname = \"ownsdk-plugin\"\nversion = \"0.1.0\"\nedition = \"2024\"\nbuild = \"build.rs\"\n\n\
         [lib]\nname = \"ownsdk_plugin\"\ncrate-type = [\"cdylib\"]\n\n\
         [workspace]\n\n[workspace.dependencies]\n{ws_deps}\n{}\n{deps}\n",
        toml::to_string(&profiles).unwrap()
    );
    std::fs::write(krate.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--config"])
        .arg(root.join(".cargo/config.toml"))
        .arg("--target-dir")
        .arg(target_dir())
        .env("OWN_SDK_ABI", rateme::sdk::ABI_FINGERPRINT)
        .current_dir(krate)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the self-contained plugin: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let profile_dir = common::plugin_dir();
    let built = profile_dir.join(format!("libownsdk_plugin{}", std::env::consts::DLL_SUFFIX));
    let plugins = tempfile::tempdir().unwrap();
    let library = plugins
        .path()
        .join(format!("librateme_ownsdk{}", std::env::consts::DLL_SUFFIX));
    std::fs::rename(&built, &library).unwrap();

    let mut host = PluginHost::new();
    let err = host.load_file(&library).unwrap_err();
    assert!(matches!(err, PluginLoadError::OwnSdk { .. }), "{err:?}");
    let line = err.to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(line.contains("its own copy of the SDK and burn"), "{line}");
    assert!(line.contains("depends on `rateme-sdk` only"), "{line}");
    assert!(
        host.registry.get_head("linear").is_none(),
        "nothing registered"
    );
}

#[test]
fn plugins_lists_every_variant_with_its_size_input_and_naming_schemes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("plugins")
        .arg("--plugins")
        .arg(common::plugin_dir())
        .output()
        .unwrap();
    common::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |start: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line `{start}`: {stdout}"))
            .to_owned()
    };
    // ViT-B/16 without torchvision's 769,000-parameter classifier.
    let b16 = line("b16 ");
    assert!(b16.contains("85,798,656 params"), "{b16}");
    assert!(
        b16.contains("input 224x224") && b16.contains("features 768"),
        "{b16}"
    );
    assert!(b16.contains("embed, block:1 .. block:12, head"), "{b16}");
    assert!(line("vit-b32").contains("87,456,000 params"));
    assert!(line("b5 ").contains("input 456x456"));
    assert!(line("base ").contains("features 1024"));
    for schemes in [
        "torchvision, timm",
        "openai, huggingface",
        "efficientnet-pytorch, torchvision",
    ] {
        assert!(
            stdout.contains(&format!("weights in the names of: {schemes}")),
            "{schemes}: {stdout}"
        );
    }
}

/// The step that keeps the gradient norm and PyTorch's `clip_grad_norm_` scale on the device
/// (no read back per step) trains as the host-side computation it replaced: the same norms
/// and, after steps that all clip, the same predictions. Plain SGD, so a wrong scale shows.
#[test]
fn clipping_on_the_device_matches_the_host_formula() {
    use rateme::train::step::clip_and_step;
    let host = host();
    let device = Device::flex().autodiff();
    let empty = toml::Value::Table(Default::default());
    let options: toml::Value = toml::from_str("input_size = 16").unwrap();
    let build = || {
        let mut m = build_model(
            &host,
            ("smallconv", "tiny", &options, "linear", &empty),
            true,
            &device,
            5,
        )
        .unwrap();
        for part in [m.backbone.part(), m.head.part()] {
            part.configure_optimizer(&OptimizerSettings::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
                decay_norm_and_bias: true,
            });
        }
        m
    };
    let (mut host_side, mut on_device) = (build(), build());
    device.seed(11);
    let x = Tensor::<4>::random([8, 3, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<2>::random([8, 1], Distribution::Normal(3.0, 1.0), &device);
    let (max_norm, lr, backbone_scale) = (0.05, 0.1, 0.5);
    let backward = |m: &mut rateme::train::BuiltModel| {
        let pred = m.head.forward(m.backbone.forward_features(x.clone()));
        let mut grads = (pred - y.clone()).square().mean().backward();
        m.backbone.part().collect_grads(&mut grads);
        m.head.part().collect_grads(&mut grads);
    };
    for step in 0..6 {
        backward(&mut host_side);
        let norm = (host_side.backbone.part_ref().grad_sq_norm()
            + host_side.head.part_ref().grad_sq_norm())
        .sqrt();
        let scale = (max_norm / (norm + 1e-6)).min(1.0);
        assert!(scale < 0.5, "step {step}: clipping must act (norm {norm})");
        host_side.backbone.part().step(lr * backbone_scale, scale);
        host_side.head.part().step(lr, scale);

        backward(&mut on_device);
        let device_norm = clip_and_step(&mut on_device, lr, backbone_scale, Some(max_norm))
            .expect("a norm when clipping")
            .into_scalar::<f32>();
        let rel = (f64::from(device_norm) - norm).abs() / norm;
        assert!(rel < 1e-5, "step {step}: norm {device_norm} vs {norm}");
    }
    let predict = |m: &rateme::train::BuiltModel| -> Vec<f32> {
        m.head
            .forward(m.backbone.forward_features(x.clone()))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let (a, b) = (predict(&host_side), predict(&on_device));
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() <= 1e-5 * p.abs().max(1.0), "{a:?} vs {b:?}");
    }
    // Unclipped, the same steps end elsewhere: the comparison above can fail.
    let mut unclipped = build();
    for _ in 0..6 {
        backward(&mut unclipped);
        clip_and_step(&mut unclipped, lr, backbone_scale, None);
    }
    let c = predict(&unclipped);
    assert!(
        a.iter().zip(&c).any(|(p, q)| (p - q).abs() > 1e-3),
        "{a:?} vs {c:?}"
    );
}

/// `precision = "bf16"` (autocast) on LibTorch: the convolutions and matrix products of a ViT
/// (patch convolution, q/k/v and MLP projections, attention products) and of its head run in
/// bfloat16, so the features differ from float32's by bfloat16 rounding and no more; the
/// parameters stay float32 through a training step (a float32 forward afterwards still runs
/// and lands next to the float32-trained twin's).
#[cfg(feature = "tch")]
#[test]
fn bf16_autocast_computes_in_bfloat16_and_keeps_float32_weights() {
    use rateme::sdk::autocast::{self, Precision};
    use rateme::sdk::burn::tensor::DType;
    let mut host = PluginHost::new();
    host.load_file(&common::library("rateme_vit")).unwrap();
    host.load_file(&common::library("rateme_linear_head"))
        .unwrap();
    // burn marks its LibTorch device deprecated; this project's CPU-fast and CUDA route
    // (see rateme_spec::device).
    #[allow(deprecated)]
    let device = Device::libtorch().autodiff();
    let empty = toml::Value::Table(Default::default());
    let options: toml::Value = toml::from_str("input_size = 32").unwrap();
    let build = || {
        let mut m = build_model(
            &host,
            ("vit", "ti16", &options, "linear", &empty),
            true,
            &device,
            5,
        )
        .unwrap();
        for part in [m.backbone.part(), m.head.part()] {
            part.configure_optimizer(&OptimizerSettings::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
                decay_norm_and_bias: true,
            });
        }
        m
    };
    let (mut full, mut half) = (build(), build());
    device.seed(3);
    let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<2>::random([4, 1], Distribution::Normal(3.0, 1.0), &device);
    let values = |t: Tensor<2>| -> Vec<f32> { t.into_data().try_to_vec::<f32>().unwrap() };
    let rel_diff = |a: &[f32], b: &[f32]| -> f64 {
        let d: f64 = a.iter().zip(b).map(|(p, q)| f64::from(p - q).powi(2)).sum();
        let n: f64 = a.iter().map(|p| f64::from(*p).powi(2)).sum();
        (d / n).sqrt()
    };
    for m in [&mut full, &mut half] {
        m.backbone.part().set_training(false);
    }
    let plain = x.clone().inner();
    let f32_features = values(full.backbone.forward_features(plain.clone()));
    let bf16_features = {
        let _bf16 = autocast::scoped(Precision::Bf16);
        let f = half.backbone.forward_features(plain.clone());
        assert_eq!(f.dtype(), DType::F32, "autocast gives float32 back");
        values(f)
    };
    let rel = rel_diff(&f32_features, &bf16_features);
    assert!(
        rel > 1e-5,
        "bf16 features equal the f32 ones ({rel}): nothing ran in bfloat16"
    );
    assert!(rel < 3e-2, "bf16 features off by {rel}: more than rounding");
    for m in [&mut full, &mut half] {
        m.backbone.part().set_training(true);
    }
    let train = |m: &mut rateme::train::BuiltModel, precision: Precision| {
        let _scope = autocast::scoped(precision);
        device.seed(7); // the same dropout masks for both

        let pred = m.head.forward(m.backbone.forward_features(x.clone()));
        let mut grads = (pred - y.clone()).square().mean().backward();
        m.backbone.part().collect_grads(&mut grads);
        m.head.part().collect_grads(&mut grads);
        m.backbone.part().step(1e-4, 1.0);
        m.head.part().step(1e-4, 1.0);
    };
    train(&mut full, Precision::F32);
    train(&mut half, Precision::Bf16);
    for m in [&mut full, &mut half] {
        m.backbone.part().set_training(false);
        m.head.part().set_training(false);
    }
    // float32 forwards: a bfloat16 parameter would make LibTorch refuse the mixed types.
    let predict = |m: &rateme::train::BuiltModel| {
        values(m.head.forward(m.backbone.forward_features(plain.clone())))
    };
    let (a, b) = (predict(&full), predict(&half));
    let rel = rel_diff(&a, &b);
    assert!(rel < 3e-2, "{a:?} vs {b:?}");
}
