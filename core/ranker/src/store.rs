//! The session's durable log in SQLite (WAL, `synchronous = FULL`): the image list with stable
//! ids, and every event (vote, skip, undo, exclude, remove, start over) in order. The ranking is
//! a pure function of the log, so a restart replays it and resumes exactly.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StoreError {
    /// The database file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// One thing a rater did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Items shown (by image index) and the one picked (`None`: skipped).
    Vote {
        /// Shown items, in shown order.
        items: Vec<usize>,
        /// The preferred item.
        winner: Option<usize>,
    },
    /// Takes back the vote logged at `seq`.
    Undo {
        /// The vote's sequence number.
        seq: i64,
    },
    /// Stop showing an image (its votes stay).
    Exclude {
        /// Image index.
        image: usize,
    },
    /// Show an excluded image again.
    Include {
        /// Image index.
        image: usize,
    },
    /// Remove an image and drop its votes.
    Remove {
        /// Image index.
        image: usize,
    },
    /// Forget the effect of every earlier vote (history stays in the log); removed images
    /// stay removed.
    StartOver,
    /// Like `StartOver`, and removed or excluded images come back (an import that replaces).
    Reset,
}

/// A logged event.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Position in the log (increasing).
    pub seq: i64,
    /// The event.
    pub event: Event,
    /// Who did it.
    pub rater: String,
    /// When (seconds since the epoch).
    pub at: f64,
}

/// The database.
pub struct Store {
    conn: Connection,
    path: String,
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let err = |e: rusqlite::Error| StoreError {
            path: shown.clone(),
            message: format!("{e}; is it a rateme ranker database? (--db chooses another)"),
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS images (
                 id INTEGER PRIMARY KEY,
                 path TEXT NOT NULL UNIQUE);
             CREATE TABLE IF NOT EXISTS log (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 uid TEXT UNIQUE,
                 kind TEXT NOT NULL,
                 event TEXT NOT NULL,
                 rater TEXT NOT NULL,
                 at REAL NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (
                 key TEXT PRIMARY KEY,
                 value TEXT NOT NULL);",
        )
        .map_err(err)?;
        Ok(Self { conn, path: shown })
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// The known image paths in id order; `paths` not yet known are added at the end. Indices
    /// into the returned list are the images' stable indices.
    pub fn images(&mut self, paths: &[String]) -> Result<Vec<String>, StoreError> {
        let tx = self.conn.transaction().map_err(|e| StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        for p in paths {
            tx.execute("INSERT OR IGNORE INTO images (path) VALUES (?1)", [p])
                .map_err(|e| StoreError {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM images ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Appends an event and commits it to disk. With a `uid` already in the log (a client's
    /// retry), nothing is added and `None` is returned.
    pub fn append(
        &self,
        uid: Option<&str>,
        event: &Event,
        rater: &str,
        at: f64,
    ) -> Result<Option<Record>, StoreError> {
        let json = serde_json::to_string(event).expect("event serialises");
        let kind = kind_of(&json);
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO log (uid, kind, event, rater, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![uid, kind, json, rater, at],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(Record {
            seq: self.conn.last_insert_rowid(),
            event: event.clone(),
            rater: rater.to_owned(),
            at,
        }))
    }

    /// Appends several events in one transaction (an import): all or none are committed.
    /// Events whose `uid` is already logged are skipped. Returns the records added.
    pub fn append_all(
        &mut self,
        events: &[(Option<String>, Event)],
        rater: &str,
        at: f64,
    ) -> Result<Vec<Record>, StoreError> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| StoreError {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut out = Vec::new();
        for (uid, event) in events {
            let json = serde_json::to_string(event).expect("event serialises");
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO log (uid, kind, event, rater, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![uid, kind_of(&json), json, rater, at],
                )
                .map_err(err)?;
            if n == 1 {
                out.push(Record {
                    seq: tx.last_insert_rowid(),
                    event: event.clone(),
                    rater: rater.to_owned(),
                    at,
                });
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Every logged event, in order.
    pub fn log(&self) -> Result<Vec<Record>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, event, rater, at FROM log ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, json, rater, at) = row.map_err(|e| self.err(e))?;
            let event = serde_json::from_str(&json).map_err(|e| StoreError {
                path: self.path.clone(),
                message: format!("log entry {seq}: {e}"),
            })?;
            out.push(Record {
                seq,
                event,
                rater,
                at,
            });
        }
        Ok(out)
    }

    /// A setting.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a setting.
    pub fn set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

/// The `kind` tag of a serialised event (a column, for reading the log by hand).
fn kind_of(json: &str) -> &str {
    json.split('"').nth(3).unwrap_or("event")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_reopening_and_retries_are_not_doubled() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.sqlite");
        {
            let mut s = Store::open(&p).unwrap();
            assert_eq!(
                s.images(&["b.png".into(), "a.png".into()]).unwrap(),
                ["b.png", "a.png"]
            );
            let v = Event::Vote {
                items: vec![0, 1],
                winner: Some(1),
            };
            assert!(s.append(Some("u1"), &v, "ann", 1.0).unwrap().is_some());
            assert!(s.append(Some("u1"), &v, "ann", 2.0).unwrap().is_none());
            s.append(None, &Event::Remove { image: 0 }, "bob", 3.0)
                .unwrap();
            s.set("mode", "active").unwrap();
        }
        let mut s = Store::open(&p).unwrap();
        assert_eq!(
            s.images(&["c.png".into(), "a.png".into()]).unwrap(),
            ["b.png", "a.png", "c.png"]
        );
        let log = s.log().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].event, Event::Remove { image: 0 });
        assert_eq!(log[0].rater, "ann");
        assert_eq!(s.get("mode").unwrap().as_deref(), Some("active"));
        assert_eq!(s.get("nothing").unwrap(), None);
    }
}
