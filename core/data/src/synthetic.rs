//! The embedded demo dataset: deterministic synthetic "posts" of 1–3 images each, rated by
//! simulated raters. Nothing here depicts people.
//!
//! Each post has a hidden true score that depends on what is visible in its images:
//! - the background brightness (brighter → higher),
//! - the number of discs (0–5, more → higher),
//! - the discs' warmth (red → higher, blue → lower).
//!
//! `true = 5.5 + 1.0·z(count) + 0.8·z(brightness) + 0.6·z(warmth)` (each z standardised), so the
//! true scores have mean 5.5 and std ≈ 1.4. A post's rating is the true score plus rater noise
//! `N(0, noise_std)` (RateMeAI's human raters: 0.92), clipped to 0..10. A perfect model therefore
//! has validation MSE ≈ noise_std² and MAE ≈ 0.8·noise_std; always predicting the mean scores
//! MAE ≈ 0.8·sqrt(1.4² + noise_std²).

use std::path::Path;

use image::{Rgb, RgbImage};

use super::DataError;
use rateme_spec::SyntheticSpec;
use rateme_util::rng::Rng;

const MARKER: &str = "synthetic.json";

fn io_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// One generated post.
#[derive(Debug, Clone)]
pub struct Post {
    /// Discs drawn (0–5).
    pub count: usize,
    /// Background grey level 0..1.
    pub brightness: f64,
    /// −1 (blue) .. 1 (red).
    pub warmth: f64,
    /// The hidden true score.
    pub true_score: f64,
    /// Observed rating (true score + rater noise, clipped to 0..10).
    pub rating: f64,
}

/// The posts of a spec, without images (for tests and analysis).
pub fn posts(spec: &SyntheticSpec) -> Vec<(Post, usize)> {
    let mut rng = Rng::new(spec.seed, &[0x5e7]);
    let mut out = Vec::new();
    let mut images = 0;
    while images < spec.count {
        let count = rng.below(6);
        let brightness = rng.range(0.15, 0.85);
        let warmth = rng.range(-1.0, 1.0);
        // Standardise each factor: count ~ U{0..5} (sd 1.71), brightness ~ U(.15,.85) (sd .202),
        // warmth ~ U(-1,1) (sd .577).
        let true_score = 5.5
            + 1.0 * (count as f64 - 2.5) / 1.708
            + 0.8 * (brightness - 0.5) / 0.202
            + 0.6 * warmth / 0.577;
        let rating = (true_score + spec.noise_std * rng.normal()).clamp(0.0, 10.0);
        let n_images = (1 + rng.below(3)).min(spec.count - images);
        images += n_images;
        out.push((
            Post {
                count,
                brightness,
                warmth,
                true_score,
                rating,
            },
            n_images,
        ));
    }
    out
}

fn draw(post: &Post, size: u32, rng: &mut Rng) -> RgbImage {
    let g = post.brightness * 255.0;
    let mut img = RgbImage::from_fn(size, size, |_, _| {
        let n = rng.normal() * 6.0;
        let v = (g + n).clamp(0.0, 255.0) as u8;
        Rgb([v, v, v])
    });
    let s = f64::from(size);
    let red = 127.5 + 127.5 * post.warmth;
    let blue = 127.5 - 127.5 * post.warmth;
    for _ in 0..post.count {
        let r = rng.range(0.06, 0.13) * s;
        let cx = rng.range(r, s - r);
        let cy = rng.range(r, s - r);
        let green = rng.range(40.0, 120.0);
        let colour = Rgb([red as u8, green as u8, blue as u8]);
        let (x0, x1) = (
            (cx - r).floor() as u32,
            ((cx + r).ceil() as u32).min(size - 1),
        );
        let (y0, y1) = (
            (cy - r).floor() as u32,
            ((cy + r).ceil() as u32).min(size - 1),
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    img.put_pixel(x, y, colour);
                }
            }
        }
    }
    img
}

/// Makes sure `table` holds the dataset of `spec`: generates the images and the table when the
/// table is missing or was generated from other settings. Idempotent; the table is written last
/// and atomically, so an interrupted generation is simply redone.
pub fn ensure(spec: &SyntheticSpec, table: &Path) -> Result<bool, DataError> {
    let dir = table
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let marker = dir.join(MARKER);
    let wanted = serde_json::to_string(spec).expect("spec serialises");
    // Processes sharing the folder (the shards of a sweep on shared storage, starting together)
    // take turns: one generates, the others then find the table and its marker in place. The
    // OS drops the lock when a process ends, however it ends.
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let lock_path = dir.join(".synthetic.lock");
    let lock = rateme_util::fsutil::lock_file(&lock_path).map_err(|e| io_err(&lock_path, e))?;
    lock.lock().map_err(|e| io_err(&lock_path, e))?;
    if table.exists() {
        match std::fs::read_to_string(&marker) {
            Ok(have) if have == wanted => return Ok(false),
            Ok(_) => {}
            Err(_) => {
                return Err(DataError::Io {
                    path: table.display().to_string(),
                    message: format!(
                        "exists but was not generated by rateme (no {MARKER} beside it); remove `data.synthetic` to use it as real data, or point `data.table` elsewhere"
                    ),
                });
            }
        }
    }
    let images_dir = dir.join("images");
    std::fs::create_dir_all(&images_dir).map_err(|e| io_err(&images_dir, e))?;
    let mut csv = String::from("path,target,group,true_score,count,brightness,warmth\n");
    let mut index = 0;
    for (p, (post, n_images)) in posts(spec).iter().enumerate() {
        let mut rng = Rng::new(spec.seed, &[0x1a6e, p as u64]);
        for _ in 0..*n_images {
            let name = format!("images/{index:05}.png");
            let path = dir.join(&name);
            draw(post, spec.size, &mut rng)
                .save(&path)
                .map_err(|e| io_err(&path, e))?;
            csv.push_str(&format!(
                "{name},{:.4},post{p:04},{:.4},{},{:.4},{:.4}\n",
                post.rating, post.true_score, post.count, post.brightness, post.warmth
            ));
            index += 1;
        }
    }
    rateme_util::fsutil::write_atomic(table, csv.as_bytes()).map_err(|e| io_err(table, e))?;
    rateme_util::fsutil::write_atomic(&marker, wanted.as_bytes())
        .map_err(|e| io_err(&marker, e))?;
    drop(lock);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SyntheticSpec {
        SyntheticSpec {
            count: 60,
            size: 32,
            noise_std: 0.92,
            seed: 7,
        }
    }

    #[test]
    fn scores_have_the_documented_spread() {
        let big = SyntheticSpec {
            count: 20_000,
            ..spec()
        };
        let posts = posts(&big);
        let t: Vec<f64> = posts.iter().map(|(p, _)| p.true_score).collect();
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        let sd = (t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / t.len() as f64).sqrt();
        assert!((mean - 5.5).abs() < 0.05, "{mean}");
        assert!((sd - 1.4).abs() < 0.06, "{sd}");
        let noise: Vec<f64> = posts.iter().map(|(p, _)| p.rating - p.true_score).collect();
        let nsd = (noise.iter().map(|x| x * x).sum::<f64>() / noise.len() as f64).sqrt();
        assert!((nsd - 0.92).abs() < 0.04, "{nsd}");
    }

    #[test]
    fn generation_is_deterministic_and_cached() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert!(ensure(&spec(), &a.path().join("ratings.csv")).unwrap());
        assert!(!ensure(&spec(), &a.path().join("ratings.csv")).unwrap());
        assert!(ensure(&spec(), &b.path().join("ratings.csv")).unwrap());
        let ta = std::fs::read(a.path().join("ratings.csv")).unwrap();
        assert_eq!(ta, std::fs::read(b.path().join("ratings.csv")).unwrap());
        assert_eq!(
            std::fs::read(a.path().join("images/00003.png")).unwrap(),
            std::fs::read(b.path().join("images/00003.png")).unwrap()
        );
        let rows = super::super::read_table(&a.path().join("ratings.csv"), a.path()).unwrap();
        assert_eq!(rows.len(), 60);
        // Changing the settings regenerates.
        let other = SyntheticSpec {
            noise_std: 0.5,
            ..spec()
        };
        assert!(ensure(&other, &a.path().join("ratings.csv")).unwrap());
    }

    #[test]
    fn refuses_to_overwrite_a_foreign_table() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("ratings.csv");
        std::fs::write(&t, "path,target\n").unwrap();
        let err = ensure(&spec(), &t).unwrap_err().to_string();
        assert!(err.contains("not generated by rateme"), "{err}");
    }
}
