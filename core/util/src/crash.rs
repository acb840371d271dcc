//! Crash points: places where a test can make the process die by SIGKILL, exactly there.
//!
//! A kill from outside lands wherever the process happens to be; the moments that matter for
//! crash safety (in the middle of an evaluation, between the two renames of a checkpoint swap)
//! are too short to hit that way. With `RATEME_CRASH_AT=<point>@<n>` in its environment, the
//! process sends itself SIGKILL the `n`-th time it reaches `<point>`: no destructor, no flush,
//! the same as `kill -9` at that instant. Unset (always, outside tests), a point costs one
//! atomic load.
//!
//! Points: `batch` (before each training step), `eval` (half-way through each evaluation),
//! `<dir>-swap` (between moving the old `<dir>` aside and renaming the new one in, e.g.
//! `checkpoint-swap`, `best-swap`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the crash point.
pub const ENV: &str = "RATEME_CRASH_AT";

struct Target {
    point: String,
    nth: u64,
    seen: AtomicU64,
}

fn target() -> Option<&'static Target> {
    static TARGET: OnceLock<Option<Target>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let text = std::env::var(ENV).ok()?;
            let (point, nth) = text.split_once('@')?;
            Some(Target {
                point: point.to_owned(),
                nth: nth.parse().ok()?,
                seen: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Dies by SIGKILL if this is the `n`-th time `point` is reached and `RATEME_CRASH_AT` asks for
/// it; otherwise does nothing.
pub fn point(point: &str) {
    let Some(t) = target() else {
        return;
    };
    if t.point == point && t.seen.fetch_add(1, Ordering::SeqCst) + 1 == t.nth {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, so this does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
