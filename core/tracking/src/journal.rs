//! The on-disk queue of one tracked run: `journal.ndjson` (records, append-only), `state.json`
//! (what the server has acknowledged), `files/` (artifact snapshots). Training only ever
//! appends to the journal, so a slow or absent server never stalls it; the sender reads from
//! the acknowledged offset on, and a crash at any point loses nothing that was appended.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::Record;

/// The journal file's name inside its folder.
pub const JOURNAL: &str = "journal.ndjson";
const STATE: &str = "state.json";
/// Snapshots of the files to upload.
pub const FILES: &str = "files";
/// Records the server refused, with its reason.
pub const REJECTED: &str = "rejected.ndjson";

/// What the server has acknowledged (written atomically after every acknowledged request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// MLflow experiment id, once resolved.
    pub experiment_id: Option<String>,
    /// MLflow run id, once created.
    pub run_id: Option<String>,
    /// The run's artifact root (`mlflow-artifacts:/...`).
    pub artifact_uri: Option<String>,
    /// Byte offset in the journal up to which everything is delivered (or rejected).
    pub offset: u64,
    /// Records delivered.
    pub delivered: u64,
    /// Records the server refused (kept in `rejected.ndjson`).
    pub rejected: u64,
}

impl DeliveryState {
    /// Reads `dir/state.json`; a fresh state when there is none.
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        match std::fs::read(dir.join(STATE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", dir.join(STATE).display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes `dir/state.json` atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        rateme_util::fsutil::write_atomic(&dir.join(STATE), &bytes)
    }
}

/// Appends records to a journal.
pub struct JournalWriter {
    dir: PathBuf,
    file: File,
}

impl JournalWriter {
    /// Starts a new journal in `dir` (created) whose first record is `start`.
    pub fn create(dir: &Path, start: &Record) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join(FILES))?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(dir.join(JOURNAL))?;
        let mut w = Self {
            dir: dir.to_owned(),
            file,
        };
        w.append(std::slice::from_ref(start))?;
        w.sync()?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(w)
    }

    /// Opens an existing journal to append to, returning the records it holds. A torn last line
    /// (a crash in the middle of a write) is cut off first.
    pub fn open(dir: &Path) -> std::io::Result<(Self, Vec<Record>)> {
        let path = dir.join(JOURNAL);
        let mut file = OpenOptions::new().read(true).append(true).open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        if whole < bytes.len() {
            file.set_len(whole as u64)?;
        }
        let records = bytes[..whole]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect();
        Ok((
            Self {
                dir: dir.to_owned(),
                file,
            },
            records,
        ))
    }

    /// The journal's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends records with one write, so the sender sees whole lines only.
    pub fn append(&mut self, records: &[Record]) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r).expect("records serialise");
            buf.push(b'\n');
        }
        self.file.write_all(&buf)
    }

    /// Makes what was appended durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Copies (or, for large files, hard-links) `src` into the snapshot folder under a unique
    /// name and returns that name: the upload sends the file as it was when the run ended, even
    /// if a later run rewrites it before the server is reachable.
    pub fn snapshot(&mut self, src: &Path) -> std::io::Result<String> {
        let base = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let name = self.snapshot_name(&base)?;
        let dst = self.dir.join(FILES).join(&name);
        let large = std::fs::metadata(src)?.len() > 16 << 20;
        if !(large && std::fs::hard_link(src, &dst).is_ok()) {
            rateme_util::fsutil::write_atomic(&dst, &std::fs::read(src)?)?;
        }
        Ok(name)
    }

    /// Like [`Self::snapshot`], for content held in memory.
    pub fn snapshot_bytes(&mut self, base: &str, bytes: &[u8]) -> std::io::Result<String> {
        let name = self.snapshot_name(base)?;
        rateme_util::fsutil::write_atomic(&self.dir.join(FILES).join(&name), bytes)?;
        Ok(name)
    }

    /// A name not used before in this journal's snapshot folder (uploaded snapshots are
    /// deleted, so the journal's artifact records are counted, not the files).
    fn snapshot_name(&self, base: &str) -> std::io::Result<String> {
        std::fs::create_dir_all(self.dir.join(FILES))?;
        let used = read_from(&self.dir, 0, usize::MAX)?
            .iter()
            .filter(|e| matches!(e.record, Some(Record::Artifact { .. })))
            .count();
        let mut n = used;
        loop {
            let name = format!("{n:04}-{base}");
            if !self.dir.join(FILES).join(&name).exists() {
                return Ok(name);
            }
            n += 1;
        }
    }
}

/// A record read back, with the journal offset just past it.
pub struct Entry {
    /// The record (`None` for a line that does not parse: it is skipped and reported).
    pub record: Option<Record>,
    /// The raw line, for the rejected-records file.
    pub line: String,
    /// Offset of the next line.
    pub end: u64,
}

/// Reads up to `max` whole lines from `offset` on.
pub fn read_from(dir: &Path, offset: u64, max: usize) -> std::io::Result<Vec<Entry>> {
    let mut file = File::open(dir.join(JOURNAL))?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut out = Vec::new();
    let mut pos = offset;
    let mut line = String::new();
    while out.len() < max {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        pos += n as u64;
        let text = line.trim_end().to_owned();
        if text.is_empty() {
            continue;
        }
        out.push(Entry {
            record: serde_json::from_str(&text).ok(),
            line: text,
            end: pos,
        });
    }
    Ok(out)
}

/// The journal's first record (its `Start`).
pub fn read_start(dir: &Path) -> std::io::Result<Record> {
    let first = read_from(dir, 0, 1)?;
    match first.into_iter().next().and_then(|e| e.record) {
        Some(r @ Record::Start { .. }) => Ok(r),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: the first line is not a start record",
                dir.join(JOURNAL).display()
            ),
        )),
    }
}

/// Whole records not yet acknowledged in the journal in `dir`.
pub fn pending(dir: &Path) -> std::io::Result<u64> {
    let state = DeliveryState::load(dir)?;
    let mut file = File::open(dir.join(JOURNAL))?;
    file.seek(SeekFrom::Start(state.offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes.iter().filter(|&&b| b == b'\n').count() as u64)
}

/// Appends `line` with the server's `reason` to the rejected-records file.
pub fn reject(dir: &Path, line: &str, reason: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(REJECTED))?;
    let entry = serde_json::json!({ "record": line, "reason": reason });
    writeln!(f, "{entry}")
}

/// The journal folders under `root` (searched recursively, not following links).
pub fn find(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        if dir.join(JOURNAL).is_file() {
            out.push(dir.clone());
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Float, Record};

    fn start() -> Record {
        Record::Start {
            uid: "u".into(),
            uri: "http://x".into(),
            experiment: "e".into(),
            run_name: "r".into(),
            start_time: 1,
            tags: vec![],
        }
    }

    fn metric(step: u64) -> Record {
        Record::Metric {
            key: "m".into(),
            value: Float(step as f64),
            step,
            timestamp: 5,
        }
    }

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("mlflow");
        let mut w = JournalWriter::create(&dir, &start()).unwrap();
        w.append(&[metric(1), metric(2)]).unwrap();
        drop(w);
        // A crash in the middle of a write leaves half a line.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL))
            .unwrap();
        f.write_all(b"{\"kind\":\"metric\",\"key\":\"m\",\"val")
            .unwrap();
        let (mut w, records) = JournalWriter::open(&dir).unwrap();
        assert_eq!(records, vec![start(), metric(1), metric(2)]);
        w.append(&[metric(3)]).unwrap();
        let all = read_from(&dir, 0, 100).unwrap();
        let got: Vec<Record> = all.into_iter().map(|e| e.record.unwrap()).collect();
        assert_eq!(got, vec![start(), metric(1), metric(2), metric(3)]);
        assert_eq!(pending(&dir).unwrap(), 4);
    }

    #[test]
    fn reader_stops_before_an_unfinished_line_and_resumes_at_its_offset() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("j");
        let mut w = JournalWriter::create(&dir, &start()).unwrap();
        w.append(&[metric(1)]).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL))
            .unwrap();
        f.write_all(b"{\"kind\":").unwrap();
        let first = read_from(&dir, 0, 10).unwrap();
        assert_eq!(first.len(), 2);
        let state = DeliveryState {
            offset: first[1].end,
            ..Default::default()
        };
        state.save(&dir).unwrap();
        assert_eq!(DeliveryState::load(&dir).unwrap(), state);
        assert_eq!(pending(&dir).unwrap(), 0);
        f.write_all(b"\"tag\",\"key\":\"a\",\"value\":\"b\"}\n")
            .unwrap();
        let rest = read_from(&dir, state.offset, 10).unwrap();
        assert_eq!(
            rest[0].record,
            Some(Record::Tag {
                key: "a".into(),
                value: "b".into()
            })
        );
        assert_eq!(read_start(&dir).unwrap(), start());
        assert_eq!(find(d.path()), vec![dir]);
    }
}
