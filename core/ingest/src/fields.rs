//! The few fields ingest reads from dump lines, read leniently: across the years fields go
//! missing, turn null, hold numbers as strings or change type (`edited` is a bool or a
//! timestamp). A field of an unexpected type reads as absent, never as an error.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A string field: absent, null or of another type → `None`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl Text<'_> {
    /// The text, if there is any.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A number field: a JSON number or a numeric string; anything else → `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Number(pub Option<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(Some(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v.is_finite().then_some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                Ok(Number(
                    v.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
                ))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_unit<E>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_none<E>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Number, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Number, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Number(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Number, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Number(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// What ingest reads of a comment.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct Comment<'a> {
    /// `t3_<post id>`.
    #[serde(default, borrow)]
    pub link_id: Text<'a>,
    /// `t3_<post id>` for a top-level comment, `t1_<comment id>` for a reply.
    #[serde(default, borrow)]
    pub parent_id: Text<'a>,
    /// The comment text.
    #[serde(default, borrow)]
    pub body: Text<'a>,
    /// Votes (may be negative).
    #[serde(default)]
    pub score: Number,
}

impl Comment<'_> {
    /// The post id of a top-level comment (RateMeAI: `parent_id == link_id`, `t3_` removed).
    pub fn top_level_thread(&self) -> Option<&str> {
        let link = self.link_id.get()?;
        (self.parent_id.get() == Some(link)).then(|| link.strip_prefix("t3_").unwrap_or(link))
    }
}

/// One media item of a gallery post (`media_metadata`).
#[derive(Debug, Default, Deserialize)]
pub struct MediaItem<'a> {
    /// `valid`, `failed`, ...
    #[serde(default, borrow)]
    pub status: Text<'a>,
    /// MIME type, e.g. `image/jpg`.
    #[serde(default, borrow)]
    pub m: Text<'a>,
    /// The source image: `{ "u": url, "x": w, "y": h }`.
    #[serde(default, borrow)]
    pub s: Option<MediaSource<'a>>,
}

/// The source of a gallery item.
#[derive(Debug, Default, Deserialize)]
pub struct MediaSource<'a> {
    /// URL (HTML-escaped in dumps: `&amp;`).
    #[serde(default, borrow)]
    pub u: Text<'a>,
}

/// The order of a gallery's items.
#[derive(Debug, Default, Deserialize)]
pub struct GalleryData<'a> {
    /// Items in display order.
    #[serde(default, borrow)]
    pub items: Vec<GalleryItem<'a>>,
}

/// One entry of `gallery_data.items`.
#[derive(Debug, Default, Deserialize)]
pub struct GalleryItem<'a> {
    /// Key into `media_metadata`.
    #[serde(default, borrow)]
    pub media_id: Text<'a>,
}

/// What ingest reads of a submission.
#[derive(Debug, Default, Deserialize)]
pub struct Submission<'a> {
    /// Post id (no prefix).
    #[serde(default, borrow)]
    pub id: Text<'a>,
    /// Link of the post.
    #[serde(default, borrow)]
    pub url: Text<'a>,
    /// Present (any non-null value) for media posts.
    #[serde(default)]
    pub media: Option<IgnoredAny>,
    /// `[removed]` / `[deleted]` when taken down.
    #[serde(default, borrow)]
    pub selftext: Text<'a>,
    /// Why a post was removed (newer dumps).
    #[serde(default, borrow)]
    pub removed_by_category: Text<'a>,
    /// Title.
    #[serde(default, borrow)]
    pub title: Text<'a>,
    /// Creation time (seconds; a number or a numeric string).
    #[serde(default)]
    pub created_utc: Number,
    /// Gallery items by id (galleries only; an object, or null/absent).
    #[serde(default, borrow, deserialize_with = "lenient_map")]
    pub media_metadata: Vec<(Cow<'a, str>, MediaItem<'a>)>,
    /// Gallery order.
    #[serde(default, borrow, deserialize_with = "lenient_gallery")]
    pub gallery_data: Option<GalleryData<'a>>,
}

fn lenient_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(Cow<'de, str>, MediaItem<'de>)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(Cow<'de, str>, MediaItem<'de>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object or null")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = a.next_key::<Cow<'de, str>>()? {
                // An item of another shape reads as empty.
                let item = a
                    .next_value::<serde_json::Value>()
                    .ok()
                    .and_then(|v| {
                        Some(MediaItem {
                            status: Text(
                                v.get("status")?.as_str().map(|s| Cow::Owned(s.to_owned())),
                            ),
                            m: Text(
                                v.get("m")
                                    .and_then(|m| m.as_str())
                                    .map(|s| Cow::Owned(s.to_owned())),
                            ),
                            s: v.get("s").map(|s| MediaSource {
                                u: Text(
                                    s.get("u")
                                        .and_then(|u| u.as_str())
                                        .map(|u| Cow::Owned(u.to_owned())),
                                ),
                            }),
                        })
                    })
                    .unwrap_or_default();
                out.push((k, item));
            }
            Ok(out)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

fn lenient_gallery<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GalleryData<'de>>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let items = v.get("items").and_then(|i| i.as_array()).map(|items| {
        items
            .iter()
            .map(|it| GalleryItem {
                media_id: Text(
                    it.get("media_id")
                        .and_then(|m| m.as_str())
                        .map(|s| Cow::Owned(s.to_owned())),
                ),
            })
            .collect()
    });
    Ok(items.map(|items| GalleryData { items }))
}

/// Parses one line; `Err` for a line that is not a JSON object.
pub fn parse<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, String> {
    // serde would also read a struct from an array: only objects are records.
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    serde_json::from_slice(line).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_drift_reads_as_absent_not_as_an_error() {
        let c: Comment = parse(br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"7","score":"12","edited":1600000000}"#).unwrap();
        assert_eq!(c.top_level_thread(), Some("ab"));
        assert_eq!(c.score, Number(Some(12.0)));
        let c: Comment = parse(
            br#"{"link_id":"t3_ab","parent_id":"t1_x","body":null,"score":null,"edited":false}"#,
        )
        .unwrap();
        assert_eq!(c.top_level_thread(), None);
        assert_eq!(c.body.get(), None);
        assert_eq!(c.score, Number(None));
        let c: Comment =
            parse(br#"{"body":"esc\"aped \u00e9 7","score":3.0,"link_id":5}"#).unwrap();
        assert_eq!(c.body.get(), Some("esc\"aped é 7"));
        assert_eq!(c.top_level_thread(), None);
        assert!(parse::<Comment>(b"{not json").is_err());
        assert!(parse::<Comment>(b"[1,2]").is_err());
    }

    #[test]
    fn galleries_and_odd_submissions() {
        let s: Submission = parse(br#"{"id":"p1","url":"https://www.reddit.com/gallery/p1","media":null,"selftext":"","is_gallery":true,
            "media_metadata":{"a1":{"status":"valid","m":"image/jpg","s":{"u":"https://preview.redd.it/a1.jpg?width=640&amp;s=x","x":640,"y":480}},"b2":{"status":"failed"}},
            "gallery_data":{"items":[{"media_id":"b2","id":1},{"media_id":"a1","id":2}]},"created_utc":"1500000000"}"#).unwrap();
        assert_eq!(s.id.get(), Some("p1"));
        assert!(s.media.is_none());
        assert_eq!(s.media_metadata.len(), 2);
        assert_eq!(s.gallery_data.unwrap().items.len(), 2);
        assert_eq!(s.created_utc, Number(Some(1.5e9)));
        let s: Submission = parse(br#"{"id":"p2","media":{"type":"imgur.com"},"media_metadata":null,"gallery_data":null}"#).unwrap();
        assert!(s.media.is_some());
        assert!(s.media_metadata.is_empty());
    }
}
