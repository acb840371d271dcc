//! Reddit ingest end to end: a generated Pushshift-format dump (zstd with a 2 GiB window, and
//! plain NDJSON) through `runner ingest reddit`, checked against RateMeAI's rule implemented
//! independently here (the `regex` crate, serde_json values, a plain map), and memory that does
//! not grow with the dump.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

mod common;

use common::compress_long31;
use rateme::ingest::fake::FakeDump;
use rateme::ingest::ratings::{PostRating, read_post_ratings};

fn runner() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
}

fn ingest(comments: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let out = runner()
        .args(["ingest", "reddit", "--comments"])
        .arg(comments)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// RateMeAI's rule, written the way its Python is: regex findall, mean, 0..10, top-level only,
/// then per thread mean/median/std(ddof=1, 0 if single)/count/weighted.
fn reference(ndjson: &str) -> HashMap<String, PostRating> {
    let number = regex::Regex::new(r"[+-]?(\d+(\.\d+)?)").unwrap();
    let mut by_thread: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for line in ndjson.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(link), Some(parent)) = (v["link_id"].as_str(), v["parent_id"].as_str()) else {
            continue;
        };
        if link != parent {
            continue;
        }
        let body = v["body"].as_str().unwrap_or_default();
        let values: Vec<f64> = number
            .captures_iter(body)
            .map(|c| c[1].parse::<f64>().unwrap())
            .collect();
        if values.is_empty() {
            continue;
        }
        let rating = values.iter().sum::<f64>() / values.len() as f64;
        if !(0.0..=10.0).contains(&rating) {
            continue;
        }
        let score = match &v["score"] {
            serde_json::Value::Number(n) => n.as_f64().unwrap(),
            serde_json::Value::String(s) => s.parse().unwrap_or(0.0),
            _ => 0.0,
        };
        by_thread
            .entry(link.trim_start_matches("t3_").to_owned())
            .or_default()
            .push((rating, score));
    }
    by_thread
        .into_iter()
        .map(|(id, r)| {
            let n = r.len() as f64;
            let mean = r.iter().map(|x| x.0).sum::<f64>() / n;
            let mut sorted: Vec<f64> = r.iter().map(|x| x.0).collect();
            sorted.sort_by(f64::total_cmp);
            let k = sorted.len();
            let median = if k % 2 == 1 {
                sorted[k / 2]
            } else {
                (sorted[k / 2 - 1] + sorted[k / 2]) / 2.0
            };
            let std = if k > 1 {
                (r.iter().map(|x| (x.0 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                0.0
            };
            let w: f64 = r.iter().map(|x| x.1.max(0.0)).sum();
            let weighted = if w > 0.0 {
                r.iter().map(|x| x.0 * x.1.max(0.0)).sum::<f64>() / w
            } else {
                mean
            };
            let row = PostRating {
                id: id.clone(),
                mean,
                median,
                std,
                count: k as u32,
                weighted,
            };
            (id, row)
        })
        .collect()
}

fn assert_same(got: &[PostRating], want: &HashMap<String, PostRating>) {
    assert_eq!(got.len(), want.len());
    for g in got {
        let w = &want[&g.id];
        assert_eq!(g.count, w.count, "{}", g.id);
        for (a, b, what) in [
            (g.mean, w.mean, "mean"),
            (g.median, w.median, "median"),
            (g.std, w.std, "std"),
            (g.weighted, w.weighted, "weighted"),
        ] {
            assert!((a - b).abs() < 1e-9, "{} {what}: {a} vs {b}", g.id);
        }
    }
}

#[test]
fn default_ratings_equal_ratemeai_rule_from_zstd_long31_and_plain_dumps() {
    let d = tempfile::tempdir().unwrap();
    let spec = FakeDump {
        comments: 6000,
        per_post: 15,
        malformed_every: 2000,
        seed: 9,
    };
    let mut text = Vec::new();
    spec.write_comments(&mut text).unwrap();
    let plain = d.path().join("comments.ndjson");
    std::fs::write(&plain, &text).unwrap();
    let zst = d.path().join("comments.zst");
    compress_long31(&text, &zst);

    // A decoder with default limits refuses the frame: the window limit matters.
    let mut refused = Vec::new();
    let default_read = zstd::stream::read::Decoder::new(std::fs::File::open(&zst).unwrap())
        .unwrap()
        .read_to_end(&mut refused);
    assert!(
        default_read.is_err(),
        "the test dump must need a raised window limit"
    );

    let want = reference(std::str::from_utf8(&text).unwrap());
    assert!(want.len() > 300, "{}", want.len());
    for (input, name) in [(&zst, "zst"), (&plain, "plain")] {
        let out = d.path().join(name);
        let run = ingest(input, &out, &[]);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains("3 malformed"), "{stdout}");
        assert!(stdout.contains("malformed line 1001"), "{stdout}");
        let got = read_post_ratings(&out.join("ratings.parquet")).unwrap();
        assert_same(&got, &want);
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["comments"]["posts"], want.len());
        assert!(out.join("ratings_hist.svg").is_file());
    }
    // The strict rule reads the same threads differently, not all of them as RateMeAI does.
    ingest(&zst, &d.path().join("strict"), &["--extractor", "strict"]);
    let strict = read_post_ratings(&d.path().join("strict/ratings.parquet")).unwrap();
    assert!(strict.iter().any(|s| {
        want.get(&s.id)
            .is_some_and(|w| (w.mean - s.mean).abs() > 0.1)
    }));
}

#[test]
fn memory_stays_flat_on_a_dump_much_larger_than_the_buffers() {
    let d = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for (name, comments) in [("small", 100_000u64), ("large", 400_000)] {
        let path = d.path().join(format!("{name}.ndjson"));
        let spec = FakeDump {
            comments,
            per_post: 20,
            malformed_every: 0,
            seed: 3,
        };
        spec.write_comments(std::io::BufWriter::new(
            std::fs::File::create(&path).unwrap(),
        ))
        .unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        let out = d.path().join(name);
        ingest(&path, &out, &[]);
        // The runner's own peak (VmHWM, read from the kernel when it finishes).
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        let peak = summary["peak_rss_kib"]
            .as_i64()
            .expect("peak memory on Linux");
        peaks.push((name, size, peak));
        std::fs::remove_file(&path).unwrap();
    }
    let (_, small_size, small) = peaks[0];
    let (_, large_size, large) = peaks[1];
    println!("peak RSS {small} KiB on {small_size} B, {large} KiB on {large_size} B");
    assert!(large_size > 400 << 20, "{large_size}");
    assert!(large_size > 3 * small_size);
    // 4× the input (330 MB more; both well past the few MiB of buffers), under 10 MiB more memory: neither the text nor the rated
    // comments (about 13 MB of them here) are held.
    assert!(
        large - small < 10 << 10,
        "peak RSS {small} KiB on {small_size} B, {large} KiB on {large_size} B"
    );
}
