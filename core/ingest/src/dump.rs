//! Reading Pushshift-style dumps: zstd-compressed (windows up to 2 GiB, as `zstd --long=31`
//! writes them) or plain NDJSON, streamed in blocks of whole lines with bounded memory. One
//! thread decompresses; workers parse blocks in parallel.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Largest zstd window accepted: 2^31 bytes, what `zstd --long=31` may declare.
pub const MAX_WINDOW_LOG: u32 = 31;
/// Bytes per block handed to a worker.
const BLOCK: usize = 1 << 20;
/// Blocks queued between the reader and the workers (and results between workers and the
/// consumer): with the blocks being read and parsed, memory holds a few MiB of dump text.
const IN_FLIGHT: usize = 4;
/// Malformed lines kept as samples in the report.
const SAMPLES: usize = 5;

/// Reading a dump failed (the file, not a line: bad lines are counted, never fatal).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DumpError {
    /// The dump.
    pub path: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// Counts the bytes read from the file (for progress and ETA on compressed input).
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a dump for reading, decompressing zstd (recognised by its magic bytes); `count` gets
/// the file bytes read.
pub fn open(path: &Path, count: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, DumpError> {
    let err = |message: String| DumpError {
        path: path.display().to_string(),
        message,
    };
    let mut file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(|e| err(e.to_string()))?;
    let file = Counted {
        inner: File::open(path).map_err(|e| err(format!("cannot open: {e}")))?,
        count,
    };
    let zstd_magic = n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd];
    if zstd_magic {
        let mut dec =
            zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(1 << 20, file))
                .map_err(|e| err(format!("zstd: {e}")))?;
        dec.window_log_max(MAX_WINDOW_LOG)
            .map_err(|e| err(format!("zstd: {e}")))?;
        Ok(Box::new(dec))
    } else {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if matches!(ext, "zst" | "zstd") {
            return Err(err(
                "named .zst but not zstd-compressed (no zstd magic bytes)".into(),
            ));
        }
        Ok(Box::new(file))
    }
}

/// What a pass over a dump saw.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LineStats {
    /// Non-empty lines.
    pub lines: u64,
    /// Decompressed bytes.
    pub bytes: u64,
    /// Lines that are not JSON objects.
    pub malformed: u64,
    /// The first few malformed lines: (line number, start of the line, parser message).
    pub samples: Vec<(u64, String, String)>,
}

impl LineStats {
    /// Adds a malformed line.
    pub fn malformed(&mut self, line_no: u64, line: &[u8], why: &str) {
        self.malformed += 1;
        if self.samples.len() < SAMPLES {
            let text: String = String::from_utf8_lossy(&line[..line.len().min(160)]).into_owned();
            self.samples.push((line_no, text, why.to_owned()));
        }
    }

    fn merge(&mut self, other: LineStats) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.malformed += other.malformed;
        for s in other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(s);
            }
        }
        self.samples.sort();
    }
}

/// A block of whole lines and the number of the first.
pub struct Block {
    /// Bytes of whole lines (each ending in `\n`, but maybe the dump's last).
    pub data: Vec<u8>,
    /// 1-based line number of the first line.
    pub first_line: u64,
}

impl Block {
    /// The non-empty lines with their numbers.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let data = &self.data[..];
        let mut start = 0;
        let mut no = self.first_line;
        std::iter::from_fn(move || {
            while start <= data.len() {
                let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |k| start + k);
                let line = &data[start..end];
                let line_no = no;
                no += 1;
                start = end + 1;
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.iter().all(u8::is_ascii_whitespace) {
                    return Some((line_no, line));
                }
            }
            None
        })
    }
}

/// Streams the dump at `path` through `workers` threads: each block goes to `parse` (on a
/// worker), whose output goes to `consume` (on the calling thread, in no particular order).
/// Memory stays bounded: a few blocks in flight, whatever the dump's size. `progress` is
/// called with (file bytes read, file size) after every block.
pub fn par_blocks<T: Send>(
    path: &Path,
    workers: usize,
    parse: impl Fn(&Block, &mut LineStats) -> T + Sync,
    mut consume: impl FnMut(T),
    progress: impl Fn(u64, u64) + Send,
) -> Result<LineStats, DumpError> {
    let count = Arc::new(AtomicU64::new(0));
    let reader = open(path, count.clone())?;
    let total_in = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let path_text = path.display().to_string();
    let (block_tx, block_rx) = sync_channel::<Block>(IN_FLIGHT);
    let block_rx = std::sync::Mutex::new(block_rx);
    // Parsed blocks' buffers, back to the reader.
    let (free_tx, free_rx) = sync_channel::<Vec<u8>>(2 * IN_FLIGHT + workers.max(1));
    let (out_tx, out_rx) = sync_channel::<(T, LineStats)>(IN_FLIGHT);
    let mut stats = LineStats::default();
    let read_result = std::thread::scope(|scope| {
        let reader_handle = scope.spawn(move || {
            read_blocks(reader, block_tx, free_rx, || {
                progress(count.load(Ordering::Relaxed), total_in)
            })
        });
        for _ in 0..workers.max(1) {
            let out_tx = out_tx.clone();
            let free_tx = free_tx.clone();
            let block_rx = &block_rx;
            let parse = &parse;
            scope.spawn(move || {
                loop {
                    let block = match block_rx.lock().expect("block queue").recv() {
                        Ok(b) => b,
                        Err(_) => return,
                    };
                    let mut s = LineStats {
                        bytes: block.data.len() as u64,
                        ..Default::default()
                    };
                    let out = parse(&block, &mut s);
                    let _ = free_tx.try_send(block.data);
                    if out_tx.send((out, s)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((out_tx, free_tx));
        for (out, s) in out_rx {
            stats.merge(s);
            consume(out);
        }
        reader_handle.join().expect("reader thread")
    });
    read_result.map_err(|message| DumpError {
        path: path_text,
        message,
    })?;
    Ok(stats)
}

/// The message for a failed read.
fn read_error(read_total: u64, e: &std::io::Error) -> String {
    let hint = if e.to_string().contains("too much memory") {
        " (the frame's window is over 2 GiB)"
    } else {
        ""
    };
    format!(
        "read error after {read_total} decompressed bytes: {e}{hint}; the dump is truncated or corrupt (check it with `zstd -t --long=31`); nothing was written"
    )
}

/// Reads `reader` into blocks of whole lines and sends them. Buffers the workers are done with
/// come back through `free` and are filled again: no allocation (and no page faults) per block.
fn read_blocks(
    mut reader: Box<dyn Read + Send>,
    tx: SyncSender<Block>,
    free: Receiver<Vec<u8>>,
    progress: impl Fn(),
) -> Result<(), String> {
    let mut line_no = 1u64;
    let mut read_total = 0u64;
    // The block being filled; `buf[..filled]` holds data, starting with the previous block's
    // partial last line.
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0;
    loop {
        let start = filled;
        // Fill the block (a zstd reader returns short reads).
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(read_total + (filled - start) as u64, &e)),
            }
        }
        read_total += (filled - start) as u64;
        progress();
        let eof = filled < buf.len();
        let cut = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(p) => p + 1,
                None => {
                    // One line longer than the block: grow it.
                    buf.resize(buf.len() * 2, 0);
                    continue;
                }
            }
        };
        // The partial last line starts the next block.
        let tail = filled - cut;
        let mut next = free.try_recv().unwrap_or_default();
        next.resize(BLOCK.max(tail + BLOCK / 2), 0);
        next[..tail].copy_from_slice(&buf[cut..filled]);
        buf.truncate(cut);
        if !buf.is_empty() {
            let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
            let block = Block {
                data: std::mem::replace(&mut buf, next),
                first_line: line_no,
            };
            line_no += lines;
            if tx.send(block).is_err() {
                return Ok(());
            }
        } else {
            buf = next;
        }
        filled = tail;
        if eof {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every non-blank line with its number, through `par_blocks`, in file order.
    fn lines_of(path: &Path, workers: usize) -> (Vec<(u64, Vec<u8>)>, LineStats) {
        let mut got = Vec::new();
        let stats = par_blocks(
            path,
            workers,
            |block, stats| {
                let lines: Vec<(u64, Vec<u8>)> =
                    block.lines().map(|(no, l)| (no, l.to_vec())).collect();
                stats.lines += lines.len() as u64;
                lines
            },
            |lines| got.extend(lines),
            |_, _| {},
        )
        .unwrap();
        got.sort();
        (got, stats)
    }

    #[test]
    fn blocks_hold_whole_lines_with_their_numbers() {
        let d = tempfile::tempdir().unwrap();
        // Short lines over many blocks, blank and CRLF lines, a line longer than two blocks, and
        // no newline at the end.
        let mut text = Vec::new();
        let mut want = Vec::new();
        let mut no = 0u64;
        let mut push = |text: &mut Vec<u8>, line: Vec<u8>, ending: &[u8]| {
            no += 1;
            if !line.iter().all(u8::is_ascii_whitespace) {
                want.push((no, line.clone()));
            }
            text.extend_from_slice(&line);
            text.extend_from_slice(ending);
        };
        for i in 0..60_000u64 {
            let line = format!(
                "{{\"n\":{i},\"pad\":\"{}\"}}",
                "x".repeat((i % 97) as usize)
            );
            let ending: &[u8] = if i % 7 == 0 { b"\r\n" } else { b"\n" };
            push(&mut text, line.into_bytes(), ending);
            if i % 1000 == 0 {
                push(&mut text, Vec::new(), b"\n");
                push(&mut text, b"   ".to_vec(), b"\n");
            }
            if i == 30_000 {
                push(&mut text, vec![b'y'; BLOCK * 5 / 2], b"\n");
            }
        }
        push(&mut text, b"{\"last\":true}".to_vec(), b"");
        let path = d.path().join("lines.ndjson");
        std::fs::write(&path, &text).unwrap();
        for workers in [1, 3] {
            let (got, stats) = lines_of(&path, workers);
            assert_eq!(stats.bytes, text.len() as u64);
            assert_eq!(stats.lines, want.len() as u64);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0);
                assert!(g.1 == w.1, "line {}", w.0);
            }
        }
        // Empty and single-line files.
        std::fs::write(&path, b"").unwrap();
        assert!(lines_of(&path, 1).0.is_empty());
        std::fs::write(&path, b"{}").unwrap();
        assert_eq!(lines_of(&path, 1).0, vec![(1, b"{}".to_vec())]);
    }
}
