//! Reading comment lines of a Pushshift-style dump: rateme's skipping scanner
//! (`ingest::scan::top_level`, what `runner ingest reddit` uses) against serde_json with the
//! lenient `fields::Comment` (what it replaced), on generated lines with the full field set of
//! real dumps. Throughput in bytes of NDJSON per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rateme::ingest::fake::FakeDump;
use rateme::ingest::fields::{self, Comment};
use rateme::ingest::scan;

fn lines() -> Vec<u8> {
    let spec = FakeDump {
        comments: 20_000,
        per_post: 20,
        malformed_every: 0,
        seed: 1,
    };
    let mut text = Vec::new();
    spec.write_comments(&mut text).expect("writes to memory");
    text
}

fn read_comments(c: &mut Criterion) {
    let text = lines();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut group = c.benchmark_group("comment_lines");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("scan::top_level", |b| {
        b.iter(|| {
            let mut top = 0u64;
            for &line in &lines {
                if let Ok(Some(c)) = scan::top_level(line) {
                    top += c.body.map_or(0, |b| b.len() as u64);
                }
            }
            top
        })
    });
    group.bench_function("serde_json/fields::Comment", |b| {
        b.iter(|| {
            let mut top = 0u64;
            for &line in &lines {
                if let Ok(c) = fields::parse::<Comment>(line)
                    && c.top_level_thread().is_some()
                {
                    top += c.body.get().map_or(0, |b| b.len() as u64);
                }
            }
            top
        })
    });
    group.finish();
}

criterion_group!(benches, read_comments);
criterion_main!(benches);
