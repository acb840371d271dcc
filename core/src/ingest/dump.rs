//! Reading Pushshift-style dumps: zstd-compressed (windows up to 2 GiB, as `zstd --long=31`
//! writes them) or plain NDJSON, streamed in blocks of whole lines with bounded memory. One
//! thread decompresses; workers parse blocks in parallel.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;

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
        self.data
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, l)| {
                (
                    self.first_line + i as u64,
                    l.strip_suffix(b"\r").unwrap_or(l),
                )
            })
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
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
    let (out_tx, out_rx) = sync_channel::<(T, LineStats)>(IN_FLIGHT);
    let mut stats = LineStats::default();
    let read_result = std::thread::scope(|scope| {
        let reader_handle = scope.spawn(move || {
            read_blocks(reader, block_tx, || {
                progress(count.load(Ordering::Relaxed), total_in)
            })
        });
        for _ in 0..workers.max(1) {
            let out_tx = out_tx.clone();
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
                    if out_tx.send((out, s)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(out_tx);
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

fn read_blocks(
    mut reader: Box<dyn Read + Send>,
    tx: std::sync::mpsc::SyncSender<Block>,
    progress: impl Fn(),
) -> Result<(), String> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no = 1u64;
    let mut read_total = 0u64;
    loop {
        let mut buf = std::mem::take(&mut carry);
        buf.reserve(BLOCK);
        let start = buf.len();
        // Fill the block (a zstd reader returns short reads); no zero-filling.
        let want = (BLOCK.max(start) + BLOCK - start) as u64;
        if let Err(e) = reader.by_ref().take(want).read_to_end(&mut buf) {
            let hint = if e.to_string().contains("too much memory") {
                " (the frame's window is over 2 GiB)"
            } else {
                ""
            };
            return Err(format!(
                "read error after {read_total} decompressed bytes: {e}{hint}; the dump is truncated or corrupt (check it with `zstd -t --long=31`); nothing was written"
            ));
        }
        let filled = buf.len();
        read_total += (filled - start) as u64;
        progress();
        let eof = (filled - start) < want as usize;
        if !eof {
            // Keep the partial last line for the next block.
            let cut = match buf.iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => buf.len(), // one line longer than a block: grow the next read
            };
            if cut == buf.len() && !buf.ends_with(b"\n") {
                carry = buf;
                continue;
            }
            carry = buf[cut..].to_vec();
            buf.truncate(cut);
        }
        if !buf.is_empty() {
            let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
            let block = Block {
                data: buf,
                first_line: line_no,
            };
            line_no += lines;
            if tx.send(block).is_err() {
                return Ok(());
            }
        }
        if eof {
            return Ok(());
        }
    }
}
