//! The streaming loader: same bits whatever the workers or the resume point, bounded queue,
//! caches, unusable images.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use rateme_data::{
    Augment, Batch, CacheSettings, Loader, LoaderSettings, PixelSpec, Request, Sample, probe,
};
use rateme_pixels::DecodeLimits;

const SIDE: u32 = 24;

fn write_images(dir: &Path, n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("img{i:03}.png"));
            // Not square, so padding matters; a pattern per image so rows differ.
            RgbImage::from_fn(30 + (i as u32 % 5), 20, |x, y| {
                Rgb([
                    (x * 7 + i as u32 * 13) as u8,
                    (y * 11 + i as u32 * 3) as u8,
                    ((x ^ y) * 5) as u8,
                ])
            })
            .save(&path)
            .unwrap();
            sample(path, i)
        })
        .collect()
}

fn sample(path: PathBuf, i: usize) -> Sample {
    Sample {
        path,
        target: i as f32,
        group: None,
        weight: 1.0,
        line: i as u64 + 2,
    }
}

fn spec() -> PixelSpec {
    PixelSpec {
        width: SIDE,
        height: SIDE,
        mean: [0.5; 3],
        std: [0.25; 3],
    }
}

fn settings(workers: usize, prefetch: usize, cache: CacheSettings) -> LoaderSettings {
    LoaderSettings {
        workers,
        prefetch,
        cache,
        limits: DecodeLimits::default(),
    }
}

fn loader(samples: &[Sample], settings: LoaderSettings) -> Loader {
    let report = probe(samples, &settings.limits, 2);
    Loader::new(
        samples,
        spec(),
        (SIDE, SIDE),
        true,
        settings,
        report.skipped,
        report.largest_pixels,
    )
    .unwrap()
}

/// Batches `first..=last` of a fixed plan: batch `b` takes rows `(b*5 .. b*5+8) mod n`.
fn plan(n: usize, first: u64, last: u64) -> Vec<Request> {
    (first..=last)
        .map(|b| Request {
            batch_no: b,
            indices: (0..8).map(|k| (b as usize * 5 + k) % n).collect(),
        })
        .collect()
}

fn bits(batches: impl Iterator<Item = Batch>) -> Vec<(u64, Vec<u32>)> {
    batches
        .map(|b| (b.batch_no, b.pixels.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn same_bits_whatever_the_workers_and_the_resume_point() {
    let dir = tempfile::tempdir().unwrap();
    let samples = write_images(dir.path(), 20);
    let aug = Some(Augment::RECIPE);
    let one = loader(&samples, settings(1, 1, CacheSettings::Off));
    let reference = bits(one.stream(plan(20, 1, 9), aug.clone(), 7));
    assert_eq!(reference.len(), 9);
    // Augmented: two batches of the same rows differ, an unaugmented one is plain.
    assert_ne!(reference[0].1, reference[4].1);

    let three = loader(
        &samples,
        settings(3, 3, CacheSettings::Ram { bytes: 1 << 20 }),
    );
    assert_eq!(
        bits(three.stream(plan(20, 1, 9), aug.clone(), 7)),
        reference
    );
    // A second pass over the same plan reads the cache: same bits again.
    assert_eq!(
        bits(three.stream(plan(20, 1, 9), aug.clone(), 7)),
        reference
    );
    assert!(three.stats().cache_hits > 0);
    // Resumed at batch 5 (a fresh loader, as after a restart of the process).
    let resumed = loader(&samples, settings(2, 2, CacheSettings::Off));
    assert_eq!(
        bits(resumed.stream(plan(20, 5, 9), aug.clone(), 7)),
        reference[4..]
    );
    // Another seed gives other draws.
    assert_ne!(bits(one.stream(plan(20, 1, 1), aug, 8))[0], reference[0]);
}

#[test]
fn the_queue_never_runs_more_than_prefetch_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let samples = write_images(dir.path(), 10);
    let l = loader(&samples, settings(2, 2, CacheSettings::Off));
    let mut stream = l.stream(plan(10, 1, 30), None, 0);
    let mut seen = 0;
    let mut most = 0;
    while let Some(b) = stream.next() {
        seen += 1;
        assert_eq!(b.batch_no, seen);
        // A slow consumer: the producer fills the queue meanwhile.
        std::thread::sleep(std::time::Duration::from_millis(15));
        most = most.max(stream.ahead());
    }
    assert_eq!(seen, 30);
    assert!(most >= 2, "the loader never ran ahead: {most}");
    assert!(most <= 3, "{most} batches made ahead with prefetch 2");
    let bound = l.memory_bound(8);
    assert_eq!(bound.batches, 4 * 8 * 3 * u64::from(SIDE * SIDE) * 4);
    // Decoding scratch from the largest probed image (34 x 20), per worker.
    assert_eq!(bound.decode, 2 * (34 * 20 * 4 + u64::from(SIDE * SIDE) * 3));
    assert_eq!(bound.cache, 0);
}

#[test]
fn ram_cache_keeps_to_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let samples = write_images(dir.path(), 10);
    let per = u64::from(SIDE * SIDE) * 3;
    let l = loader(
        &samples,
        settings(2, 2, CacheSettings::Ram { bytes: 4 * per }),
    );
    let all = || {
        vec![Request {
            batch_no: 1,
            indices: (0..10).collect(),
        }]
    };
    let first = bits(l.stream(all(), None, 0));
    assert_eq!(l.stats().decoded, 10);
    let second = bits(l.stream(all(), None, 0));
    assert_eq!(first, second);
    let stats = l.stats();
    assert_eq!(stats.cache_hits, 4, "{stats:?}");
    assert_eq!(stats.decoded, 16, "{stats:?}");
    assert_eq!(l.memory_bound(10).cache, 4 * per);
    // A budget above the whole dataset counts as the dataset.
    let roomy = loader(
        &samples,
        settings(1, 1, CacheSettings::Ram { bytes: 1 << 40 }),
    );
    assert_eq!(roomy.memory_bound(10).cache, 10 * per);
}

#[test]
fn disk_cache_is_reused_by_the_next_run_and_keyed_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let samples = write_images(dir.path(), 6);
    let disk = || {
        settings(
            2,
            2,
            CacheSettings::Disk {
                dir: cache_dir.clone(),
            },
        )
    };
    let reqs = || plan(6, 1, 3);
    let plain = bits(loader(&samples, settings(1, 1, CacheSettings::Off)).stream(
        reqs(),
        Some(Augment::RECIPE),
        3,
    ));
    let first = loader(&samples, disk());
    assert_eq!(bits(first.stream(reqs(), Some(Augment::RECIPE), 3)), plain);
    assert!(first.stats().decoded >= 6, "{:?}", first.stats());
    drop(first);
    let again = loader(&samples, disk());
    assert_eq!(bits(again.stream(reqs(), Some(Augment::RECIPE), 3)), plain);
    assert_eq!(again.stats().decoded, 0, "{:?}", again.stats());

    // Another prepared size must not read those records.
    let report = probe(&samples, &DecodeLimits::default(), 1);
    let bigger = Loader::new(
        &samples,
        spec(),
        (SIDE + 8, SIDE + 8),
        true,
        disk(),
        report.skipped,
        report.largest_pixels,
    )
    .unwrap();
    let _ = bits(bigger.stream(reqs(), None, 3));
    assert!(bigger.stats().decoded >= 6, "{:?}", bigger.stats());
    assert_eq!(std::fs::read_dir(&cache_dir).unwrap().count(), 4);
    // A changed image file starts a new cache too.
    RgbImage::from_pixel(5, 5, Rgb([9, 9, 9]))
        .save(&samples[0].path)
        .unwrap();
    let changed = loader(&samples, disk());
    let _ = bits(changed.stream(reqs(), None, 3));
    assert!(changed.stats().decoded >= 6, "{:?}", changed.stats());
}

#[test]
fn unusable_images_are_zeros_and_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples = write_images(dir.path(), 6);
    // Found by the header check: missing, empty, HTML.
    let missing = dir.path().join("gone.png");
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let html = dir.path().join("page.jpg");
    std::fs::write(&html, b"<!DOCTYPE html><html><body>404</body></html>").unwrap();
    // Found only when decoding: a PNG cut in half.
    let cut = dir.path().join("cut.png");
    let whole = std::fs::read(&samples[0].path).unwrap();
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    for (k, p) in [missing, empty, html, cut].into_iter().enumerate() {
        samples.push(sample(p, 6 + k));
    }
    let report = probe(&samples, &DecodeLimits::default(), 2);
    let found: BTreeMap<usize, &str> = report.skipped.iter().map(|(i, s)| (*i, s.kind)).collect();
    assert_eq!(found.get(&6), Some(&"missing"));
    assert_eq!(found.get(&7), Some(&"empty"));
    assert_eq!(found.get(&8), Some(&"not-an-image"));
    let l = Loader::new(
        &samples,
        spec(),
        (SIDE, SIDE),
        true,
        settings(2, 1, CacheSettings::Ram { bytes: 1 << 20 }),
        report.skipped,
        report.largest_pixels,
    )
    .unwrap();
    let reqs = || {
        vec![Request {
            batch_no: 1,
            indices: (0..10).collect(),
        }]
    };
    for _ in 0..2 {
        let batch = l.stream(reqs(), Some(Augment::RECIPE), 1).next().unwrap();
        let per = 3 * (SIDE * SIDE) as usize;
        assert_eq!(
            batch.ok,
            [
                true, true, true, true, true, true, false, false, false, false
            ]
        );
        for k in 6..10 {
            assert!(
                batch.pixels[k * per..(k + 1) * per]
                    .iter()
                    .all(|&v| v == 0.0)
            );
        }
    }
    let skipped = l.skipped();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    let cut = &skipped[3];
    assert!(cut.path.ends_with("cut.png") && cut.line == 11, "{cut:?}");
    assert_eq!(cut.kind, "truncated", "{cut:?}");
    // Tried once: the second pass knew it was unusable.
    let stats = l.stats();
    assert_eq!(
        (stats.decoded, stats.failed, stats.skipped),
        (6, 1, 4),
        "{stats:?}"
    );
}

#[test]
fn too_few_usable_images_stop_with_the_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples = write_images(dir.path(), 3);
    for k in 0..2 {
        let p = dir.path().join(format!("bad{k}.jpg"));
        std::fs::write(&p, b"").unwrap();
        samples.push(sample(p, 3 + k));
    }
    let report = probe(&samples, &DecodeLimits::default(), 1);
    let skipped: Vec<_> = report.skipped.values().cloned().collect();
    let list = dir.path().join("skipped.csv");
    rateme_data::write_skipped(&list, &skipped).unwrap();
    let table = dir.path().join("ratings.csv");
    assert!(rateme_data::check_valid_fraction(&table, 5, &skipped, 0.5, &list).is_ok());
    let err = rateme_data::check_valid_fraction(&table, 5, &skipped, 0.9, &list)
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\n'), "{err}");
    for part in [
        "ratings.csv",
        "only 3 of 5 images are usable (60.0%",
        "2 empty",
        "bad0.jpg (line 5)",
        "skipped.csv",
        "min_valid_fraction",
    ] {
        assert!(err.contains(part), "`{part}` missing: {err}");
    }
    let csv = std::fs::read_to_string(&list).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("path,line,kind,reason\n"), "{csv}");
}
