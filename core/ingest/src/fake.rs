//! Deterministic Pushshift-format dumps for tests and benchmarks: comment lines with the full
//! field set of real dumps (so parsing costs what it costs on real data), drift between
//! "years" (numbers as strings, nulls, `edited` as bool or timestamp), replies, tricky bodies,
//! and a few malformed lines. No real people, no real text.

use std::io::Write;

use rateme_util::rng::Rng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct FakeDump {
    /// Comment lines.
    pub comments: u64,
    /// Comments per post on average.
    pub per_post: u64,
    /// One malformed line every this many (0: none).
    pub malformed_every: u64,
    /// Seed.
    pub seed: u64,
}

impl Default for FakeDump {
    fn default() -> Self {
        Self {
            comments: 1000,
            per_post: 20,
            malformed_every: 5000,
            seed: 1,
        }
    }
}

const BODIES: &[&str] = &[
    "{r}",
    "{r}/10",
    "I'd say {r}",
    "Solid {r}, great smile!",
    "{r}. Lose the hat.",
    "Honestly a {r} in the second pic",
    "{r}-{r2}",
    "others said 4 but I think {r}",
    "23F here, you're a {r}",
    "Nice pics, no rating from me",
    "You look like a {r} to me",
    "{r} \u{1f44d}",
    "strong {r}\\nwould be higher with better lighting",
];

const REPLIES: &[&str] = &["agreed", "lol no, {r}", "thanks!", "what camera is that?"];

fn id36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = Vec::new();
    loop {
        s.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

/// The id of post number `i`.
pub fn post_id(i: u64) -> String {
    id36(1_000_000 + i)
}

impl FakeDump {
    /// Number of posts the comments spread over.
    pub fn posts(&self) -> u64 {
        (self.comments / self.per_post.max(1)).max(1)
    }

    /// Writes the comments dump as NDJSON to `w`.
    pub fn write_comments(&self, mut w: impl Write) -> std::io::Result<()> {
        let posts = self.posts();
        let mut rng = Rng::new(self.seed, &[0xc0]);
        let mut line = String::with_capacity(2048);
        for i in 0..self.comments {
            if self.malformed_every > 0 && i % self.malformed_every == self.malformed_every / 2 {
                w.write_all(b"{\"body\": \"truncated line, \"score\n")?;
                continue;
            }
            let post = pick(&mut rng, posts);
            let link = format!("t3_{}", post_id(post));
            let reply = rng.uniform() < 0.3;
            let parent = if reply {
                format!("t1_{}", id36(pick(&mut rng, 1 << 40)))
            } else {
                link.clone()
            };
            let r = 3 + pick(&mut rng, 7);
            let template = if reply {
                REPLIES[pick(&mut rng, REPLIES.len() as u64) as usize]
            } else {
                BODIES[pick(&mut rng, BODIES.len() as u64) as usize]
            };
            let body = template
                .replace("{r}", &r.to_string())
                .replace("{r2}", &(r + 1).to_string());
            let score = pick(&mut rng, 40) as i64 - 5;
            let era = i % 3; // schema drift between eras
            let created = 1_400_000_000 + i * 37;
            let score_json = match era {
                0 => score.to_string(),
                1 => format!("\"{score}\""),
                _ if i % 50 == 0 => "null".to_owned(),
                _ => score.to_string(),
            };
            let edited = match era {
                0 => "false".to_owned(),
                1 => format!("{}", created + 600),
                _ => "false".to_owned(),
            };
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(
                line,
                concat!(
                    r#"{{"all_awardings":[],"archived":false,"associated_award":null,"author":"user_{author}","#,
                    r#""author_created_utc":{acreated},"author_flair_background_color":null,"author_flair_css_class":null,"#,
                    r#""author_flair_richtext":[],"author_flair_template_id":null,"author_flair_text":null,"#,
                    r#""author_flair_text_color":null,"author_flair_type":"text","author_fullname":"t2_{author}","#,
                    r#""author_patreon_flair":false,"author_premium":false,"awarders":[],"body":"{body}","#,
                    r#""can_gild":true,"collapsed":false,"collapsed_because_crowd_control":null,"comment_type":null,"#,
                    r#""controversiality":0,"created_utc":{created},"distinguished":null,"edited":{edited},"#,
                    r#""gilded":0,"gildings":{{}},"id":"{id}","is_submitter":false,"link_id":"{link}","locked":false,"#,
                    r#""no_follow":true,"parent_id":"{parent}","permalink":"/r/truerateme/comments/{post}/_/{id}/","#,
                    r#""retrieved_on":{retrieved},"score":{score},"score_hidden":false,"send_replies":true,"stickied":false,"#,
                    r#""subreddit":"truerateme","subreddit_id":"t5_2wdnn","subreddit_name_prefixed":"r/truerateme","#,
                    r#""subreddit_type":"public","top_awarded_type":null,"total_awards_received":0,"treatment_tags":[]}}"#,
                    "\n"
                ),
                author = id36(pick(&mut rng, 1 << 30)),
                acreated = 1_300_000_000 + pick(&mut rng, 100_000_000),
                body = body,
                created = created,
                edited = edited,
                id = id36(1 << 40 | i),
                link = link,
                parent = parent,
                post = post_id(post),
                retrieved = created + 86_400,
                score = score_json,
            );
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// Writes a submissions dump for the posts, with real hosts' link shapes (serve them from a
    /// test server with the downloader's URL map): imgur single images, pages and albums,
    /// i.redd.it, galleries, removed, video and self posts.
    pub fn write_submissions(&self, mut w: impl Write) -> std::io::Result<()> {
        let mut rng = Rng::new(self.seed, &[0x5b]);
        for p in 0..self.posts() {
            let id = post_id(p);
            let kind = p % 8;
            let (url, media, selftext, extra) = match kind {
                0 => (
                    format!("https://i.imgur.com/{id}.jpg"),
                    r#"{"type":"imgur.com"}"#,
                    "",
                    String::new(),
                ),
                1 => (
                    format!("https://imgur.com/a/{id}"),
                    r#"{"type":"imgur.com"}"#,
                    "",
                    String::new(),
                ),
                2 => (
                    format!("https://i.redd.it/{id}.png"),
                    "null",
                    "",
                    String::new(),
                ),
                3 => (
                    format!("https://www.reddit.com/gallery/{id}"),
                    "null",
                    "",
                    format!(
                        r#","is_gallery":true,"media_metadata":{{"m1{id}":{{"status":"valid","m":"image/jpg","s":{{"u":"https://preview.redd.it/m1{id}.jpg?width=640&amp;format=pjpg","x":640,"y":640}}}},"m2{id}":{{"status":"valid","m":"image/png","s":{{"u":"https://preview.redd.it/m2{id}.png?width=640&amp;s=abc","x":640,"y":640}}}}}},"gallery_data":{{"items":[{{"media_id":"m2{id}","id":1}},{{"media_id":"m1{id}","id":2}}]}}"#
                    ),
                ),
                4 => (
                    format!("https://i.imgur.com/{id}.jpg"),
                    r#"{"type":"imgur.com"}"#,
                    "[removed]",
                    String::new(),
                ),
                5 => (
                    format!("https://imgur.com/{id}"),
                    r#"{"type":"imgur.com"}"#,
                    "",
                    String::new(),
                ),
                6 => (
                    format!("https://i.imgur.com/{id}.gifv"),
                    r#"{"type":"imgur.com"}"#,
                    "",
                    String::new(),
                ),
                _ => (
                    format!("https://www.reddit.com/r/truerateme/comments/{id}/"),
                    "null",
                    "rate me please",
                    String::new(),
                ),
            };
            let created = if p % 2 == 0 {
                format!("{}", 1_400_000_000 + p * 100)
            } else {
                format!("\"{}\"", 1_400_000_000 + p * 100)
            };
            writeln!(
                w,
                r#"{{"id":"{id}","title":"[{age}M] rate me","url":"{url}","media":{media},"selftext":"{selftext}","created_utc":{created},"num_comments":{n},"score":{score},"over_18":false{extra}}}"#,
                age = 18 + pick(&mut rng, 20),
                n = self.per_post,
                score = pick(&mut rng, 100),
            )?;
        }
        Ok(())
    }
}

fn pick(rng: &mut Rng, n: u64) -> u64 {
    rng.below(n as usize) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_but_the_planted_malformed_ones() {
        let spec = FakeDump {
            comments: 2000,
            malformed_every: 500,
            ..Default::default()
        };
        let mut buf = Vec::new();
        spec.write_comments(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let bad = text
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
            .count();
        assert_eq!(bad, 4);
        assert_eq!(text.lines().count(), 2000);
        let mut subs = Vec::new();
        spec.write_submissions(&mut subs).unwrap();
        for l in String::from_utf8(subs).unwrap().lines() {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
    }
}
