//! `runner rank` as a user and an attacker meet it: a real server process on loopback, raw HTTP.
//! Traversal attempts get nothing outside the folder; eight voters at once, a SIGKILL and a
//! restart lose no acknowledged vote and double none; votes from a simulated rater export to a
//! manifest the runner trains on.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A raw HTTP client of the server on `port`.
#[derive(Clone, Copy)]
struct Client {
    port: u16,
}

/// The server process (killed when dropped) and its client.
struct Ranker {
    child: Child,
    client: Client,
}

impl std::ops::Deref for Ranker {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Ranker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `runner rank <folder>` on a free port and waits until the folder is loaded.
fn start(folder: &Path, db: &Path) -> Ranker {
    start_with(folder, db, &[])
}

/// [`start`] with more arguments.
fn start_with(folder: &Path, db: &Path, extra: &[&std::ffi::OsStr]) -> Ranker {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["rank", "--port", "0", "--db"])
        .arg(db)
        .arg(folder)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("ranker: http://127.0.0.1:")
        .and_then(|r| r.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let r = Ranker {
        child,
        client: Client { port },
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, body)) = r.get("/api/state")
            && serde_json::from_slice::<Value>(&body).unwrap()["loading"].is_null()
        {
            return r;
        }
        assert!(Instant::now() < deadline, "the folder never loaded");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Client {
    /// One raw HTTP request (the path is sent exactly as given); (status, body).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no header end"))?;
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status"))?;
        Ok((status, raw[split + 4..].to_vec()))
    }

    fn get(&self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        self.request("GET", path, b"")
    }

    fn json(&self, method: &str, path: &str, body: Value) -> std::io::Result<Value> {
        let (status, bytes) = self.request(method, path, body.to_string().as_bytes())?;
        let v: Value = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        if status != 200 {
            return Err(std::io::Error::other(format!("{status}: {v}")));
        }
        Ok(v)
    }
}

fn images(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        image::RgbImage::from_pixel(8, 6, image::Rgb([(i * 9) as u8, 40, 200]))
            .save(dir.join(format!("im{i:03}.png")))
            .unwrap();
    }
}

#[test]
fn traversal_attempts_get_nothing_outside_the_folder() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("pics");
    images(&root, 3);
    let secret = "TOP-SECRET-4b1d";
    std::fs::write(outer.path().join("secret.txt"), secret).unwrap();
    std::fs::write(outer.path().join("secret.png"), secret).unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret.png"), root.join("escape.png")).unwrap();
    std::os::unix::fs::symlink(outer.path(), root.join("up")).unwrap();
    std::fs::write(root.join("broken.png"), b"not an image").unwrap();
    let r = start(&root, &outer.path().join("db.sqlite"));

    let state: Value = serde_json::from_slice(&r.get("/api/state").unwrap().1).unwrap();
    assert_eq!(state["images"], 4, "{state}"); // 3 images + the corrupt one, listed
    assert_eq!(state["unreadable"][0]["name"], "broken.png", "{state}");
    let prefixes = [
        "/img/",
        "/thumb/",
        "/assets/",
        "/",
        "/api/images/",
        "/export/",
        "//",
        "/img/0/",
    ];
    let payloads = [
        "../secret.txt",
        "..%2fsecret.txt",
        "%2e%2e/secret.txt",
        "%2e%2e%2fsecret.txt",
        "..%252fsecret.txt",
        "....//secret.txt",
        "..\\secret.txt",
        "%2e%2e%5csecret.txt",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "../../../../../../etc/passwd",
        "..%c0%afsecret.txt",
        "escape.png",
        "up/secret.png",
        "0/../../secret.txt",
        "-1",
        "18446744073709551616",
        "9",
        "%00",
        "0%00.png",
    ];
    let mut tried = 0;
    for p in prefixes {
        for q in payloads {
            let path = format!("{p}{q}");
            let (status, body) = r.get(&path).unwrap();
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains(secret) && !text.contains("root:x:0:0"),
                "{path} leaked: {status}"
            );
            assert!(status != 200 || !text.contains("TOP"), "{path}");
            tried += 1;
        }
    }
    assert!(tried >= 100);
    // What may be served is served. Ids follow the sorted names: broken, im000, im001, im002.
    assert_eq!(state["unreadable"][0]["id"], 0, "{state}");
    assert_eq!(r.get("/img/1").unwrap().0, 200);
    let (status, _) = r.get("/img/0").unwrap();
    assert_eq!(
        status, 404,
        "an unreadable file is listed, not served as an image"
    );
    // A file swapped for an outward symlink after the scan is not served either.
    std::fs::remove_file(root.join("im001.png")).unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret.png"), root.join("im001.png")).unwrap();
    let (status, body) = r.get("/img/2").unwrap();
    assert!(status == 404 && !String::from_utf8_lossy(&body).contains(secret));
}

#[test]
fn eight_voters_and_a_sigkill_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pics");
    images(&root, 30);
    let db = dir.path().join("db.sqlite");
    let server = Arc::new(Mutex::new(start(&root, &db)));
    let port = server.lock().unwrap().port;
    // Each voter: (uid, items, winner) of every vote it sent, and whether it was acknowledged.
    type Sent = Vec<(String, Vec<u64>, u64, bool)>;
    let voters: Vec<std::thread::JoinHandle<Sent>> = (0..8)
        .map(|v| {
            std::thread::spawn(move || {
                let r = Client { port };
                let mut sent: Sent = Vec::new();
                for k in 0..40 {
                    let Ok(next) = r.json("GET", "/api/next?size=2", json!(null)) else {
                        break;
                    };
                    let items: Vec<u64> = next["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i["id"].as_u64().unwrap())
                        .collect();
                    let uid = format!("voter{v}-{k}");
                    let winner = items[k % 2];
                    let body = json!({"uid": uid, "rater": format!("voter{v}"), "items": items, "winner": winner});
                    let ok = r.json("POST", "/api/vote", body).is_ok();
                    sent.push((uid, items, winner, ok));
                    if !ok {
                        break;
                    }
                }
                sent
            })
        })
        .collect();
    // Kill the server mid-way.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = server.lock().unwrap();
        let state: Value = serde_json::from_slice(&s.get("/api/state").unwrap().1).unwrap();
        if state["comparisons"].as_u64().unwrap() >= 60 {
            break;
        }
        assert!(Instant::now() < deadline);
        drop(s);
        std::thread::sleep(Duration::from_millis(2));
    }
    server.lock().unwrap().child.kill().unwrap(); // SIGKILL
    let sent: Vec<Sent> = voters.into_iter().map(|h| h.join().unwrap()).collect();
    let acked = sent.iter().flatten().filter(|s| s.3).count();
    let unacked: Vec<&(String, Vec<u64>, u64, bool)> =
        sent.iter().flatten().filter(|s| !s.3).collect();
    // The server had committed 60 votes; each of the 8 voters may have one of them whose answer
    // the kill cut off (committed, not acknowledged), so at least 52 were acknowledged.
    assert!(acked + 8 >= 60, "{acked}");

    // Restart; every voter retries its unacknowledged vote with the same uid.
    let r = start(&root, &db);
    let state: Value = serde_json::from_slice(&r.get("/api/state").unwrap().1).unwrap();
    let after_restart = state["comparisons"].as_u64().unwrap() as usize;
    assert!(
        after_restart >= acked && after_restart <= acked + unacked.len(),
        "acknowledged {acked}, in flight {}, found {after_restart}",
        unacked.len()
    );
    for (uid, items, winner, _) in &unacked {
        let v = json!({"uid": uid, "rater": "retry", "items": items, "winner": winner});
        r.json("POST", "/api/vote", v).unwrap();
    }
    let state: Value = serde_json::from_slice(&r.get("/api/state").unwrap().1).unwrap();
    assert_eq!(
        state["comparisons"].as_u64().unwrap() as usize,
        acked + unacked.len(),
        "each vote exactly once"
    );
    let comparisons: Value =
        serde_json::from_slice(&r.get("/export/comparisons.json").unwrap().1).unwrap();
    assert_eq!(comparisons.as_array().unwrap().len(), acked + unacked.len());
}

/// Deterministic uniform in [0, 1) from a counter.
fn unit(k: u64) -> f64 {
    let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn simulated_votes_export_a_manifest_the_runner_trains_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec: rateme::spec::SyntheticSpec =
        toml::from_str("count = 24\nsize = 24\nseed = 3").unwrap();
    let table = d.join("data/ratings.csv");
    rateme::data::synthetic::ensure(&spec, &table).unwrap();
    let truth: std::collections::HashMap<String, f64> = std::fs::read_to_string(&table)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].trim_start_matches("images/").to_owned(),
                f[1].parse().unwrap(),
            )
        })
        .collect();
    let folder = d.join("data/images");
    let db = d.join("rank.sqlite");
    {
        let r = start(&folder, &db);
        let names: Vec<String> = {
            let rows = r.json("GET", "/api/rankings", json!(null)).unwrap();
            let mut rows: Vec<(u64, String)> = rows["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["id"].as_u64().unwrap(),
                        x["name"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            rows.sort();
            rows.into_iter().map(|x| x.1).collect()
        };
        for k in 0..180u64 {
            let size = if k % 6 == 5 { 4 } else { 2 };
            let next = r
                .json("GET", &format!("/api/next?size={size}"), json!(null))
                .unwrap();
            let items: Vec<u64> = next["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_u64().unwrap())
                .collect();
            // A rater who sees the true score through a little noise.
            let winner = *items
                .iter()
                .max_by(|&&a, &&b| {
                    let score = |i: u64| truth[&names[i as usize]] + 0.3 * (unit(k * 8 + i) - 0.5);
                    score(a).total_cmp(&score(b))
                })
                .unwrap();
            let body =
                json!({"uid": format!("sim{k}"), "rater": "sim", "items": items, "winner": winner});
            r.json("POST", "/api/vote", body).unwrap();
        }
        check_rankings_exports(&r);
    }
    let manifest = d.join("manifest.csv");
    let o = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["rank", "--db"])
        .arg(&db)
        .arg(&folder)
        .arg("--export-manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    common::assert_ok(&o);
    let samples = rateme::data::read_table(&manifest, d).unwrap();
    assert_eq!(samples.len(), 24);
    let (mu, real): (Vec<f32>, Vec<f32>) = samples
        .iter()
        .map(|s| {
            let name = s.path.file_name().unwrap().to_string_lossy().into_owned();
            (s.target, truth[&name] as f32)
        })
        .unzip();
    let rho = rateme::train::metrics::spearman(&mu, &real);
    assert!(
        rho > 0.8,
        "Spearman of the ranking against the truth: {rho}"
    );

    common::train_tiny_on(&manifest, d, "ranked");
    check_model_prior(&folder, &d.join("runs/small"), d);
}

/// `runner rank --prior <run>`: every image starts from the run's calibrated score, the page's
/// state names the prior, and a restart without `--prior` keeps it.
fn check_model_prior(folder: &Path, run: &Path, d: &Path) {
    assert!(run.join("summary.json").exists(), "{}", run.display());
    let db = d.join("prior.sqlite");
    let rows = |r: &Ranker| -> Vec<Value> {
        r.json("GET", "/api/rankings", json!(null)).unwrap()["rows"]
            .as_array()
            .unwrap()
            .clone()
    };
    let first = {
        let r = start_with(folder, &db, &["--prior".as_ref(), run.as_os_str()]);
        let state: Value = serde_json::from_slice(&r.get("/api/state").unwrap().1).unwrap();
        let prior = &state["prior"];
        assert_eq!(prior["images"], json!(24), "{state}");
        let r_cal = prior["correlation"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&r_cal), "{state}");
        let rows = rows(&r);
        // Before any vote the fitted scores are the priors, so the ranking is the model's.
        let score = |x: &Value, k: &str| x[k].as_f64().unwrap();
        for w in rows.windows(2) {
            assert!(score(&w[0], "prior_score") >= score(&w[1], "prior_score"));
        }
        for x in &rows {
            assert!(
                (score(x, "fit_mu") - score(x, "prior_mu")).abs() < 1e-9,
                "{x}"
            );
            assert!((score(x, "mu") - score(x, "prior_mu")).abs() < 1e-12, "{x}");
            let width = 8.33 * (1.0 - r_cal * r_cal).sqrt().max(0.1);
            assert!((score(x, "prior_sigma") - width).abs() < 1e-9, "{x}");
        }
        rows
    };
    let again = start(folder, &db);
    assert_eq!(rows(&again), first, "the prior did not survive a restart");
    // A missing run is one clear line before anything starts.
    let o = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["rank", "--port", "0", "--prior"])
        .arg(d.join("no-such-run"))
        .arg(folder)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("summary.json") && err.contains("no-such-run"),
        "{err}"
    );
}

/// The rankings exports rank by the fitted posterior unless asked for the online values, and
/// keep image-ranker's five columns first.
fn check_rankings_exports(r: &Ranker) {
    let table = |path: &str| -> Vec<Vec<String>> {
        let (status, csv) = r.get(path).unwrap();
        assert_eq!(status, 200, "{path}");
        let text = String::from_utf8(csv).unwrap();
        assert!(
            text.starts_with("Image,ELO,Uncertainty,Upvotes,Downvotes,Comparisons,FitMu,FitSigma,FitConservative,OnlineMu,OnlineSigma\n"),
            "{path}: {}",
            text.lines().next().unwrap_or_default()
        );
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    };
    let num = |row: &[String], k: usize| -> f64 { row[k].parse().unwrap() };
    let descending =
        |rows: &[Vec<String>], k: usize| rows.windows(2).all(|w| num(&w[0], k) >= num(&w[1], k));
    let fit = table("/export/rankings.csv");
    assert!(fit.iter().all(|row| row[1] == row[6] && row[2] == row[7]));
    assert!(
        descending(&fit, 6),
        "rankings.csv is not ordered by the fitted score"
    );
    // The fitted and the online orders differ on these votes, so the test tells them apart.
    assert!(
        !descending(&fit, 9),
        "the fitted and online orders agree: no test"
    );
    let online = table("/export/rankings.csv?score=online");
    assert!(
        online
            .iter()
            .all(|row| row[1] == row[9] && row[2] == row[10])
    );
    assert!(descending(&online, 9));
    let (status, body) = r.get("/export/rankings.csv?score=elo").unwrap();
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("use fit"));
    let rows = r.json("GET", "/api/rankings", json!(null)).unwrap();
    let fit_mu: Vec<f64> = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["fit_mu"].as_f64().unwrap())
        .collect();
    assert!(
        fit_mu.windows(2).all(|w| w[0] >= w[1]),
        "/api/rankings order"
    );
}

#[test]
fn a_thousand_votes_through_the_api_never_show_a_pair_twice_in_a_row() {
    // 80 images (3160 pairs), a noisy simulated rater, every 9th pair skipped, every 50th vote
    // undone, every 7th view a group of four.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("pics");
    images(&folder, 80);
    let r = start(&folder, &dir.path().join("db.sqlite"));
    let sorted = |v: &Value| -> Vec<u64> {
        let mut ids: Vec<u64> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_u64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let mut shown: Vec<Vec<u64>> = Vec::new();
    let (mut votes, mut k, mut undos) = (0, 0u64, 0);
    while votes < 1000 {
        k += 1;
        let size = if k % 7 == 0 { 4 } else { 2 };
        let next = r
            .json("GET", &format!("/api/next?size={size}"), json!(null))
            .unwrap();
        let items = sorted(&next);
        assert_eq!(items.len(), size, "{next}");
        // The true score is the image's index; the rater errs one time in five.
        let best = *items.iter().max().unwrap();
        let worst = *items.iter().min().unwrap();
        let winner = match k {
            _ if k % 9 == 0 => None,
            _ if unit(k) < 0.2 => Some(worst),
            _ => Some(best),
        };
        let body = json!({"uid": format!("v{k}"), "items": items, "winner": winner});
        r.json("POST", "/api/vote", body).unwrap();
        shown.push(items);
        if winner.is_some() {
            votes += 1;
            if k % 50 == 0 {
                // Undo: the undone pair may come back (that is what undo is for).
                r.json("POST", "/api/undo", json!({})).unwrap();
                votes -= 1;
                undos += 1;
                shown.push(Vec::new());
            }
        }
    }
    let in_a_row = shown
        .windows(2)
        .filter(|w| !w[0].is_empty() && w[0] == w[1])
        .count();
    assert_eq!(in_a_row, 0, "a pair or group shown twice in a row");
    let pairs: Vec<&Vec<u64>> = shown.iter().filter(|g| g.len() == 2).collect();
    let distinct: std::collections::HashSet<&Vec<u64>> = pairs.iter().copied().collect();
    let again = pairs.len() - distinct.len();
    assert!(
        again * 20 <= pairs.len(),
        "{again} of {} pairs shown again",
        pairs.len()
    );
    let state: Value = serde_json::from_slice(&r.get("/api/state").unwrap().1).unwrap();
    assert_eq!(state["comparisons"], json!(1000));
    assert!(undos > 10, "{undos} undos");
}
