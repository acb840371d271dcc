//! A small blocking client for MLflow's REST API 2.0: experiments, runs, `log-batch`, status,
//! and file uploads through the server's proxied artifact API.

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use super::record::{Float, Record, RunStatus};

/// Why a call did not succeed, sorted by what the sender should do about it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Try again later: no connection, a timeout, 5xx, 429 (with the server's Retry-After).
    #[error("{message}")]
    Unreachable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The server refused this content (400-class): retrying the same request cannot help.
    #[error("{message}")]
    Rejected { message: String },
    /// Nothing will get through until someone acts (credentials, wrong URL, deleted
    /// experiment): stop sending, keep the records.
    #[error("{message}")]
    Fatal { message: String },
}

/// Credentials from the environment (MLflow's variable names). Never printed.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` (or `user:pass@` in the URI).
    Basic { user: String, password: String },
    /// `MLFLOW_TRACKING_TOKEN`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Basic { .. } => "Auth::Basic(<redacted>)",
            Auth::Bearer(_) => "Auth::Bearer(<redacted>)",
        })
    }
}

impl Auth {
    /// Credentials from the environment; user info in `uri` is the fallback for basic auth.
    pub fn from_env(uri: &str) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            return Auth::Bearer(token);
        }
        if let (Some(user), Some(password)) = (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            return Auth::Basic { user, password };
        }
        match Url::parse(uri) {
            Ok(u) if !u.username().is_empty() => Auth::Basic {
                user: u.username().to_owned(),
                password: u.password().unwrap_or_default().to_owned(),
            },
            _ => Auth::None,
        }
    }
}

/// `uri` without user info, query or trailing slash: safe to print and to store.
pub fn redact(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => uri.trim_end_matches('/').to_owned(),
    }
}

/// What `runs/create` and `runs/get` return that rateme uses.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// Artifact root, e.g. `mlflow-artifacts:/1/<run id>/artifacts`.
    pub artifact_uri: String,
}

/// A client for one server.
pub struct Client {
    http: Http,
    base: Url,
    auth: Auth,
}

impl Client {
    /// A client for `uri` (`http(s)://host:port[/prefix]`) with `auth`.
    pub fn new(uri: &str, auth: Auth) -> Result<Self, ApiError> {
        let mut base = Url::parse(&redact(uri)).map_err(|e| ApiError::Fatal {
            message: format!("tracking URI `{}` is not a URL: {e}", redact(uri)),
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = Http::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("rateme/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Fatal {
                message: format!("HTTP client: {e}"),
            })?;
        Ok(Self { http, base, auth })
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("relative API path")
    }

    fn authed(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.auth {
            Auth::None => req,
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::Bearer(token) => req.bearer_auth(token),
        }
    }

    fn send(&self, req: RequestBuilder, what: &str) -> Result<Response, ApiError> {
        let resp = self.authed(req).send().map_err(|e| ApiError::Unreachable {
            message: format!("{what}: {}", error_text(&e)),
            retry_after: None,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = rateme_util::http::retry_after(
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            std::time::SystemTime::now(),
        );
        let body = resp.text().unwrap_or_default();
        let detail = serde_json::from_str::<Value>(&body)
            .ok()
            .map(|v| {
                format!(
                    "{} {}",
                    v["error_code"].as_str().unwrap_or_default(),
                    v["message"].as_str().unwrap_or_default()
                )
                .trim()
                .to_owned()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| body.chars().take(200).collect());
        let message = format!("{what}: HTTP {status}: {detail}");
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => ApiError::Unreachable {
                message,
                retry_after,
            },
            s if s.is_server_error() => ApiError::Unreachable {
                message,
                retry_after,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::Fatal {
                message: format!(
                    "{message}; set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
                ),
            },
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                if !body.contains("error_code") =>
            {
                ApiError::Fatal {
                    message: format!("{message}; is {} an MLflow tracking server?", self.base),
                }
            }
            _ => ApiError::Rejected { message },
        })
    }

    fn call(&self, method: Method, endpoint: &str, body: &Value) -> Result<Value, ApiError> {
        let url = self.url(&format!("api/2.0/mlflow/{endpoint}"));
        let req = if method == Method::GET {
            let mut url = url;
            if let Some(map) = body.as_object() {
                let mut q = url.query_pairs_mut();
                for (k, v) in map {
                    q.append_pair(k, v.as_str().unwrap_or(&v.to_string()));
                }
            }
            self.http.get(url)
        } else {
            self.http.request(method, url).json(body)
        };
        let resp = self.send(req, endpoint)?;
        let text = resp.text().map_err(|e| ApiError::Unreachable {
            message: format!("{endpoint}: reading the reply: {}", error_text(&e)),
            retry_after: None,
        })?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ApiError::Fatal {
            message: format!(
                "{endpoint}: the reply is not JSON ({e}); is {} an MLflow tracking server?",
                self.base
            ),
        })
    }

    /// The id of experiment `name`, created when missing.
    pub fn experiment_id(&self, name: &str) -> Result<String, ApiError> {
        let get = || {
            self.call(
                Method::GET,
                "experiments/get-by-name",
                &json!({ "experiment_name": name }),
            )
        };
        let found = match get() {
            Ok(v) => Some(v),
            Err(ApiError::Rejected { message }) if message.contains("RESOURCE_DOES_NOT_EXIST") => {
                None
            }
            Err(e) => return Err(e),
        };
        let exp = match found {
            Some(v) => v,
            // Tagged as model training, so MLflow 3's UI opens it on its runs, not on GenAI
            // traces.
            None => match self.call(
                Method::POST,
                "experiments/create",
                &json!({
                    "name": name,
                    "tags": [{ "key": "mlflow.experimentKind", "value": "custom_model_development" }],
                }),
            ) {
                Ok(v) => return string_at(&v, &["experiment_id"]),
                // Created by someone else in between.
                Err(ApiError::Rejected { message })
                    if message.contains("RESOURCE_ALREADY_EXISTS") =>
                {
                    get()?
                }
                Err(e) => return Err(e),
            },
        };
        if exp["experiment"]["lifecycle_stage"].as_str() == Some("deleted") {
            return Err(ApiError::Fatal {
                message: format!(
                    "MLflow experiment `{name}` is deleted; restore it (mlflow experiments restore) or set tracking.experiment to another name"
                ),
            });
        }
        string_at(&exp, &["experiment", "experiment_id"])
    }

    /// The run of experiment `experiment_id` tagged `rateme.uid = uid`, if there is one.
    pub fn find_run(&self, experiment_id: &str, uid: &str) -> Result<Option<RunInfo>, ApiError> {
        let v = self.call(
            Method::POST,
            "runs/search",
            &json!({
                "experiment_ids": [experiment_id],
                "filter": format!("tags.`rateme.uid` = '{}'", uid.replace('\'', "")),
                "max_results": 1,
                "run_view_type": "ALL",
            }),
        )?;
        match v["runs"].as_array().and_then(|r| r.first()) {
            Some(run) => Ok(Some(run_info(run)?)),
            None => Ok(None),
        }
    }

    /// Creates a run.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time: i64,
        tags: &[(String, String)],
    ) -> Result<RunInfo, ApiError> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let v = self.call(
            Method::POST,
            "runs/create",
            &json!({
                "experiment_id": experiment_id,
                "run_name": run_name,
                "start_time": start_time,
                "tags": tags,
            }),
        )?;
        run_info(&v["run"])
    }

    /// Sends metrics, params and tags in one `runs/log-batch` request (the caller packs them
    /// within the limits, see `batch::pack`).
    pub fn log_batch(&self, run_id: &str, records: &[&Record]) -> Result<(), ApiError> {
        let (mut metrics, mut params, mut tags) = (Vec::new(), Vec::new(), Vec::new());
        for r in records {
            match r {
                Record::Metric {
                    key,
                    value,
                    step,
                    timestamp,
                } => metrics.push(json!({
                    "key": key, "value": Float(value.0), "step": step, "timestamp": timestamp
                })),
                Record::Param { key, value } => params.push(json!({ "key": key, "value": value })),
                Record::Tag { key, value } => tags.push(json!({ "key": key, "value": value })),
                _ => {}
            }
        }
        self.call(
            Method::POST,
            "runs/log-batch",
            &json!({ "run_id": run_id, "metrics": metrics, "params": params, "tags": tags }),
        )
        .map(drop)
    }

    /// Sets the run's status (and end time).
    pub fn update_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<(), ApiError> {
        let mut body = json!({ "run_id": run_id, "status": status.as_str() });
        if let Some(t) = end_time {
            body["end_time"] = json!(t);
        }
        self.call(Method::POST, "runs/update", &body).map(drop)
    }

    /// Uploads `file` to `path` under the run's artifact root, through the server's proxied
    /// artifact API (`mlflow server` serves it by default).
    pub fn upload_artifact(
        &self,
        artifact_uri: &str,
        path: &str,
        file: &Path,
    ) -> Result<(), ApiError> {
        let root = proxied_root(artifact_uri).ok_or_else(|| ApiError::Fatal {
            message: format!(
                "the run's artifact root is `{artifact_uri}`, not served by the tracking server; start `mlflow server` with artifact serving on (the default; not --no-serve-artifacts)"
            ),
        })?;
        let mut url = self.url("api/2.0/mlflow-artifacts/artifacts/");
        {
            let mut segs = url.path_segments_mut().expect("http URL");
            segs.pop_if_empty();
            segs.extend(root.split('/').filter(|s| !s.is_empty()));
            segs.extend(path.split('/').filter(|s| !s.is_empty()));
        }
        let body = std::fs::File::open(file).map_err(|e| ApiError::Rejected {
            message: format!("artifact {}: {e}", file.display()),
        })?;
        let req = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        self.send(req, &format!("upload {path}")).map(drop)
    }
}

/// The part of an `mlflow-artifacts:` URI that follows the scheme (and host, when given).
fn proxied_root(artifact_uri: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(path.trim_matches('/').to_owned())
}

fn string_at(v: &Value, path: &[&str]) -> Result<String, ApiError> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Fatal {
            message: format!("unexpected reply, no {}: {v}", path.join(".")),
        })
}

fn run_info(run: &Value) -> Result<RunInfo, ApiError> {
    Ok(RunInfo {
        run_id: string_at(run, &["info", "run_id"])?,
        artifact_uri: string_at(run, &["info", "artifact_uri"])?,
    })
}

/// A reqwest error's text with its causes (the URL in it is the redacted base's).
fn error_text(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn redaction_drops_credentials() {
        assert_eq!(
            redact("https://alice:s3cret@mlflow.example.com:5000/prefix/?token=x"),
            "https://mlflow.example.com:5000/prefix"
        );
        assert_eq!(redact("http://127.0.0.1:5000/"), "http://127.0.0.1:5000");
    }

    #[test]
    fn artifact_roots() {
        assert_eq!(
            proxied_root("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxied_root("mlflow-artifacts://host:5000/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(proxied_root("s3://bucket/1/abc"), None);
    }

    /// A one-shot HTTP server that records the request and answers `reply`.
    fn serve_once(status: &str, reply: &str) -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 7\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        );
        let handle = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 65536];
            let mut req = Vec::new();
            loop {
                let n = sock.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if req.len() >= head_end + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            sock.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&req).to_string()
        });
        (format!("http://{addr}"), handle)
    }

    #[test]
    fn bearer_token_is_sent_and_never_shown() {
        let (uri, server) = serve_once(
            "200 OK",
            r#"{"run":{"info":{"run_id":"r1","artifact_uri":"mlflow-artifacts:/0/r1/artifacts"}}}"#,
        );
        let auth = Auth::Bearer("tok-123-secret".into());
        assert!(!format!("{auth:?}").contains("secret"));
        let client = Client::new(&uri, auth).unwrap();
        let info = client.create_run("0", "run", 5, &[]).unwrap();
        assert_eq!(info.run_id, "r1");
        let req = server.join().unwrap();
        assert!(
            req.starts_with("POST /api/2.0/mlflow/runs/create "),
            "{req}"
        );
        assert!(
            req.contains("authorization: Bearer tok-123-secret"),
            "{req}"
        );
    }

    #[test]
    fn basic_auth_from_the_uri_is_sent_but_not_kept_in_the_url() {
        let (uri, server) = serve_once("200 OK", "{}");
        let with_user = uri.replace("http://", "http://alice:pw@");
        let client = Client::new(&with_user, Auth::from_env(&with_user)).unwrap();
        assert!(!client.base().as_str().contains("pw"));
        client
            .update_run("r1", RunStatus::Finished, Some(9))
            .unwrap();
        let req = server.join().unwrap();
        // base64("alice:pw") = YWxpY2U6cHc=
        assert!(req.contains("authorization: Basic YWxpY2U6cHc="), "{req}");
        assert!(req.contains(r#""status":"FINISHED""#), "{req}");
    }

    #[test]
    fn errors_are_sorted_by_what_to_do() {
        let error_for = |status: &str, body: &str| {
            let (uri, server) = serve_once(status, body);
            let err = Client::new(&uri, Auth::None)
                .unwrap()
                .update_run("r", RunStatus::Running, None)
                .unwrap_err();
            server.join().unwrap();
            err
        };
        let err = error_for("429 Too Many Requests", "{}");
        assert!(
            matches!(err, ApiError::Unreachable { retry_after: Some(d), .. } if d.as_secs() == 7),
            "{err:?}"
        );
        let err = error_for(
            "400 Bad Request",
            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Changing param values is not allowed"}"#,
        );
        assert!(
            matches!(&err, ApiError::Rejected { message } if message.contains("Changing param")),
            "{err:?}"
        );
        let err = error_for("401 Unauthorized", "{}");
        assert!(matches!(err, ApiError::Fatal { .. }), "{err:?}");
        let err = error_for("503 Service Unavailable", "busy");
        assert!(matches!(err, ApiError::Unreachable { .. }), "{err:?}");
        // Nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Client::new(&format!("http://127.0.0.1:{port}"), Auth::None)
            .unwrap()
            .update_run("r", RunStatus::Running, None)
            .unwrap_err();
        assert!(matches!(err, ApiError::Unreachable { .. }), "{err:?}");
    }
}
