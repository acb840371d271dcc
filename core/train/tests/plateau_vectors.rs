//! The plateau schedule against PyTorch's `ReduceLROnPlateau` (mode `min`), to the bit: the
//! vectors in `tests/data/plateau_vectors.json` come from `scripts/plateau-vectors.sh`, which
//! runs PyTorch itself over a grid of settings (factor, patience, cooldown, min_lr, threshold and
//! its mode, eps) and metric sequences (plateaus, slow and noisy improvement, improvements on
//! either side of the threshold, NaN).

use std::collections::BTreeMap;

use rateme_spec::ScheduleSpec;
use rateme_train::schedule::Plateau;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    torch: String,
    sequences: BTreeMap<String, Vec<String>>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    sequence: String,
    settings: Settings,
    lr0: String,
    lrs: Vec<String>,
}

#[derive(Deserialize)]
struct Settings {
    factor: f64,
    patience: u32,
    cooldown: u32,
    min_lr: f64,
    threshold: f64,
    threshold_mode: String,
    eps: f64,
}

/// A float written as the hex of its IEEE-754 bits ("nan" for NaN).
fn float(hex: &str) -> f64 {
    if hex == "nan" {
        return f64::NAN;
    }
    f64::from_bits(u64::from_str_radix(hex, 16).expect("hex float bits"))
}

#[test]
fn plateau_matches_pytorch_reduce_lr_on_plateau_to_the_bit() {
    let text = include_str!("data/plateau_vectors.json");
    let vectors: Vectors = serde_json::from_str(text).expect("plateau_vectors.json");
    assert!(vectors.torch.starts_with("2.11"), "{}", vectors.torch);
    assert!(vectors.cases.len() >= 200);
    let mut reductions = 0;
    for (n, case) in vectors.cases.iter().enumerate() {
        let s = &case.settings;
        let spec = ScheduleSpec {
            name: "plateau".into(),
            factor: s.factor,
            patience: s.patience,
            cooldown: s.cooldown,
            min_lr: s.min_lr,
            threshold: s.threshold,
            threshold_mode: s.threshold_mode.clone(),
            eps: s.eps,
        };
        let mut plateau = Plateau::new(&spec, float(&case.lr0));
        let metrics = &vectors.sequences[&case.sequence];
        assert_eq!(metrics.len(), case.lrs.len());
        for (i, (metric, want)) in metrics.iter().zip(&case.lrs).enumerate() {
            let got = plateau.step(float(metric));
            let want = float(want);
            assert!(
                got.to_bits() == want.to_bits(),
                "case {n} ({}, factor {} patience {} cooldown {} min_lr {} threshold {} {} eps {}): \
                 step {i}: lr {got:e}, PyTorch {want:e}",
                case.sequence,
                s.factor,
                s.patience,
                s.cooldown,
                s.min_lr,
                s.threshold,
                s.threshold_mode,
                s.eps
            );
        }
        reductions += plateau.reductions;
    }
    // The vectors exercise reductions, not only flat learning rates.
    assert!(reductions > 200, "{reductions} reductions");
}
