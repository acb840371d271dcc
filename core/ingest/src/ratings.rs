//! Comments → one rating row per post (thread): mean, median, std, count and the
//! score-weighted mean, RateMeAI's target.
//!
//! Memory does not grow with the dump: rated comments are spilled to 64 bucket files by thread
//! id during the scan, and each bucket is aggregated and written as its own parquet row group.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::IngestError;
use super::dump::{self, Block, LineStats};
use super::rating::Extractor;
use super::scan;

const BUCKETS: usize = 64;

/// One rated top-level comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    /// Post id.
    pub thread: String,
    /// The comment's rating.
    pub rating: f64,
    /// Its score (votes); missing reads as 0.
    pub score: f64,
}

/// A post's ratings, aggregated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostRating {
    /// Post id.
    pub id: String,
    /// Mean rating.
    pub mean: f64,
    /// Median rating.
    pub median: f64,
    /// Sample standard deviation (0 for one rating).
    pub std: f64,
    /// Number of ratings.
    pub count: u32,
    /// Σ rating·max(score,0) / Σ max(score,0); the mean when the weights sum to 0.
    pub weighted: f64,
}

impl PostRating {
    /// Aggregates one post's (rating, score) pairs (not empty).
    pub fn from_ratings(id: String, ratings: &mut [(f64, f64)]) -> Self {
        let n = ratings.len();
        let mean = ratings.iter().map(|r| r.0).sum::<f64>() / n as f64;
        ratings.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median = if n % 2 == 1 {
            ratings[n / 2].0
        } else {
            (ratings[n / 2 - 1].0 + ratings[n / 2].0) / 2.0
        };
        let std = if n > 1 {
            (ratings.iter().map(|r| (r.0 - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let wsum: f64 = ratings.iter().map(|r| r.1.max(0.0)).sum();
        let weighted = if wsum > 0.0 {
            ratings.iter().map(|r| r.0 * r.1.max(0.0)).sum::<f64>() / wsum
        } else {
            mean
        };
        Self {
            id,
            mean,
            median,
            std,
            count: n as u32,
            weighted,
        }
    }
}

/// Counts from the comments pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommentCounts {
    /// Lines, bytes, malformed lines.
    pub lines: LineStats,
    /// Top-level comments.
    pub top_level: u64,
    /// Top-level comments with a rating in 0..=10.
    pub rated: u64,
    /// Posts with at least one rating.
    pub posts: u64,
    /// Histogram of the posts' weighted ratings: 40 bins of 0.25 over 0..10.
    pub histogram: Vec<u64>,
}

/// Rated top-level comments of one block.
pub fn rate_block(block: &Block, stats: &mut LineStats, extractor: Extractor) -> (Vec<Rated>, u64) {
    let mut out = Vec::new();
    let mut top = 0;
    for (no, line) in block.lines() {
        stats.lines += 1;
        let c = match scan::top_level(line) {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => {
                stats.malformed(no, line, &e);
                continue;
            }
        };
        top += 1;
        if let Some(rating) = c.body.as_deref().and_then(|b| extractor.rate(b)) {
            out.push(Rated {
                thread: c.thread.into_owned(),
                rating,
                score: c.score.unwrap_or(0.0),
            });
        }
    }
    (out, top)
}

/// Reads the comments dump and writes `out` (parquet: id, mean, median, std, count, weighted),
/// atomically. Progress goes to `progress(bytes read, file size)`.
pub fn write_post_ratings(
    comments: &Path,
    out: &Path,
    extractor: Extractor,
    workers: usize,
    progress: impl Fn(u64, u64) + Send,
) -> Result<CommentCounts, IngestError> {
    let dir = out.parent().unwrap_or(Path::new("."));
    let spill = Spill::create(&dir.join(format!(".spill-{}", std::process::id())))?;
    let mut counts = CommentCounts {
        histogram: vec![0; 40],
        ..Default::default()
    };
    let mut spill_err = None;
    let mut buckets = spill.writers()?;
    let lines = dump::par_blocks(
        comments,
        workers,
        |block, stats| rate_block(block, stats, extractor),
        |(rated, top)| {
            counts.top_level += top;
            counts.rated += rated.len() as u64;
            for r in rated {
                if let Err(e) = write_rated(&mut buckets, &r) {
                    spill_err.get_or_insert(e);
                }
            }
        },
        progress,
    )?;
    if let Some(e) = spill_err {
        return Err(IngestError::io(&spill.dir, e));
    }
    for b in &mut buckets {
        b.flush().map_err(|e| IngestError::io(&spill.dir, e))?;
    }
    drop(buckets);
    counts.lines = lines;

    let tmp = out.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| IngestError::io(&tmp, e))?;
    let mut writer = ParquetWriter::new(file)
        .batched(&ratings_schema())
        .map_err(|e| IngestError::table(&tmp, e))?;
    for i in 0..BUCKETS {
        let rows = spill.aggregate(i)?;
        counts.posts += rows.len() as u64;
        for r in &rows {
            let bin = ((r.weighted / 0.25) as usize).min(39);
            counts.histogram[bin] += 1;
        }
        if !rows.is_empty() {
            writer
                .write_batch(&ratings_frame(&rows).map_err(|e| IngestError::table(&tmp, e))?)
                .map_err(|e| IngestError::table(&tmp, e))?;
        }
    }
    writer.finish().map_err(|e| IngestError::table(&tmp, e))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| IngestError::io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| IngestError::io(out, e))?;
    Ok(counts)
}

fn ratings_schema() -> Schema {
    Schema::from_iter([
        Field::new("id".into(), DataType::String),
        Field::new("mean".into(), DataType::Float64),
        Field::new("median".into(), DataType::Float64),
        Field::new("std".into(), DataType::Float64),
        Field::new("count".into(), DataType::UInt32),
        Field::new("weighted".into(), DataType::Float64),
    ])
}

fn ratings_frame(rows: &[PostRating]) -> PolarsResult<DataFrame> {
    let col = |name: &str, f: &dyn Fn(&PostRating) -> f64| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<f64>>())
    };
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "id".into(),
                rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ),
            col("mean", &|r| r.mean),
            col("median", &|r| r.median),
            col("std", &|r| r.std),
            Column::new(
                "count".into(),
                rows.iter().map(|r| r.count).collect::<Vec<u32>>(),
            ),
            col("weighted", &|r| r.weighted),
        ],
    )
}

/// Reads a ratings table written by [`write_post_ratings`].
pub fn read_post_ratings(path: &Path) -> Result<Vec<PostRating>, IngestError> {
    let df = super::read_parquet(path)?;
    let get = |name: &str| -> Result<Vec<f64>, IngestError> {
        df.column(name)
            .and_then(|c| c.f64().map(|c| c.into_no_null_iter().collect()))
            .map_err(|e| IngestError::table(path, e))
    };
    let ids: Vec<String> = df
        .column("id")
        .and_then(|c| {
            c.str()
                .map(|c| c.iter().map(|v| v.unwrap_or_default().to_owned()).collect())
        })
        .map_err(|e| IngestError::table(path, e))?;
    let counts: Vec<u32> = df
        .column("count")
        .and_then(|c| c.u32().map(|c| c.into_no_null_iter().collect()))
        .map_err(|e| IngestError::table(path, e))?;
    let (mean, median, std, weighted) =
        (get("mean")?, get("median")?, get("std")?, get("weighted")?);
    Ok((0..ids.len())
        .map(|i| PostRating {
            id: ids[i].clone(),
            mean: mean[i],
            median: median[i],
            std: std[i],
            count: counts[i],
            weighted: weighted[i],
        })
        .collect())
}

/// Rated comments spilled to bucket files by thread id.
struct Spill {
    dir: PathBuf,
}

impl Spill {
    fn create(dir: &Path) -> Result<Self, IngestError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("bucket-{i:02}.bin"))
    }

    fn writers(&self) -> Result<Vec<BufWriter<File>>, IngestError> {
        (0..BUCKETS)
            .map(|i| {
                File::create(self.path(i))
                    .map(|f| BufWriter::with_capacity(64 << 10, f))
                    .map_err(|e| IngestError::io(&self.path(i), e))
            })
            .collect()
    }

    fn aggregate(&self, i: usize) -> Result<Vec<PostRating>, IngestError> {
        let path = self.path(i);
        let mut bytes = Vec::new();
        BufReader::new(File::open(&path).map_err(|e| IngestError::io(&path, e))?)
            .read_to_end(&mut bytes)
            .map_err(|e| IngestError::io(&path, e))?;
        let _ = std::fs::remove_file(&path);
        let mut by_post: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
        let mut p = 0;
        while p < bytes.len() {
            let len = u16::from_le_bytes([bytes[p], bytes[p + 1]]) as usize;
            let id = std::str::from_utf8(&bytes[p + 2..p + 2 + len]).unwrap_or_default();
            let num =
                |at: usize| f64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
            let rating = num(p + 2 + len);
            let score = num(p + 10 + len);
            by_post.entry(id).or_default().push((rating, score));
            p += 18 + len;
        }
        let mut rows: Vec<PostRating> = by_post
            .into_iter()
            .map(|(id, mut r)| PostRating::from_ratings(id.to_owned(), &mut r))
            .collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_rated(buckets: &mut [BufWriter<File>], r: &Rated) -> std::io::Result<()> {
    let id = &r.thread.as_bytes()[..r.thread.len().min(u16::MAX as usize)];
    let bucket = (rateme_util::fsutil::fnv1a(id) % BUCKETS as u64) as usize;
    let w = &mut buckets[bucket];
    w.write_all(&(id.len() as u16).to_le_bytes())?;
    w.write_all(id)?;
    w.write_all(&r.rating.to_le_bytes())?;
    w.write_all(&r.score.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_follows_ratemeai() {
        let mut one = vec![(7.0, -3.0)];
        let r = PostRating::from_ratings("a".into(), &mut one);
        assert_eq!(
            (r.mean, r.median, r.std, r.count, r.weighted),
            (7.0, 7.0, 0.0, 1, 7.0)
        );
        let mut many = vec![(4.0, 1.0), (6.0, 3.0), (8.0, 0.0), (5.0, -2.0)];
        let r = PostRating::from_ratings("b".into(), &mut many);
        assert_eq!(r.mean, 5.75);
        assert_eq!(r.median, 5.5);
        assert!((r.std - 1.707825127659933).abs() < 1e-12);
        assert_eq!(r.weighted, (4.0 + 18.0) / 4.0);
    }
}
