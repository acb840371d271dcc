//! Submissions → the posts worth downloading, each with its image sources (`posts.parquet`).
//!
//! The default filter is RateMeAI's: `media` and `url` present, the url on imgur, `selftext` not
//! `[removed]`/`[deleted]`. `all-images` also keeps i.redd.it images, Reddit galleries and
//! direct image links on any host, and drops posts a moderator removed.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::IngestError;
use super::dump::{self, LineStats};
use super::fields::{self, Submission};

/// Which posts to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PostFilter {
    /// RateMeAI's: media and url present, url on imgur, not removed/deleted.
    #[default]
    Ratemeai,
    /// Any post with images: imgur, i.redd.it, galleries, direct image links; not removed.
    AllImages,
}

impl PostFilter {
    /// Parses a CLI value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ratemeai" => Some(Self::Ratemeai),
            "all-images" => Some(Self::AllImages),
            _ => None,
        }
    }

    /// The CLI value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ratemeai => "ratemeai",
            Self::AllImages => "all-images",
        }
    }
}

/// Where a post's images are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The sources are image URLs.
    Images,
    /// One imgur album URL, resolved into images when downloading.
    ImgurAlbum,
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::ImgurAlbum => "imgur-album",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "images" => Some(Self::Images),
            "imgur-album" => Some(Self::ImgurAlbum),
            _ => None,
        }
    }
}

/// A kept post.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Post id (no `t3_`).
    pub id: String,
    /// The post's link.
    pub url: String,
    /// Title (may be empty).
    pub title: String,
    /// Creation time, seconds since the epoch.
    pub created_utc: Option<f64>,
    /// What `sources` hold.
    pub kind: SourceKind,
    /// Image URLs in display order, or the album URL.
    pub sources: Vec<String>,
}

/// Why a submission was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dropped {
    /// No `id`.
    NoId,
    /// No `url`.
    NoUrl,
    /// `media` null or absent (RateMeAI's filter).
    NoMedia,
    /// `selftext` `[removed]`/`[deleted]`, or removed by a moderator.
    Removed,
    /// A link that is not an image host the filter accepts.
    NotAnImageLink,
    /// A video (`.gifv`, `.mp4`).
    Video,
    /// A gallery without a valid item.
    EmptyGallery,
}

impl Dropped {
    fn name(self) -> &'static str {
        match self {
            Self::NoId => "no id",
            Self::NoUrl => "no url",
            Self::NoMedia => "no media",
            Self::Removed => "removed or deleted",
            Self::NotAnImageLink => "not an accepted image link",
            Self::Video => "video",
            Self::EmptyGallery => "gallery without valid items",
        }
    }
}

/// Counts from the submissions pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostCounts {
    /// The filter used.
    pub filter: PostFilter,
    /// Lines, bytes, malformed lines.
    pub lines: LineStats,
    /// Submissions read (well-formed lines).
    pub read: u64,
    /// Posts kept by the filter.
    pub kept: u64,
    /// Kept posts that have at least one rating.
    pub kept_rated: u64,
    /// Submissions dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
}

/// Applies `filter` to one submission.
pub fn classify(s: &Submission, filter: PostFilter) -> Result<Post, Dropped> {
    let id = s.id.get().filter(|i| !i.is_empty()).ok_or(Dropped::NoId)?;
    let url = s
        .url
        .get()
        .filter(|u| !u.is_empty())
        .ok_or(Dropped::NoUrl)?
        .replace("&amp;", "&");
    let removed_text = matches!(s.selftext.get(), Some("[removed]" | "[deleted]"));
    let (kind, sources) = match filter {
        PostFilter::Ratemeai => {
            if s.media.is_none() {
                return Err(Dropped::NoMedia);
            }
            if removed_text {
                return Err(Dropped::Removed);
            }
            if !url.contains("imgur") {
                return Err(Dropped::NotAnImageLink);
            }
            imgur_sources(&url).ok_or(Dropped::NotAnImageLink)??
        }
        PostFilter::AllImages => {
            if removed_text || s.removed_by_category.get().is_some() {
                return Err(Dropped::Removed);
            }
            if !s.media_metadata.is_empty() {
                let items = gallery_sources(s);
                if items.is_empty() {
                    return Err(Dropped::EmptyGallery);
                }
                (SourceKind::Images, items)
            } else if let Some(found) = imgur_sources(&url) {
                found?
            } else if is_image_path(&url) {
                (SourceKind::Images, vec![url.clone()])
            } else if is_video_path(&url) {
                return Err(Dropped::Video);
            } else {
                return Err(Dropped::NotAnImageLink);
            }
        }
    };
    Ok(Post {
        id: id.to_owned(),
        url,
        title: s.title.get().unwrap_or_default().to_owned(),
        created_utc: s.created_utc.0,
        kind,
        sources,
    })
}

/// Imgur links: `None` if `url` is not on imgur; else the album, the image, or why not.
fn imgur_sources(url: &str) -> Option<Result<(SourceKind, Vec<String>), Dropped>> {
    let parsed = Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    if host != "imgur.com" && !host.ends_with(".imgur.com") {
        return None;
    }
    let segs: Vec<&str> = parsed
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    Some(match segs.as_slice() {
        [kind, _id, ..] if *kind == "a" || *kind == "gallery" => {
            Ok((SourceKind::ImgurAlbum, vec![url.to_owned()]))
        }
        [file] => {
            if is_video_path(file) {
                Err(Dropped::Video)
            } else if host == "i.imgur.com" && is_image_path(file) {
                Ok((
                    SourceKind::Images,
                    vec![format!("https://i.imgur.com/{file}")],
                ))
            } else {
                // A page `imgur.com/<id>` or an odd extension: imgur serves the image by id.
                let id = file.split('.').next().unwrap_or(file);
                Ok((
                    SourceKind::Images,
                    vec![format!("https://i.imgur.com/{id}.jpg")],
                ))
            }
        }
        _ => Err(Dropped::NotAnImageLink),
    })
}

/// A gallery's valid items in display order, as i.redd.it links (the preview links in
/// `media_metadata` are signed and expire; the original file stays at i.redd.it/<id>.<ext>).
fn gallery_sources(s: &Submission) -> Vec<String> {
    let order: Vec<&str> = match &s.gallery_data {
        Some(g) => g.items.iter().filter_map(|i| i.media_id.get()).collect(),
        None => s.media_metadata.iter().map(|(k, _)| k.as_ref()).collect(),
    };
    order
        .into_iter()
        .filter_map(|id| {
            let (_, item) = s.media_metadata.iter().find(|(k, _)| k == id)?;
            if item.status.get() != Some("valid") {
                return None;
            }
            match item.m.get().and_then(|m| m.strip_prefix("image/")) {
                Some("gif") | None => item.s.as_ref()?.u.get().map(|u| u.replace("&amp;", "&")),
                Some(ext) => Some(format!(
                    "https://i.redd.it/{id}.{}",
                    if ext == "jpeg" { "jpg" } else { ext }
                )),
            }
        })
        .collect()
}

fn extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let file = path.rsplit('/').next()?;
    let (_, ext) = file.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

fn is_image_path(url: &str) -> bool {
    extension(url).is_some_and(|e| matches!(e.as_str(), "jpg" | "jpeg" | "png" | "webp"))
}

fn is_video_path(url: &str) -> bool {
    extension(url).is_some_and(|e| matches!(e.as_str(), "gifv" | "mp4" | "webm"))
}

/// Reads the submissions dump, keeps posts by `filter`, writes `out` (parquet) and returns the
/// counts. `rated` tells whether a post has a rating (for the `kept_rated` count).
pub fn write_posts(
    submissions: &Path,
    out: &Path,
    filter: PostFilter,
    workers: usize,
    rated: &dyn Fn(&str) -> bool,
    progress: impl Fn(u64, u64) + Send,
) -> Result<PostCounts, IngestError> {
    let mut posts: Vec<Post> = Vec::new();
    let mut counts = PostCounts {
        filter,
        ..Default::default()
    };
    let mut dropped: BTreeMap<Dropped, u64> = BTreeMap::new();
    let lines = dump::par_blocks(
        submissions,
        workers,
        |block, stats| {
            let mut out = Vec::new();
            for (no, line) in block.lines() {
                stats.lines += 1;
                match fields::parse::<Submission>(line) {
                    Ok(s) => out.push(classify(&s, filter)),
                    Err(e) => stats.malformed(no, line, &e),
                }
            }
            out
        },
        |results| {
            for r in results {
                counts.read += 1;
                match r {
                    Ok(p) => posts.push(p),
                    Err(d) => *dropped.entry(d).or_default() += 1,
                }
            }
        },
        progress,
    )?;
    counts.lines = lines;
    // Blocks arrive in any order and a post may appear twice in a dump: keep the first
    // occurrence of each id in a stable order.
    posts.sort_by(|a, b| a.id.cmp(&b.id));
    posts.dedup_by(|a, b| a.id == b.id);
    counts.kept = posts.len() as u64;
    counts.kept_rated = posts.iter().filter(|p| rated(&p.id)).count() as u64;
    counts.dropped = dropped
        .into_iter()
        .map(|(d, n)| (d.name().to_owned(), n))
        .collect();
    write_table(&posts, out)?;
    Ok(counts)
}

const SOURCE_SEP: &str = "\n";

fn write_table(posts: &[Post], path: &Path) -> Result<(), IngestError> {
    let col = |name: &str, v: Vec<String>| Column::new(name.into(), v);
    let mut df = DataFrame::new(
        posts.len(),
        vec![
            col("id", posts.iter().map(|p| p.id.clone()).collect()),
            col("url", posts.iter().map(|p| p.url.clone()).collect()),
            col("title", posts.iter().map(|p| p.title.clone()).collect()),
            Column::new(
                "created_utc".into(),
                posts.iter().map(|p| p.created_utc).collect::<Vec<_>>(),
            ),
            col(
                "kind",
                posts.iter().map(|p| p.kind.name().to_owned()).collect(),
            ),
            col(
                "sources",
                posts.iter().map(|p| p.sources.join(SOURCE_SEP)).collect(),
            ),
        ],
    )
    .map_err(|e| IngestError::table(path, e))?;
    super::write_parquet_atomic(&mut df, path)
}

/// Reads `posts.parquet`.
pub fn read_posts(path: &Path) -> Result<Vec<Post>, IngestError> {
    let df = super::read_parquet(path)?;
    let text = |name: &str| -> Result<Vec<String>, IngestError> {
        let c = df
            .column(name)
            .map_err(|e| IngestError::table(path, e))?
            .cast(&DataType::String)
            .map_err(|e| IngestError::table(path, e))?;
        let s = c.str().map_err(|e| IngestError::table(path, e))?;
        Ok(s.iter().map(|v| v.unwrap_or_default().to_owned()).collect())
    };
    let created: Vec<Option<f64>> = df
        .column("created_utc")
        .and_then(|c| c.cast(&DataType::Float64))
        .and_then(|c| c.f64().map(|s| s.iter().collect()))
        .map_err(|e| IngestError::table(path, e))?;
    let (ids, urls, titles, kinds, sources) = (
        text("id")?,
        text("url")?,
        text("title")?,
        text("kind")?,
        text("sources")?,
    );
    ids.into_iter()
        .zip(urls)
        .zip(titles)
        .zip(created)
        .zip(kinds)
        .zip(sources)
        .enumerate()
        .map(
            |(row, (((((id, url), title), created_utc), kind), sources))| {
                Ok(Post {
                    kind: SourceKind::parse(&kind).ok_or_else(|| {
                        IngestError::table(path, format!("row {}: unknown kind `{kind}`", row + 1))
                    })?,
                    id,
                    url,
                    title,
                    created_utc,
                    sources: sources.split(SOURCE_SEP).map(str::to_owned).collect(),
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(json: &str) -> Submission<'_> {
        fields::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn ratemeai_filter_keeps_imgur_media_posts_only() {
        let f = PostFilter::Ratemeai;
        let p = classify(
            &sub(r#"{"id":"a","url":"https://i.imgur.com/x1.jpg","media":{"type":"imgur.com"},"selftext":""}"#),
            f,
        )
        .unwrap();
        assert_eq!(p.sources, ["https://i.imgur.com/x1.jpg"]);
        let p = classify(
            &sub(r#"{"id":"a","url":"https://imgur.com/a/Alb","media":{}}"#),
            f,
        )
        .unwrap();
        assert_eq!(p.kind, SourceKind::ImgurAlbum);
        let p = classify(
            &sub(r#"{"id":"a","url":"http://imgur.com/Zz9","media":{}}"#),
            f,
        )
        .unwrap();
        assert_eq!(p.sources, ["https://i.imgur.com/Zz9.jpg"]);
        let cases = [
            (
                r#"{"url":"https://i.imgur.com/x.jpg","media":{}}"#,
                Dropped::NoId,
            ),
            (r#"{"id":"a","url":null,"media":{}}"#, Dropped::NoUrl),
            (
                r#"{"id":"a","url":"https://i.imgur.com/x.jpg","media":null}"#,
                Dropped::NoMedia,
            ),
            (
                r#"{"id":"a","url":"https://i.imgur.com/x.jpg","media":{},"selftext":"[deleted]"}"#,
                Dropped::Removed,
            ),
            (
                r#"{"id":"a","url":"https://i.redd.it/x.jpg","media":{}}"#,
                Dropped::NotAnImageLink,
            ),
            (
                r#"{"id":"a","url":"https://i.imgur.com/x.gifv","media":{}}"#,
                Dropped::Video,
            ),
        ];
        for (json, why) in cases {
            assert_eq!(classify(&sub(json), f), Err(why), "{json}");
        }
    }

    #[test]
    fn all_images_filter_reads_galleries_and_direct_links() {
        let f = PostFilter::AllImages;
        let g = sub(
            r#"{"id":"g","url":"https://www.reddit.com/gallery/g","media":null,
            "media_metadata":{"a1":{"status":"valid","m":"image/jpeg","s":{"u":"https://preview.redd.it/a1.jpg?a=1&amp;b=2"}},
                              "b2":{"status":"failed"},
                              "c3":{"status":"valid","m":"image/png"}},
            "gallery_data":{"items":[{"media_id":"c3"},{"media_id":"b2"},{"media_id":"a1"}]}}"#,
        );
        let p = classify(&g, f).unwrap();
        assert_eq!(
            p.sources,
            ["https://i.redd.it/c3.png", "https://i.redd.it/a1.jpg"]
        );
        let p = classify(
            &sub(r#"{"id":"d","url":"https://example.org/pics/me.PNG?x=1","media":null}"#),
            f,
        )
        .unwrap();
        assert_eq!(p.sources, ["https://example.org/pics/me.PNG?x=1"]);
        assert_eq!(
            classify(
                &sub(
                    r#"{"id":"r","url":"https://i.redd.it/x.jpg","removed_by_category":"moderator"}"#
                ),
                f
            ),
            Err(Dropped::Removed)
        );
        assert_eq!(
            classify(
                &sub(
                    r#"{"id":"s","url":"https://www.reddit.com/r/x/comments/s/","selftext":"hi"}"#
                ),
                f
            ),
            Err(Dropped::NotAnImageLink)
        );
        let empty = sub(
            r#"{"id":"e","url":"https://www.reddit.com/gallery/e","media_metadata":{"z":{"status":"failed"}}}"#,
        );
        assert_eq!(classify(&empty, f), Err(Dropped::EmptyGallery));
    }

    #[test]
    fn table_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let posts = vec![
            Post {
                id: "a".into(),
                url: "https://imgur.com/a/x".into(),
                title: "t".into(),
                created_utc: Some(1.5e9),
                kind: SourceKind::ImgurAlbum,
                sources: vec!["https://imgur.com/a/x".into()],
            },
            Post {
                id: "b".into(),
                url: "https://www.reddit.com/gallery/b".into(),
                title: String::new(),
                created_utc: None,
                kind: SourceKind::Images,
                sources: vec![
                    "https://i.redd.it/1.jpg".into(),
                    "https://i.redd.it/2.png".into(),
                ],
            },
        ];
        let p = d.path().join("posts.parquet");
        write_table(&posts, &p).unwrap();
        assert_eq!(read_posts(&p).unwrap(), posts);
    }
}
