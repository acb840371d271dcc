//! The HTTP side: axum routes over a [`Ranker`], loopback by default. Files are served by image
//! index only (`/img/<id>`), never by a path from the request, and each is re-resolved inside
//! the folder at every request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppError, Ranker, Score, Settings};
use crate::folder::{self, FileState};
use crate::store::Store;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Session settings (folder, TrueSkill, seed).
    pub settings: Settings,
    /// The SQLite file.
    pub db: PathBuf,
    /// Where to listen (port 0: any free port).
    pub addr: SocketAddr,
}

/// Shared state: the ranker once the folder is loaded, the loading progress before.
pub struct Shared {
    ranker: Mutex<Option<Ranker>>,
    loading: Mutex<Option<(usize, usize)>>,
    load_error: Mutex<Option<String>>,
    thumbs: Mutex<HashMap<usize, Vec<u8>>>,
}

type AppState = Arc<Shared>;

/// Binds, prints the URL, loads the folder in the background and serves until killed.
pub fn serve(opts: ServeOptions) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|e| format!("{}: {e}", opts.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        if !addr.ip().is_loopback() {
            tracing::warn!(
                "listening on {addr}: anyone who can reach this address can vote and see the images"
            );
        }
        let shared = Arc::new(Shared {
            ranker: Mutex::new(None),
            loading: Mutex::new(Some((0, 0))),
            load_error: Mutex::new(None),
            thumbs: Mutex::new(HashMap::new()),
        });
        let loader = shared.clone();
        std::thread::spawn(move || load(&loader, opts.settings, &opts.db));
        println!("ranker: http://{addr}/");
        axum::serve(listener, router(shared))
            .await
            .map_err(|e| e.to_string())
    })
}

/// Lists and checks the folder (progress in `loading`), then opens the session.
fn load(shared: &Shared, settings: Settings, db: &std::path::Path) {
    let result = (|| {
        let root = settings.root.clone();
        let listed = folder::list(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        *shared.loading.lock().expect("loading") = Some((0, listed.len()));
        let store = Store::open(db).map_err(|e| e.to_string())?;
        let mut done = 0;
        let ranker = Ranker::open(settings, store, &listed, |p| {
            done += 1;
            if done % 16 == 0 {
                *shared.loading.lock().expect("loading") = Some((done, listed.len()));
            }
            folder::check(&root, p)
        })
        .map_err(|e| e.to_string())?;
        tracing::info!(
            images = ranker.images().len(),
            comparisons = ranker.comparisons(),
            "session loaded"
        );
        *shared.ranker.lock().expect("ranker") = Some(ranker);
        Ok::<(), String>(())
    })();
    if let Err(e) = result {
        eprintln!("ranker: {e}");
        *shared.load_error.lock().expect("error") = Some(e);
    }
    *shared.loading.lock().expect("loading") = None;
}

/// The routes.
pub fn router(shared: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Html(include_str!("../assets/compare.html")) }),
        )
        .route(
            "/rankings",
            get(|| async { Html(include_str!("../assets/rankings.html")) }),
        )
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../assets/app.js"),
                )
            }),
        )
        .route(
            "/assets/style.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    include_str!("../assets/style.css"),
                )
            }),
        )
        .route("/api/state", get(state))
        .route("/api/next", get(next))
        .route("/api/vote", post(vote))
        .route("/api/undo", post(undo))
        .route("/api/images/{id}/{action}", post(image_action))
        .route("/api/settings", post(settings))
        .route("/api/shuffle", post(shuffle))
        .route("/api/start-over", post(start_over))
        .route("/api/rankings", get(rankings))
        .route("/export/rankings.csv", get(export_rankings_csv))
        .route("/export/comparisons.csv", get(export_comparisons_csv))
        .route("/export/rankings.json", get(export_rankings_json))
        .route("/export/comparisons.json", get(export_comparisons_json))
        .route("/export/manifest.csv", get(export_manifest))
        .route("/import/comparisons", post(import))
        .route("/img/{id}", get(image))
        .route("/thumb/{id}", get(thumb))
        .with_state(shared)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// A refused request: its status and message (answered as `{"error": message}`).
struct Fail(StatusCode, String);

fn fail(status: StatusCode, message: impl Into<String>) -> Fail {
    Fail(status, message.into())
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

impl From<AppError> for Fail {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Bad(m) => fail(StatusCode::BAD_REQUEST, m),
            AppError::Store(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

/// Runs `f` on the loaded ranker on a blocking thread (SQLite commits block).
async fn with_ranker<T: Send + 'static>(
    shared: AppState,
    f: impl FnOnce(&mut Ranker) -> Result<T, Fail> + Send + 'static,
) -> Result<T, Fail> {
    tokio::task::spawn_blocking(move || {
        let mut guard = shared.ranker.lock().expect("ranker");
        match guard.as_mut() {
            Some(r) => f(r),
            None => {
                let err = shared.load_error.lock().expect("error").clone();
                Err(match err {
                    Some(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
                    None => fail(StatusCode::SERVICE_UNAVAILABLE, "still loading the folder"),
                })
            }
        }
    })
    .await
    .unwrap_or_else(|e| Err(fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())))
}

fn ok_json(v: Value) -> Response {
    axum::Json(v).into_response()
}

async fn state(State(s): State<AppState>) -> Response {
    let loading = *s.loading.lock().expect("loading");
    let load_error = s.load_error.lock().expect("error").clone();
    let loaded = s.ranker.lock().expect("ranker").is_some();
    if !loaded {
        return ok_json(json!({
            "folder": null, "images": 0, "active": 0, "unreadable": [], "comparisons": 0,
            "planned": 0, "loading": loading.map(|(d, t)| json!({"done": d, "total": t})),
            "error": load_error, "mode": null, "auto_shuffle": false, "mu0": 0.0, "sigma0": 0.0,
            "prior": null,
        }));
    }
    with_ranker(s, |r| {
        let unreadable: Vec<Value> = r
            .files()
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                FileState::Ok { .. } => None,
                FileState::Unreadable(p) => {
                    Some(json!({"id": i, "name": r.images()[i], "problem": p}))
                }
                FileState::Missing => Some(
                    json!({"id": i, "name": r.images()[i], "problem": "missing from the folder"}),
                ),
            })
            .collect();
        let env = r.settings().env;
        Ok(ok_json(json!({
            "folder": r.settings().root.display().to_string(),
            "images": r.images().len(),
            "active": r.active_count(),
            "unreadable": unreadable,
            "comparisons": r.comparisons(),
            "planned": r.planned(),
            "loading": null,
            "mode": r.mode_name(),
            "auto_shuffle": r.auto_shuffle(),
            "mu0": env.mu,
            "sigma0": env.sigma,
            "prior": r.prior().map(|p| json!({
                "run": p.run, "correlation": p.correlation, "images": p.scores.len(),
            })),
        })))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    size: Option<usize>,
}

async fn next(State(s): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    if s.ranker.lock().expect("ranker").is_none() {
        return ok_json(json!({"items": [], "done": false}));
    }
    let size = q.size.unwrap_or(2).clamp(2, 4);
    with_ranker(s, move |r| {
        let items = r.next(size);
        let done = items.is_empty();
        let items: Vec<Value> = items
            .into_iter()
            .map(|i| json!({"id": i, "name": r.images()[i], "url": format!("/img/{i}")}))
            .collect();
        Ok(ok_json(json!({"items": items, "done": done})))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Fail> {
    serde_json::from_slice(body)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

fn rater_name(r: Option<String>) -> String {
    let r = r.unwrap_or_default();
    let r = r.trim();
    if r.is_empty() {
        "anonymous".into()
    } else {
        r.chars().take(64).collect()
    }
}

#[derive(Deserialize)]
struct VoteBody {
    uid: String,
    #[serde(default)]
    rater: Option<String>,
    items: Vec<usize>,
    winner: Option<usize>,
}

async fn vote(State(s): State<AppState>, body: Bytes) -> Response {
    let v: VoteBody = match parse(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    with_ranker(s, move |r| {
        let n = r.vote(&v.uid, &rater_name(v.rater), &v.items, v.winner)?;
        Ok(ok_json(json!({"ok": true, "comparisons": n})))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct RaterBody {
    #[serde(default)]
    rater: Option<String>,
}

async fn undo(State(s): State<AppState>, body: Bytes) -> Response {
    let b: RaterBody = if body.is_empty() {
        RaterBody { rater: None }
    } else {
        match parse(&body) {
            Ok(b) => b,
            Err(e) => return e.into_response(),
        }
    };
    with_ranker(s, move |r| {
        let undone = r.undo(&rater_name(b.rater))?;
        Ok(ok_json(json!({
            "ok": true,
            "undone": undone.map(|(items, winner)| json!({"items": items, "winner": winner})),
        })))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn image_action(
    State(s): State<AppState>,
    UrlPath((id, action)): UrlPath<(usize, String)>,
    body: Bytes,
) -> Response {
    let rater = serde_json::from_slice::<RaterBody>(&body)
        .ok()
        .and_then(|b| b.rater);
    with_ranker(s, move |r| {
        r.image_action(id, &action, &rater_name(rater))?;
        Ok(ok_json(json!({"ok": true})))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct SettingsBody {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    auto_shuffle: Option<bool>,
}

async fn settings(State(s): State<AppState>, body: Bytes) -> Response {
    let b: SettingsBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    with_ranker(s, move |r| {
        r.set_mode(b.mode.as_deref(), b.auto_shuffle)?;
        Ok(ok_json(json!({"ok": true})))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn shuffle(State(s): State<AppState>) -> Response {
    with_ranker(s, |r| {
        r.shuffle();
        Ok(ok_json(json!({"ok": true})))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn start_over(State(s): State<AppState>, body: Bytes) -> Response {
    let rater = serde_json::from_slice::<RaterBody>(&body)
        .ok()
        .and_then(|b| b.rater);
    with_ranker(s, move |r| {
        r.start_over(&rater_name(rater))?;
        Ok(ok_json(json!({"ok": true})))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn rankings(State(s): State<AppState>) -> Response {
    with_ranker(s, |r| Ok(ok_json(json!({"rows": r.rankings()}))))
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn download(content_type: &'static str, name: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                match name {
                    "rankings.csv" => "attachment; filename=\"rankings.csv\"",
                    "comparisons.csv" => "attachment; filename=\"comparisons.csv\"",
                    "rankings.json" => "attachment; filename=\"rankings.json\"",
                    "comparisons.json" => "attachment; filename=\"comparisons.json\"",
                    _ => "attachment; filename=\"manifest.csv\"",
                },
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct RankingsQuery {
    #[serde(default)]
    score: Option<String>,
}

async fn export_rankings_csv(
    State(s): State<AppState>,
    Query(q): Query<RankingsQuery>,
) -> Response {
    let score = match q.score.as_deref() {
        None => Score::Fit,
        Some(other) => match Score::parse(other) {
            Some(score) => score,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "score={other}: use fit (the fitted posterior, the default) or online (TrueSkill as image-ranker computed it)"
                    ),
                );
            }
        },
    };
    with_ranker(s, move |r| {
        Ok(download(
            "text/csv; charset=utf-8",
            "rankings.csv",
            r.rankings_csv(score),
        ))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn export_comparisons_csv(State(s): State<AppState>) -> Response {
    with_ranker(s, |r| {
        Ok(download(
            "text/csv; charset=utf-8",
            "comparisons.csv",
            r.comparisons_csv(),
        ))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn export_rankings_json(State(s): State<AppState>) -> Response {
    with_ranker(s, |r| {
        let body = serde_json::to_string_pretty(&r.rankings()).expect("rows serialise");
        Ok(download("application/json", "rankings.json", body))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn export_comparisons_json(State(s): State<AppState>) -> Response {
    with_ranker(s, |r| {
        let rows: Vec<Value> = r
            .effective_log()
            .into_iter()
            .map(|rec| match &rec.event {
                crate::store::Event::Vote { items, winner } => json!({
                    "seq": rec.seq, "rater": rec.rater, "at": rec.at,
                    "items": items.iter().map(|&i| &r.images()[i]).collect::<Vec<_>>(),
                    "winner": winner.map(|w| &r.images()[w]),
                }),
                crate::store::Event::Remove { image } => json!({
                    "seq": rec.seq, "rater": rec.rater, "at": rec.at, "removed": r.images()[*image],
                }),
                _ => Value::Null,
            })
            .collect();
        let body = serde_json::to_string_pretty(&rows).expect("rows serialise");
        Ok(download("application/json", "comparisons.json", body))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct ManifestQuery {
    #[serde(default)]
    score: Option<String>,
}

async fn export_manifest(State(s): State<AppState>, Query(q): Query<ManifestQuery>) -> Response {
    let conservative = match q.score.as_deref() {
        None | Some("mu") => false,
        Some("conservative") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("score={other}: use mu or conservative"),
            );
        }
    };
    with_ranker(s, move |r| {
        Ok(download(
            "text/csv; charset=utf-8",
            "manifest.csv",
            r.manifest_csv(conservative),
        ))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct ImportQuery {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    rater: Option<String>,
}

async fn import(State(s): State<AppState>, Query(q): Query<ImportQuery>, body: Bytes) -> Response {
    let replace = match q.mode.as_deref() {
        None | Some("append") => false,
        Some("replace") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("mode={other}: use append or replace"),
            );
        }
    };
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return error(StatusCode::BAD_REQUEST, "the CSV is not UTF-8");
    };
    with_ranker(s, move |r| {
        let (imported, skipped) = r.import(&text, replace, &rater_name(q.rater))?;
        Ok(ok_json(
            json!({"ok": true, "imported": imported, "skipped": skipped}),
        ))
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn image(State(s): State<AppState>, UrlPath(id): UrlPath<String>) -> Response {
    let Ok(id) = id.parse::<usize>() else {
        return error(StatusCode::NOT_FOUND, "no such image");
    };
    with_ranker(s, move |r| {
        let path = r
            .file(id)
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, "no such image"))?;
        let bytes = std::fs::read(&path).map_err(|e| {
            fail(
                StatusCode::NOT_FOUND,
                format!("cannot read image {id}: {e}"),
            )
        })?;
        let mime = folder::mime(&r.images()[id]);
        Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn thumb(State(s): State<AppState>, UrlPath(id): UrlPath<String>) -> Response {
    let Ok(id) = id.parse::<usize>() else {
        return error(StatusCode::NOT_FOUND, "no such image");
    };
    if let Some(bytes) = s.thumbs.lock().expect("thumbs").get(&id).cloned() {
        return ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response();
    }
    let cache = s.clone();
    let path = match with_ranker(s, move |r| {
        r.file(id)
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, "no such image"))
    })
    .await
    {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let made = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let img = image::open(&path).map_err(|e| e.to_string())?;
        let small = img.thumbnail(192, 192).to_rgb8();
        let mut out = std::io::Cursor::new(Vec::new());
        small
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    })
    .await;
    match made {
        Ok(Ok(bytes)) => {
            cache
                .thumbs
                .lock()
                .expect("thumbs")
                .insert(id, bytes.clone());
            ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response()
        }
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, format!("image {id}: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
