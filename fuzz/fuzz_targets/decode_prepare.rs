//! Any bytes through `decode_bytes` (with small limits), `prepare` (both pad modes) and the
//! training transform (`Augment::apply`, every op on, random crop included, from a larger and
//! a smaller prepared image): an error is fine, a panic or a crash is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rateme_pixels::{Augment, DecodeLimits, PixelSpec, ResizedCrop, decode_bytes, prepare};
use rateme_util::rng::Rng;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_pixels: 4_000_000,
        max_file_bytes: 8 << 20,
    };
    // The first byte picks whether the decoder may downscale (JPEG DCT scaling).
    let min_side = match data.first() {
        Some(b) if b % 2 == 1 => Some(u32::from(*b) / 8 + 1),
        _ => None,
    };
    if let Ok(img) = decode_bytes(data, &limits, min_side) {
        let a = prepare(&img, 24, 16, true);
        let b = prepare(&img, 7, 9, false);
        assert_eq!((a.dimensions(), b.dimensions()), ((24, 16), (7, 9)));
        let spec = PixelSpec {
            width: 12,
            height: 8,
            mean: [0.5; 3],
            std: [0.25; 3],
        };
        let every_op = Augment {
            saturation: 0.4,
            hue: 0.3,
            random_resized_crop: Some(ResizedCrop::DEFAULT),
            ..Augment::RECIPE
        };
        let mut out = vec![0f32; 3 * 12 * 8];
        let mut rng = Rng::new(u64::from(data.len() as u32), &[]);
        for src in [&a, &b] {
            Augment::apply(Some(&every_op), src, &spec, &mut rng, &mut out);
            Augment::apply(Some(&Augment::RECIPE), src, &spec, &mut rng, &mut out);
            Augment::apply(None, src, &spec, &mut rng, &mut out);
            assert!(out.iter().all(|v| v.is_finite()));
        }
    }
});
