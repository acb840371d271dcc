//! Polite HTTP GETs for the image downloader: a User-Agent, timeouts, a per-host rate limit,
//! retries with exponential backoff and jitter, the server's `Retry-After`, a size cap, and a
//! URL map (mirrors, caches, local test servers).

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::blocking::Client;

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Sent with every request; sites block anonymous clients.
    pub user_agent: String,
    /// Whole-request limit (connect, headers and body).
    pub timeout: Duration,
    /// Connect limit.
    pub connect_timeout: Duration,
    /// Retries after a transient failure (no connection, timeout, 5xx, 429).
    pub retries: u32,
    /// First backoff; doubles each retry (with ±50% jitter), up to `max_backoff`.
    pub backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this fails the request instead of waiting.
    pub max_retry_after: Duration,
    /// Minimum time between two requests to one host.
    pub per_host_interval: Duration,
    /// Larger bodies are refused.
    pub max_bytes: u64,
    /// URL prefix rewrites `(from, to)`, first match wins.
    pub url_map: Vec<(String, String)>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            user_agent: format!(
                "rateme/{} (image-rating dataset builder; https://github.com/rateme)",
                env!("CARGO_PKG_VERSION")
            ),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retries: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
            per_host_interval: Duration::from_millis(250),
            max_bytes: 50 << 20,
            url_map: Vec::new(),
        }
    }
}

/// Why a GET failed (after its retries).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse or has no host.
    #[error("bad url: {0}")]
    BadUrl(String),
    /// A final HTTP status (4xx but 408/429, or 5xx after the retries).
    #[error("http {0}")]
    Status(u16),
    /// Still rate limited after the retries, or told to wait longer than allowed.
    #[error("rate limited")]
    RateLimited,
    /// The request took longer than the timeout.
    #[error("timeout")]
    Timeout,
    /// No connection (DNS, refused, reset, TLS).
    #[error("connection: {0}")]
    Connect(String),
    /// The body is larger than the cap.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
}

impl FetchError {
    /// A short reason for counting failures (no URLs or messages, so counts aggregate).
    pub fn reason(&self) -> String {
        match self {
            Self::Status(s) => format!("http {s}"),
            Self::BadUrl(_) => "bad url".into(),
            Self::RateLimited => "rate limited".into(),
            Self::Timeout => "timeout".into(),
            Self::Connect(_) => "connection failed".into(),
            Self::TooLarge(_) => "too large".into(),
        }
    }

    /// Worth trying again in a later run (the server may recover).
    pub fn transient(&self) -> bool {
        match self {
            Self::Status(s) => *s >= 500 || *s == 408 || *s == 429,
            Self::RateLimited | Self::Timeout | Self::Connect(_) => true,
            Self::BadUrl(_) | Self::TooLarge(_) => false,
        }
    }
}

/// A fetched body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The body.
    pub bytes: Vec<u8>,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// The URL after redirects.
    pub final_url: String,
}

/// A shared, thread-safe fetcher.
pub struct Fetcher {
    client: Client,
    opts: FetchOptions,
    /// Per host: the earliest moment the next request may start.
    next_slot: Mutex<HashMap<String, Instant>>,
}

impl Fetcher {
    /// Builds the HTTP client.
    pub fn new(opts: FetchOptions) -> Result<Self, String> {
        let client = Client::builder()
            .user_agent(opts.user_agent.clone())
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(8))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            opts,
            next_slot: Mutex::new(HashMap::new()),
        })
    }

    /// `url` after the URL map.
    pub fn mapped(&self, url: &str) -> String {
        for (from, to) in &self.opts.url_map {
            if let Some(rest) = url.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        url.to_owned()
    }

    /// GETs `url` (mapped), with `headers`, retrying transient failures.
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Fetched, FetchError> {
        let target = self.mapped(url);
        let parsed = reqwest::Url::parse(&target).map_err(|e| FetchError::BadUrl(e.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| FetchError::BadUrl("no host".into()))?
            .to_owned();
        let host_key = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        let mut attempt = 0u32;
        loop {
            self.wait_turn(&host_key);
            let err = match self.once(parsed.clone(), headers) {
                Ok(f) => return Ok(f),
                Err(e) => e,
            };
            let (error, retry_after) = err;
            if !error.transient() || attempt >= self.opts.retries {
                return Err(error);
            }
            let wait = match retry_after {
                Some(d) if d > self.opts.max_retry_after => return Err(FetchError::RateLimited),
                Some(d) => {
                    // Everyone waits for this host, not just this request.
                    self.hold_host(&host_key, d);
                    Duration::ZERO
                }
                None => self.backoff(attempt, &target),
            };
            tracing::debug!(url = %target, %error, ?wait, attempt, "retrying");
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn once(
        &self,
        url: reqwest::Url,
        headers: &[(&str, &str)],
    ) -> Result<Fetched, (FetchError, Option<Duration>)> {
        let started = Instant::now();
        let mut req = self.client.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().map_err(|e| (classify(&e), None))?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = rateme_util::http::retry_after(
                resp.headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
                SystemTime::now(),
            );
            let error = if status == StatusCode::TOO_MANY_REQUESTS {
                FetchError::RateLimited
            } else {
                FetchError::Status(status.as_u16())
            };
            return Err((error, retry_after));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.opts.max_bytes)
        {
            return Err((FetchError::TooLarge(self.opts.max_bytes), None));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let final_url = resp.url().to_string();
        // The client's timeout bounds each read, not the whole body: a server trickling a
        // byte now and then would hold a worker forever. Enforce the deadline here.
        let mut bytes = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        let mut body = resp;
        loop {
            if started.elapsed() > self.opts.timeout {
                return Err((FetchError::Timeout, None));
            }
            let n = body.read(&mut chunk).map_err(|e| (classify_io(&e), None))?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
            if bytes.len() as u64 > self.opts.max_bytes {
                return Err((FetchError::TooLarge(self.opts.max_bytes), None));
            }
        }
        Ok(Fetched {
            bytes,
            content_type,
            final_url,
        })
    }

    /// Sleeps until this host's next slot and books the one after.
    fn wait_turn(&self, host: &str) {
        let now = Instant::now();
        let slot = {
            let mut slots = self.next_slot.lock().expect("slots");
            let next = slots.entry(host.to_owned()).or_insert(now);
            let slot = (*next).max(now);
            *next = slot + self.opts.per_host_interval;
            slot
        };
        std::thread::sleep(slot.saturating_duration_since(now));
    }

    /// Pushes this host's next slot at least `d` into the future.
    fn hold_host(&self, host: &str, d: Duration) {
        let until = Instant::now() + d;
        let mut slots = self.next_slot.lock().expect("slots");
        let next = slots.entry(host.to_owned()).or_insert(until);
        *next = (*next).max(until);
    }

    fn backoff(&self, attempt: u32, url: &str) -> Duration {
        let base = self
            .opts
            .backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.opts.max_backoff);
        // Jitter in [0.5, 1.5): retries of many workers do not arrive together.
        let mut rng = rateme_util::rng::Rng::new(
            rateme_util::fsutil::fnv1a(url.as_bytes()),
            &[attempt as u64],
        );
        base.mul_f64(0.5 + rng.uniform())
    }
}

fn classify(e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        text = format!("{text}: {s}");
        src = s.source();
    }
    if text.contains("timed out") {
        FetchError::Timeout
    } else {
        FetchError::Connect(text)
    }
}

fn classify_io(e: &std::io::Error) -> FetchError {
    let text = format!("{e} {:?}", e.kind());
    if e.kind() == std::io::ErrorKind::TimedOut || text.contains("timed out") {
        FetchError::Timeout
    } else {
        FetchError::Connect(text)
    }
}

/// Parses `FROM=TO` (a URL prefix and its replacement).
pub fn parse_url_map(s: &str) -> Result<(String, String), String> {
    let (from, to) = s
        .split_once('=')
        .filter(|(f, t)| !f.is_empty() && !t.is_empty())
        .ok_or_else(|| {
            format!(
                "`{s}`: expected FROM=TO, e.g. https://i.imgur.com/=http://127.0.0.1:8080/imgur/"
            )
        })?;
    Ok((from.to_owned(), to.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_map_first_prefix_wins() {
        let f = Fetcher::new(FetchOptions {
            url_map: vec![
                parse_url_map("https://i.imgur.com/=http://127.0.0.1:9/img/").unwrap(),
                parse_url_map("https://=http://127.0.0.1:9/").unwrap(),
            ],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            f.mapped("https://i.imgur.com/a.jpg"),
            "http://127.0.0.1:9/img/a.jpg"
        );
        assert_eq!(
            f.mapped("https://i.redd.it/b.png"),
            "http://127.0.0.1:9/i.redd.it/b.png"
        );
        assert_eq!(f.mapped("http://x/y"), "http://x/y");
        assert!(parse_url_map("nothing").is_err());
        assert!(parse_url_map("=x").is_err());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let f = Fetcher::new(FetchOptions::default()).unwrap();
        for attempt in 0..10 {
            let d = f.backoff(attempt, "u").as_secs_f64();
            let base = (1u64 << attempt).min(60) as f64;
            assert!(d >= base * 0.5 && d < base * 1.5, "{attempt}: {d}");
        }
    }

    #[test]
    fn transient_or_final() {
        assert!(FetchError::Status(503).transient());
        assert!(FetchError::Timeout.transient());
        assert!(!FetchError::Status(404).transient());
        assert!(!FetchError::TooLarge(1).transient());
        assert_eq!(FetchError::Status(404).reason(), "http 404");
    }
}
