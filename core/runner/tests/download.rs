//! The download step against a local HTTP server (no internet here): every failure a real host
//! produces (404, 429 with Retry-After, 5xx, slow, garbage, HTML, truncated, empty, imgur's
//! removed placeholder), duplicates, imgur albums (API and cover), a rerun that refetches
//! nothing settled, and SIGKILL mid-download then resume with nothing lost or doubled, ending in
//! a manifest the runner trains on.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rateme::ingest::download::{self, DownloadOptions, Entry, files};
use rateme::ingest::posts::PostFilter;
use rateme::ingest::ratings::read_post_ratings;
use rateme::ingest::{OfflineOptions, fetch::FetchOptions, rating::Extractor};

/// What the server answers.
#[derive(Clone)]
enum Reply {
    Body(&'static str, Vec<u8>),
    Status(u16, Vec<(String, String)>),
    /// Headers promise a body, which then trickles.
    Slow,
    /// The first bytes of a body, no length, then the connection closes.
    Cut(Vec<u8>),
}

type Route = Box<dyn Fn(&str, usize) -> Reply + Send + Sync>;

/// A tiny HTTP/1.1 server: one thread per connection, `Connection: close`, a route function of
/// (path, how many times this path was asked before), and a log of every request.
struct Server {
    port: u16,
    log: Arc<Mutex<Vec<(String, Instant, String)>>>,
}

impl Server {
    fn start(route: Route) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Vec<(String, Instant, String)>>> = Arc::default();
        let route = Arc::new(route);
        let log2 = log.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (route, log) = (route.clone(), log2.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &route, &log);
                });
            }
        });
        Self { port, log }
    }

    /// Maps every https URL to this server, the host becoming the first path segment.
    fn url_map(&self) -> (String, String) {
        (
            "https://".into(),
            format!("http://127.0.0.1:{}/", self.port),
        )
    }

    fn hits(&self, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.0 == path)
            .count()
    }

    fn paths(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.0.clone())
            .collect()
    }
}

fn serve(
    mut conn: TcpStream,
    route: &Route,
    log: &Mutex<Vec<(String, Instant, String)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut ua = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("user-agent:") {
            ua = v.trim().to_owned();
        }
    }
    let seen = {
        let mut log = log.lock().unwrap();
        let seen = log.iter().filter(|r| r.0 == path).count();
        log.push((path.clone(), Instant::now(), ua));
        seen
    };
    match route(&path, seen) {
        Reply::Body(ctype, body) => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )?;
            conn.write_all(&body)?;
        }
        Reply::Status(code, headers) => {
            let mut head =
                format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n");
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            conn.write_all(head.as_bytes())?;
        }
        Reply::Slow => {
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n")?;
            for _ in 0..100 {
                conn.write_all(&[0xFF; 10])?;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Reply::Cut(body) => {
            conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\nconnection: close\r\n\r\n",
            )?;
            conn.write_all(&body[..body.len() / 2])?;
        }
    }
    conn.flush()
}

/// A distinct small image per name.
fn image(name: &str, png: bool) -> Vec<u8> {
    let seed = rateme::fsutil::fnv1a(name.as_bytes());
    let img = image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([
            (seed as u8).wrapping_add(x as u8 * 3),
            (seed >> 8) as u8 ^ y as u8,
            (seed >> 16) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let format = if png {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// A served image for any `*.jpg`/`*.png` path.
fn image_reply(path: &str) -> Reply {
    let png = path.ends_with(".png");
    Reply::Body(
        if png { "image/png" } else { "image/jpeg" },
        image(path.rsplit('/').next().unwrap(), png),
    )
}

/// Writes a comments dump rating every post in `posts` (two top-level ratings each, plus a
/// reply) and a submissions dump with the given (id, url, extra fields).
fn write_dumps(
    dir: &Path,
    posts: &[(&str, &str, &str)],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let comments = dir.join("comments.ndjson");
    let submissions = dir.join("submissions.ndjson");
    let mut c = String::new();
    let mut s = String::new();
    for (i, (id, url, extra)) in posts.iter().enumerate() {
        let r = 3 + i % 6;
        c.push_str(&format!(
            "{{\"link_id\":\"t3_{id}\",\"parent_id\":\"t3_{id}\",\"body\":\"{r}\",\"score\":{}}}\n",
            i + 1
        ));
        c.push_str(&format!(
            "{{\"link_id\":\"t3_{id}\",\"parent_id\":\"t3_{id}\",\"body\":\"I'd say {}\",\"score\":\"2\"}}\n",
            r + 1
        ));
        c.push_str(&format!(
            "{{\"link_id\":\"t3_{id}\",\"parent_id\":\"t1_x{i}\",\"body\":\"1\",\"score\":50}}\n"
        ));
        s.push_str(&format!(
            "{{\"id\":\"{id}\",\"url\":\"{url}\",\"media\":{{\"type\":\"imgur.com\"}},\"selftext\":\"\"{extra}}}\n"
        ));
    }
    std::fs::write(&comments, c).unwrap();
    std::fs::write(&submissions, s).unwrap();
    (comments, submissions)
}

fn offline(dir: &Path, comments: &Path, submissions: &Path) {
    let s = rateme::ingest::offline(&OfflineOptions {
        comments: comments.to_owned(),
        submissions: Some(submissions.to_owned()),
        filter: PostFilter::AllImages,
        out: dir.to_owned(),
        extractor: Extractor::Ratemeai,
        workers: 1,
        progress: false,
    })
    .unwrap();
    assert!(s.posts.is_some());
}

fn fast_fetch(server: &Server) -> FetchOptions {
    FetchOptions {
        timeout: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(20),
        per_host_interval: Duration::ZERO,
        url_map: vec![server.url_map()],
        ..Default::default()
    }
}

fn journal(dir: &Path) -> Vec<Entry> {
    std::fs::read_to_string(dir.join(files::JOURNAL))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn manifest(dir: &Path) -> Vec<(String, f64, String)> {
    let samples =
        rateme::data::read_table(&dir.join(files::MANIFEST), dir).expect("manifest reads as data");
    samples
        .into_iter()
        .map(|s| {
            (
                s.path.strip_prefix(dir).unwrap().display().to_string(),
                f64::from(s.target),
                s.group.unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_failure_is_named_and_a_rerun_fetches_only_what_is_unsettled() {
    let good = image("a1.jpg", false);
    let route: Route = Box::new(move |path, seen| {
        match path {
        "/i.imgur.com/missing.jpg" => Reply::Status(404, vec![]),
        "/i.imgur.com/busy.jpg" if seen == 0 => {
            Reply::Status(429, vec![("Retry-After".into(), "1".into())])
        }
        "/i.imgur.com/flaky.jpg" if seen < 2 => Reply::Status(503, vec![]),
        "/i.imgur.com/slow.jpg" => Reply::Slow,
        "/i.imgur.com/garbage.jpg" => Reply::Body("image/jpeg", (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect()),
        "/i.imgur.com/html.jpg" => Reply::Body("text/html", b"<!DOCTYPE html><html><head><title>502</title></head></html>".to_vec()),
        "/i.imgur.com/cut.jpg" => Reply::Cut(image("cut.jpg", false)),
        "/i.imgur.com/empty.jpg" => Reply::Body("image/jpeg", vec![]),
        "/i.imgur.com/same.jpg" => Reply::Body("image/jpeg", good.clone()),
        "/i.imgur.com/a1.jpg" => Reply::Body("image/jpeg", good.clone()),
        "/i.imgur.com/gone.jpg" => Reply::Status(302, vec![("Location".into(), "/i.imgur.com/removed.png".into())]),
        "/api.imgur.com/3/album/Alb/images" => Reply::Body(
            "application/json",
            br#"{"data":[{"link":"https://i.imgur.com/a1.jpg","animated":false},{"link":"https://i.imgur.com/a2.png"},{"link":"https://i.imgur.com/v.mp4","animated":true},{"link":"https://i.imgur.com/a3.jpg"}],"success":true,"status":200}"#.to_vec(),
        ),
        p if p.ends_with(".jpg") || p.ends_with(".png") => image_reply(p),
        _ => Reply::Status(404, vec![]),
    }
    });
    let server = Server::start(route);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gallery = r#","media_metadata":{"g1":{"status":"valid","m":"image/jpg"},"g2":{"status":"valid","m":"image/png"},"g3":{"status":"failed"}},"gallery_data":{"items":[{"media_id":"g2"},{"media_id":"g1"},{"media_id":"g3"}]}"#;
    let posts = [
        ("p01", "https://i.imgur.com/ok1.jpg", ""),
        ("p02", "https://i.imgur.com/missing.jpg", ""),
        ("p03", "https://i.imgur.com/busy.jpg", ""),
        ("p04", "https://i.imgur.com/slow.jpg", ""),
        ("p05", "https://i.imgur.com/garbage.jpg", ""),
        ("p06", "https://i.imgur.com/html.jpg", ""),
        ("p07", "https://i.imgur.com/cut.jpg", ""),
        ("p08", "https://i.imgur.com/empty.jpg", ""),
        ("p09", "https://i.imgur.com/same.jpg", ""),
        ("p10", "https://imgur.com/a/Alb", ""),
        ("p11", "https://www.reddit.com/gallery/p11", gallery),
        ("p12", "https://i.imgur.com/flaky.jpg", ""),
        ("p13", "https://i.imgur.com/gone.jpg", ""),
        ("p14", "https://i.redd.it/r1.png", ""),
    ];
    let (comments, submissions) = write_dumps(d, &posts);
    offline(d, &comments, &submissions);
    let mut opts = DownloadOptions::new(d.to_owned());
    opts.fetch = fast_fetch(&server);
    opts.fetch.user_agent = "rateme-test/1 (ua check)".into();
    opts.concurrency = 4;
    opts.imgur_client_id = Some("cid".into());
    let s = download::download(&opts).unwrap();

    let failed: Vec<(&str, u64)> = s.failed.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let want = [
        "empty",
        "html page",
        "http 404",
        "not an image",
        "removed by host",
        "timeout",
        "truncated",
    ];
    assert_eq!(failed, want.map(|r| (r, 1)), "{s:?}");
    // ok1, busy, a1 a2 a3 (same.jpg duplicates a1 or the other way round), g2 g1, flaky, r1.
    assert_eq!(s.images_ok, 9, "{s:?}");
    assert_eq!(s.duplicates, 1);
    assert_eq!(s.posts, 14);
    assert_eq!(s.images_from_earlier_runs, 0);
    // 429: asked twice, the second time after the server's Retry-After.
    let log = server.log.lock().unwrap().clone();
    let busy: Vec<Instant> = log
        .iter()
        .filter(|r| r.0 == "/i.imgur.com/busy.jpg")
        .map(|r| r.1)
        .collect();
    assert_eq!(busy.len(), 2);
    assert!(
        busy[1] - busy[0] >= Duration::from_millis(950),
        "{:?}",
        busy[1] - busy[0]
    );
    assert_eq!(server.hits("/i.imgur.com/flaky.jpg"), 3);
    assert_eq!(server.hits("/i.imgur.com/missing.jpg"), 1, "404 is final");
    assert_eq!(
        server.hits("/i.imgur.com/slow.jpg"),
        3,
        "timeouts are retried"
    );
    assert!(log.iter().all(|r| r.2 == "rateme-test/1 (ua check)"));
    // Galleries in display order from i.redd.it; the album's animated item skipped.
    assert_eq!(server.hits("/i.redd.it/g2.png"), 1);
    assert_eq!(server.hits("/i.imgur.com/v.mp4"), 0);

    let ratings: HashMap<String, f64> = read_post_ratings(&d.join("ratings.parquet"))
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.weighted))
        .collect();
    let rows = manifest(d);
    assert_eq!(rows.len(), 9);
    let files_seen: HashSet<&String> = rows.iter().map(|r| &r.0).collect();
    assert_eq!(files_seen.len(), 9, "each image once");
    for (file, target, group) in &rows {
        assert!((target - ratings[group]).abs() < 1e-6, "{file}");
        image::open(d.join(file)).expect("kept files decode");
    }
    let p11: Vec<&String> = rows.iter().filter(|r| r.2 == "p11").map(|r| &r.0).collect();
    assert_eq!(p11, ["images/p11_0.png", "images/p11_1.jpg"]);
    let summary = rateme::ingest::read_summary(d).unwrap();
    let mut on_disk = summary.downloads.clone().expect("the downloads summary");
    // serde_json's default float parsing may land one ULP off the written value (its
    // `float_roundtrip` feature is off): the duration is compared as a number, the rest exactly.
    assert!((on_disk.seconds - s.seconds).abs() <= 1e-9 * s.seconds.max(1.0));
    on_disk.seconds = s.seconds;
    assert_eq!(on_disk, s);

    // A rerun: settled images are not fetched again; transient failures are.
    let before = server.paths().len();
    let s2 = download::download(&opts).unwrap();
    let again: Vec<String> = server.paths()[before..].to_vec();
    let again: HashSet<&str> = again.iter().map(String::as_str).collect();
    assert_eq!(
        again,
        HashSet::from(["/i.imgur.com/slow.jpg", "/i.imgur.com/cut.jpg"]),
        "only the transient failures are retried"
    );
    assert_eq!(s2.images_from_earlier_runs, 9);
    assert_eq!(s2.images_ok, 9);
    assert_eq!(manifest(d), rows);

    // A kept file that went missing is fetched again.
    std::fs::remove_file(d.join("images/p14_0.png")).unwrap();
    let before = server.hits("/i.redd.it/r1.png");
    download::download(&opts).unwrap();
    assert_eq!(server.hits("/i.redd.it/r1.png"), before + 1);
    assert_eq!(manifest(d), rows);
}

#[test]
fn without_an_imgur_client_id_an_album_gives_its_cover() {
    let route: Route = Box::new(|path, _| {
        match path {
        "/imgur.com/a/Cov" => Reply::Body(
            "text/html",
            br#"<html><head><meta property="og:image" content="https://i.imgur.com/cover.jpg?fb"></head></html>"#.to_vec(),
        ),
        p if p.ends_with(".jpg") => image_reply(p),
        _ => Reply::Status(404, vec![]),
    }
    });
    let server = Server::start(route);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (c, s) = write_dumps(
        d,
        &[
            ("q1", "https://imgur.com/a/Cov", ""),
            ("q2", "https://imgur.com/a/Gone", ""),
        ],
    );
    offline(d, &c, &s);
    let mut opts = DownloadOptions::new(d.to_owned());
    opts.fetch = fast_fetch(&server);
    opts.imgur_client_id = None;
    let s = download::download(&opts).unwrap();
    assert_eq!(s.images_ok, 1);
    assert_eq!(s.albums_cover_only, 1);
    assert_eq!(s.failed.get("album: http 404"), Some(&1), "{s:?}");
    assert_eq!(server.hits("/i.imgur.com/cover.jpg"), 1);
    // A rerun asks for neither album again: one is resolved, the other failed for good.
    let s2 = download::download(&opts).unwrap();
    assert_eq!(server.hits("/imgur.com/a/Cov"), 1);
    assert_eq!(server.hits("/imgur.com/a/Gone"), 1);
    assert_eq!(s2.failed.get("album: http 404"), Some(&1), "{s2:?}");
    assert_eq!(s2.images_ok, 1);
    let text = download::describe(&s);
    assert!(text.contains("IMGUR_CLIENT_ID"), "{text}");
}

/// Generated dump (zstd --long=31) → offline step → `runner ingest download` killed with
/// SIGKILL mid-way → rerun: the manifest equals an uninterrupted run's, nothing settled before
/// the kill is fetched again, only the in-flight downloads are; then the runner trains on it.
#[test]
fn a_killed_download_resumes_with_nothing_lost_or_doubled_and_trains() {
    let route: Route = Box::new(|path, _| {
        if let Some(rest) = path.strip_prefix("/api.imgur.com/3/album/") {
            let id = rest.split('/').next().unwrap();
            let body = format!(
                r#"{{"data":[{{"link":"https://i.imgur.com/{id}x.jpg"}},{{"link":"https://i.imgur.com/{id}y.png"}}]}}"#
            );
            return Reply::Body("application/json", body.into_bytes());
        }
        std::thread::sleep(Duration::from_millis(15));
        if path.ends_with(".jpg") || path.ends_with(".png") {
            image_reply(path)
        } else {
            Reply::Status(404, vec![])
        }
    });
    let server = Server::start(route);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let spec = rateme::ingest::fake::FakeDump {
        comments: 3000,
        per_post: 12,
        malformed_every: 0,
        seed: 9,
    };
    let mut comments = Vec::new();
    spec.write_comments(&mut comments).unwrap();
    common::compress_long31(&comments, &w.join("c.zst"));
    let mut subs = Vec::new();
    spec.write_submissions(&mut subs).unwrap();
    common::compress_long31(&subs, &w.join("s.zst"));
    let runner = || std::process::Command::new(env!("CARGO_BIN_EXE_runner"));
    let map = format!("https://=http://127.0.0.1:{}/", server.port);
    for out in ["killed", "straight"] {
        let o = runner()
            .args(["ingest", "reddit", "--posts", "all-images", "--comments"])
            .arg(w.join("c.zst"))
            .arg("--submissions")
            .arg(w.join("s.zst"))
            .arg("--out")
            .arg(w.join(out))
            .output()
            .unwrap();
        common::assert_ok(&o);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("submissions: 250 read"), "{text}");
    }
    let download = |out: &str| {
        let mut c = runner();
        c.args([
            "ingest",
            "download",
            "--concurrency",
            "4",
            "--per-host-interval-ms",
            "0",
            "--url-map",
            &map,
            "--out",
        ])
        .arg(w.join(out))
        .env("IMGUR_CLIENT_ID", "test-client");
        c
    };
    let killed = w.join("killed");
    let mut child = download("killed")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while journal(&killed).len() < 40 {
        assert!(Instant::now() < deadline, "the download made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let settled: HashSet<String> = journal(&killed)
        .iter()
        .filter_map(|e| match e {
            Entry::Ok { source, .. } => Some(source.clone()),
            _ => None,
        })
        .collect();
    assert!(!settled.is_empty());
    let before = server.paths().len();
    let o = download("killed").output().unwrap();
    common::assert_ok(&o);
    let after: Vec<String> = server.paths()[before..].to_vec();
    let refetched: Vec<&String> = after
        .iter()
        .filter(|p| settled.iter().any(|s| s.ends_with(p.as_str())))
        .collect();
    assert!(
        refetched.is_empty(),
        "settled images fetched again: {refetched:?}"
    );
    // Only downloads in flight at the kill are fetched twice.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in server.paths() {
        *counts.entry(p).or_default() += 1;
    }
    let twice = counts.values().filter(|&&n| n > 1).count();
    assert!(twice <= 4 + 4, "{twice} paths fetched twice");

    common::assert_ok(&download("straight").output().unwrap());
    let (a, b) = (manifest(&killed), manifest(&w.join("straight")));
    assert!(a.len() > 100, "{}", a.len());
    assert_eq!(a, b, "the resumed manifest equals an uninterrupted run's");
    let oks: Vec<(String, usize)> = journal(&killed)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Ok { post, index, .. } => Some((post, index)),
            _ => None,
        })
        .collect();
    let unique: HashSet<&(String, usize)> = oks.iter().collect();
    assert_eq!(unique.len(), oks.len(), "no image recorded twice");
    let leftovers: Vec<_> = std::fs::read_dir(killed.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let mut summary = String::new();
    std::fs::File::open(killed.join("summary.json"))
        .unwrap()
        .read_to_string(&mut summary)
        .unwrap();
    assert!(summary.contains("\"downloads\""));

    // The runner trains on the manifest.
    common::train_tiny_on(&killed.join(files::MANIFEST), w, "reddit");
}
