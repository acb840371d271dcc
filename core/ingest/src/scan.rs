//! A fast reader of the four top-level fields ingest needs from a comment line (`link_id`,
//! `parent_id`, `body`, `score`), with the lenient meaning of [`fields`](super::fields).
//!
//! Dump lines are long (about 1 KB, 40-odd fields) and ingest needs four of their fields, so
//! [`scan`] walks the line once and decodes nothing: strings are skipped by searching for the
//! next `"` or `\` (8 bytes at a time for the first 32, then with `memchr`), nested objects and
//! arrays by their nesting (brackets inside strings don't count), numbers and
//! `true`/`false`/`null` by their grammar. It keeps the raw text of the four values.
//! [`top_level`] then decides from the raw `link_id`/`parent_id` whether the comment is
//! top-level, and only then decodes the body (unescaping it only when it holds a backslash).
//! About 2.5 times as fast as `serde_json` on generated dump lines (see
//! `benches/benches/ingest_scan.rs`).
//!
//! The scanner is an accelerator, never a second opinion: it accepts a line only when it is sure
//! that `serde_json` (with [`fields::Comment`]) accepts it too and reads the same values. Every
//! line it does not accept (malformed, or merely unusual: control characters, invalid UTF-8
//! somewhere, escaped or duplicate keys, deep nesting) is read by `serde_json` instead, which
//! gives the result or the error message. So both readers agree on every line, malformed ones
//! included; the tests check this on generated and hand-written tricky lines.

use std::borrow::Cow;

use super::fields::{self, Comment, Number, Text};

/// Nesting deeper than this is left to `serde_json` (the scanner keeps the open brackets in a
/// `u64` bit stack).
const MAX_DEPTH: u32 = 64;

/// The raw text of one top-level value of a line, as it is in the line (a string keeps its
/// quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawValue<'a> {
    bytes: &'a [u8],
    /// A string with a backslash escape in it (decoding it copies).
    escaped: bool,
}

impl<'a> RawValue<'a> {
    /// The JSON text of the value.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The content of a string without escapes (between its quotes); `None` for any other value.
    fn plain_str(&self) -> Option<&'a [u8]> {
        (!self.escaped && self.bytes.first() == Some(&b'"'))
            .then(|| &self.bytes[1..self.bytes.len() - 1])
    }

    /// The value as [`Text`] reads it; `None` if it does not decode (never, for a value of an
    /// accepted line).
    fn text(&self) -> Option<Option<Cow<'a, str>>> {
        if let Some(s) = self.plain_str() {
            return std::str::from_utf8(s).ok().map(|s| Some(Cow::Borrowed(s)));
        }
        if self.bytes == b"null" {
            return Some(None);
        }
        serde_json::from_slice::<Text>(self.bytes).ok().map(|t| t.0)
    }

    /// The value as [`Number`] reads it; `None` if it does not decode (never, for a value of an
    /// accepted line).
    fn number(&self) -> Option<Option<f64>> {
        if let Some(n) = small_integer(self.bytes) {
            return Some(Some(n));
        }
        if let Some(s) = self.plain_str() {
            // As `Number` reads a string.
            let s = std::str::from_utf8(s).ok()?;
            return Some(s.trim().parse::<f64>().ok().filter(|x| x.is_finite()));
        }
        if self.bytes == b"null" {
            return Some(None);
        }
        serde_json::from_slice::<Number>(self.bytes)
            .ok()
            .map(|n| n.0)
    }
}

/// An integer of at most 18 digits (exact in `i64`, converted as serde_json does); `-0` is left
/// to serde_json, which reads it as a float.
fn small_integer(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 || (digits[0] == b'0' && (neg || digits.len() > 1)) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(if neg { -n } else { n } as f64)
}

/// The four fields of a comment line, not decoded; a field the line lacks is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RawComment<'a> {
    /// `link_id`.
    pub link_id: Option<RawValue<'a>>,
    /// `parent_id`.
    pub parent_id: Option<RawValue<'a>>,
    /// `body`.
    pub body: Option<RawValue<'a>>,
    /// `score`.
    pub score: Option<RawValue<'a>>,
}

/// What rating needs of a top-level comment.
#[derive(Debug, Clone, PartialEq)]
pub struct TopLevel<'a> {
    /// The post id (`link_id` without `t3_`).
    pub thread: Cow<'a, str>,
    /// The comment text, if it is a string.
    pub body: Option<Cow<'a, str>>,
    /// Votes, if a number or a numeric string.
    pub score: Option<f64>,
}

impl<'a> RawComment<'a> {
    /// Decodes all four fields; `None` if one does not decode.
    pub fn decode(&self) -> Option<Comment<'a>> {
        let text = |v: Option<RawValue<'a>>| match v {
            Some(v) => v.text().map(Text),
            None => Some(Text(None)),
        };
        Some(Comment {
            link_id: text(self.link_id)?,
            parent_id: text(self.parent_id)?,
            body: text(self.body)?,
            score: Number(match self.score {
                Some(v) => v.number()?,
                None => None,
            }),
        })
    }

    /// The comment if it is top-level (`parent_id == link_id`), decoding the body and score only
    /// then. The outer `None`: a field does not decode.
    pub fn top_level(&self) -> Option<Option<TopLevel<'a>>> {
        let (Some(link), Some(parent)) = (self.link_id, self.parent_id) else {
            return Some(None);
        };
        let thread = match (link.plain_str(), parent.plain_str()) {
            // The common case, decided on the raw bytes.
            (Some(l), Some(p)) => {
                if l != p {
                    return Some(None);
                }
                Cow::Borrowed(std::str::from_utf8(l).ok()?)
            }
            _ => {
                let (Some(l), p) = (link.text()?, parent.text()?) else {
                    return Some(None);
                };
                if p.as_deref() != Some(&*l) {
                    return Some(None);
                }
                l
            }
        };
        let thread = match thread {
            Cow::Borrowed(s) => Cow::Borrowed(s.strip_prefix("t3_").unwrap_or(s)),
            Cow::Owned(s) => Cow::Owned(s.strip_prefix("t3_").unwrap_or(&s).to_owned()),
        };
        let body = match self.body {
            Some(b) => b.text()?,
            None => None,
        };
        let score = match self.score {
            Some(s) => s.number()?,
            None => None,
        };
        Some(Some(TopLevel {
            thread,
            body,
            score,
        }))
    }
}

/// Reads a comment line: what `fields::parse::<Comment>` reads, faster. `Err` (serde_json's
/// message) for a line that is not a JSON object.
pub fn comment(line: &[u8]) -> Result<Comment<'_>, String> {
    match scan(line).and_then(|raw| raw.decode()) {
        Some(c) => Ok(c),
        None => fields::parse(line),
    }
}

/// Reads a comment line as rating needs it: `Ok(None)` for a comment that is not top-level,
/// `Err` (serde_json's message) for a line that is not a JSON object. Decodes the body only of a
/// top-level comment.
pub fn top_level(line: &[u8]) -> Result<Option<TopLevel<'_>>, String> {
    if let Some(t) = scan(line).and_then(|raw| raw.top_level()) {
        return Ok(t);
    }
    let c: Comment = fields::parse(line)?;
    let Some(thread) = c.top_level_thread() else {
        return Ok(None);
    };
    Ok(Some(TopLevel {
        thread: Cow::Owned(thread.to_owned()),
        body: c.body.0,
        score: c.score.0,
    }))
}

/// Scans a line for the four fields. `None` when the line is not certainly a JSON object that
/// `serde_json` reads as a [`Comment`]: malformed, or unusual enough to leave to `serde_json`
/// (control characters, invalid UTF-8, an escaped or repeated key, nesting deeper than 64).
pub fn scan(line: &[u8]) -> Option<RawComment<'_>> {
    // Control characters (tabs or CRs between tokens, or raw ones inside strings, which JSON
    // forbids) are left to serde_json; without them, spaces are the only whitespace. Lines with
    // non-ASCII bytes must be valid UTF-8, so that every string is.
    let (control, non_ascii) = classify(line);
    if control || (non_ascii && std::str::from_utf8(line).is_err()) {
        return None;
    }
    let b = line;
    let mut i = spaces(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = spaces(b, i + 1);
    let mut out = RawComment::default();
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            // A key: serde_json compares it unescaped, so one with an escape is left to it.
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let key_start = i + 1;
            let key_end = quote_or_backslash(b, key_start)?;
            if b[key_end] != b'"' {
                return None;
            }
            i = spaces(b, key_end + 1);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = spaces(b, i + 1);
            let value_start = i;
            let escaped;
            (i, escaped) = value(b, i)?;
            let key = &b[key_start..key_end];
            if matches!(key.len(), 4 | 5 | 7 | 9) {
                let slot = match key {
                    b"link_id" => Some(&mut out.link_id),
                    b"parent_id" => Some(&mut out.parent_id),
                    b"body" => Some(&mut out.body),
                    b"score" => Some(&mut out.score),
                    _ => None,
                };
                if let Some(slot) = slot {
                    if slot.is_some() {
                        return None; // serde_json: duplicate field
                    }
                    let bytes = &b[value_start..i];
                    if escaped && !surrogates_paired(bytes) {
                        return None;
                    }
                    *slot = Some(RawValue { bytes, escaped });
                }
            }
            i = spaces(b, i);
            match b.get(i) {
                Some(b',') => i = spaces(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (spaces(b, i) == b.len()).then_some(out)
}

/// Whether `line` has a control character (< 0x20), and a non-ASCII byte.
fn classify(line: &[u8]) -> (bool, bool) {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    #[inline(always)]
    fn word(c: &[u8]) -> u64 {
        u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
    }
    // Some byte < 0x20: `(x - 0x20..20) & !x` has a high bit set (exact as a yes/no for
    // thresholds up to 0x80). Four words at a time.
    let (mut control, mut high) = (0u64, 0u64);
    let mut chunks = line.chunks_exact(32);
    for c in &mut chunks {
        let (a, b, d, e) = (
            word(&c[..8]),
            word(&c[8..16]),
            word(&c[16..24]),
            word(&c[24..]),
        );
        control |= (a.wrapping_sub(ONES * 0x20) & !a)
            | (b.wrapping_sub(ONES * 0x20) & !b)
            | (d.wrapping_sub(ONES * 0x20) & !d)
            | (e.wrapping_sub(ONES * 0x20) & !e);
        high |= a | b | d | e;
    }
    let tail = chunks.remainder();
    (
        control & HIGH != 0 || tail.iter().any(|&b| b < 0x20),
        high & HIGH != 0 || tail.iter().any(|&b| b >= 0x80),
    )
}

/// Whether every `\u` escape of a string (given with its quotes, escapes already checked) pairs
/// its UTF-16 surrogates, as serde_json requires of a string it decodes.
fn surrogates_paired(s: &[u8]) -> bool {
    let hex = |at: usize| -> Option<u32> {
        let h = s.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\\', &s[i..]) {
        i += k;
        if s.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        let Some(n) = hex(i + 2) else { return false };
        i += 6;
        match n {
            0xDC00..=0xDFFF => return false,
            0xD800..=0xDBFF => {
                if s.get(i..i + 2) != Some(b"\\u") || !matches!(hex(i + 2), Some(0xDC00..=0xDFFF)) {
                    return false;
                }
                i += 6;
            }
            _ => {}
        }
    }
    true
}

// The skipping functions take the line and a position and return the position after what they
// skipped, or `None` where the JSON is not valid.

/// The position of the next `"` or `\\` from `i`. Most strings of a dump are short: the first 32
/// bytes are searched inline, 8 at a time, and only the rest with `memchr2`.
#[inline(always)]
fn quote_or_backslash(b: &[u8], i: usize) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const LOW7: u64 = ONES * 0x7f;
    /// The high bit of each zero byte of `v` (exact, no false positives).
    #[inline(always)]
    fn zeros(v: u64) -> u64 {
        !(((v & LOW7) + LOW7) | v) & (ONES << 7)
    }
    #[inline(always)]
    fn hits(c: &[u8]) -> u64 {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        zeros(x ^ (ONES * u64::from(b'"'))) | zeros(x ^ (ONES * u64::from(b'\\')))
    }
    let mut at = i;
    for _ in 0..4 {
        let Some(c) = b.get(at..at + 8) else { break };
        let m = hits(c);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    Some(at + memchr::memchr2(b'"', b'\\', b.get(at..)?)?)
}

/// Skips spaces (the only whitespace of a line without control characters).
#[inline(always)]
fn spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// Skips the rest of a string after its opening quote, and the closing quote; whether it had an
/// escape.
#[inline(always)]
fn string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let i = quote_or_backslash(b, i)?;
    if b[i] == b'"' {
        return Some((i + 1, false));
    }
    escaped_string(b, i).map(|i| (i, true))
}

/// The rest of a string from a backslash.
#[cold]
fn escaped_string(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        // At a backslash: check the escape and skip it.
        match *b.get(i + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
            b'u' => {
                if !b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                i += 6;
            }
            _ => return None,
        }
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
    }
}

/// Skips digits.
#[inline(always)]
fn digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Skips a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[inline(always)]
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
        return fraction(b, i);
    }
    Some(i)
}

/// Skips the fraction and exponent of a number.
fn fraction(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = digits(b, start);
        if i == start {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        i = digits(b, start);
        if i == start {
            return None;
        }
    }
    Some(i)
}

/// Skips `word` (`true`, `false`, `null`).
#[inline(always)]
fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    (b.get(i..i + word.len())? == word).then_some(i + word.len())
}

/// Skips a scalar (anything but an object or array); whether it was a string with an escape.
#[inline(always)]
fn scalar(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let end = match *b.get(i)? {
        b'"' => return string(b, i + 1),
        b'-' | b'0'..=b'9' => number(b, i)?,
        b't' => literal(b, i, b"true")?,
        b'f' => literal(b, i, b"false")?,
        b'n' => literal(b, i, b"null")?,
        _ => return None,
    };
    Some((end, false))
}

/// Skips a value; whether it was a string with an escape.
#[inline(always)]
fn value(b: &[u8], i: usize) -> Option<(usize, bool)> {
    match *b.get(i)? {
        open @ (b'{' | b'[') => {
            // Empty ones (common in dumps) at once.
            let close = if open == b'{' { b'}' } else { b']' };
            if b.get(i + 1) == Some(&close) {
                return Some((i + 2, false));
            }
            Some((container(b, i)?, false))
        }
        _ => scalar(b, i),
    }
}

/// Skips an object or array with everything nested in it, checking its grammar (nested keys
/// are not decoded: serde_json skips them too).
fn container(b: &[u8], mut i: usize) -> Option<usize> {
    // Open brackets, innermost in bit 0: 1 for an object, 0 for an array.
    let mut stack = 0u64;
    let mut depth = 0u32;
    'value: loop {
        // At a value.
        match *b.get(i)? {
            open @ (b'{' | b'[') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
                stack = stack << 1 | u64::from(open == b'{');
                i = spaces(b, i + 1);
                let close = if open == b'{' { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    // Empty: what follows it comes next.
                    i += 1;
                    stack >>= 1;
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                } else {
                    if open == b'{' {
                        i = key(b, i)?;
                    }
                    continue 'value;
                }
            }
            _ => i = scalar(b, i)?.0,
        }
        // After a value: a comma and the next member, or closing brackets.
        loop {
            i = spaces(b, i);
            let in_object = stack & 1 == 1;
            match *b.get(i)? {
                b',' => {
                    i = spaces(b, i + 1);
                    if in_object {
                        i = key(b, i)?;
                    }
                    continue 'value;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            i += 1;
            stack >>= 1;
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
}

/// Skips a nested member's key and colon.
#[inline(always)]
fn key(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let i = spaces(b, string(b, i + 1)?.0);
    if b.get(i) != Some(&b':') {
        return None;
    }
    Some(spaces(b, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeDump;

    /// Both readers on one line: the same fields, or both an error.
    fn agree(line: &[u8]) -> Result<Comment<'_>, String> {
        let by_serde: Result<Comment, String> = fields::parse(line);
        let by_scan = comment(line);
        match (&by_serde, &by_scan) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(line)),
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!(
                "serde {by_serde:?} vs scan {by_scan:?} on {}",
                String::from_utf8_lossy(line)
            ),
        }
        // The top-level reading agrees too.
        let top = top_level(line);
        match (&by_serde, &top) {
            (Ok(c), Ok(t)) => {
                assert_eq!(c.top_level_thread(), t.as_ref().map(|t| &*t.thread));
                if let Some(t) = t {
                    assert_eq!(c.body.0, t.body);
                    assert_eq!(c.score.0, t.score);
                }
            }
            (Err(_), Err(_)) => {}
            _ => panic!("top level: {top:?} on {}", String::from_utf8_lossy(line)),
        }
        by_scan
    }

    /// Whether the scanner itself took the line (rather than leaving it to serde_json).
    fn scanned(line: &[u8]) -> bool {
        scan(line).and_then(|r| r.decode()).is_some()
    }

    #[test]
    fn reads_the_four_fields_and_skips_the_rest() {
        let line = br#"{"a":[1,{"body":"x"}],"link_id":"t3_ab","x":{"parent_id":"t1_q","k":[[],{}]},"parent_id":"t3_ab","body":"a 7","score":12,"z":"}"}"#;
        let c = agree(line).unwrap();
        assert!(scanned(line));
        assert_eq!(c.top_level_thread(), Some("ab"));
        assert_eq!(c.body.get(), Some("a 7"));
        assert_eq!(c.score, Number(Some(12.0)));
        let raw = scan(line).unwrap();
        assert_eq!(raw.body.unwrap().bytes(), br#""a 7""#);
        let t = top_level(line).unwrap().unwrap();
        assert!(matches!(t.thread, Cow::Borrowed("ab")));
        assert!(matches!(t.body, Some(Cow::Borrowed("a 7"))));
    }

    #[test]
    fn lenient_fields_as_fields_rs_reads_them() {
        let lines: &[&[u8]] = &[
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"7","score":"12"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"7","score":" 12.5 "}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"7","score":"abc"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"7","score":"1e999"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t1_x","body":null,"score":null}"#,
            br#"{"link_id":"ab","parent_id":"ab","body":7,"score":3.25}"#,
            br#"{"link_id":5,"parent_id":5,"body":-7,"score":-0}"#,
            br#"{"link_id":-0,"parent_id":-0,"body":1.5,"score":1e2}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","body":true,"score":false}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","body":[1,"a"],"score":{"a":1}}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","body":{},"score":[]}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","score":123456789012345678901234}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","score":-123456789012345678}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","score":1234567890123456789}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","score":0.1e-2}"#,
            br#"{"link_id":"t3_x","parent_id":"t3_x","score":0}"#,
            br#"{"link_id":"t3_x","parent_id":"T3_x"}"#,
            br#"{"link_id":"t3_","parent_id":"t3_"}"#,
            br#"{"link_id":"","parent_id":""}"#,
            br#"{"link_id":null,"parent_id":null}"#,
            br#"{"parent_id":"t3_x"}"#,
            br#"{"link_id":"t3_x"}"#,
            br#"{}"#,
            br#"  { }  "#,
        ];
        for line in lines {
            agree(line).unwrap();
        }
        let c = agree(lines[0]).unwrap();
        assert_eq!(c.score, Number(Some(12.0)));
        let c = agree(lines[6]).unwrap();
        assert_eq!(c.top_level_thread(), Some("5"));
        assert_eq!(c.body.get(), Some("-7"));
    }

    #[test]
    fn escapes_and_unicode() {
        let lines: &[&[u8]] = &[
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"esc\"aped \u00e9 7\n\\ \/ \b\f\r\t"}"#,
            br#"{"link_id":"t3_\u0061b","parent_id":"t3_ab","body":"x"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_a\u0062","body":"\ud83d\udc4d 8"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"\ud83d 8"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"\udc4d 8"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"\ud83d\u0041"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t1_c","body":"\ud83d\ud83d"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","x":"\ud83d lone surrogates are fine where nobody decodes"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"\x"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"\u12"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","body":"\u12g4"}"#,
            br#"{"link_id":"t3_ab","parent_id":"t3_ab","x":"\q"}"#,
            br#"{"link\u005fid":"t3_ab","parent_id":"t3_ab","body":"escaped key"}"#,
            br#"{"lin\"k_id":"t3_ab","parent_id":"t3_ab"}"#,
            "{\"link_id\":\"t3_é\",\"parent_id\":\"t3_é\",\"body\":\"😀 7 ünïcödé\"}".as_bytes(),
            "{\"cl\u{e9}\":\"t3_é\",\"body\":\"x\"}".as_bytes(),
            b"{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\",\"body\":\"\xff 7\"}",
            b"{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\",\"x\":\"\xff invalid UTF-8 nobody decodes\"}",
            b"{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\",\"\xff\":1}",
            b"{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\",\"body\":\"raw\ttab\"}",
            b"{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\",\"x\":\"raw\x01control\"}",
        ];
        for line in lines {
            let _ = agree(line);
        }
        assert_eq!(
            agree(lines[0]).unwrap().body.get(),
            Some("esc\"aped é 7\n\\ / \u{8}\u{c}\r\t")
        );
        assert_eq!(agree(lines[1]).unwrap().top_level_thread(), Some("ab"));
        assert_eq!(agree(lines[2]).unwrap().body.get(), Some("👍 8"));
        for bad in [3, 4, 5, 6, 8, 9, 10, 11, 16, 18, 19, 20] {
            assert!(agree(lines[bad]).is_err(), "{bad}");
        }
        assert!(agree(lines[7]).is_ok());
        assert!(agree(lines[17]).is_ok());
        assert_eq!(
            agree(lines[12]).unwrap().top_level_thread(),
            Some("ab"),
            "serde_json unescapes keys"
        );
        assert!(scanned(lines[0]) && scanned(lines[14]));
        assert!(!scanned(lines[12]) && !scanned(lines[17]));
    }

    #[test]
    fn keys_inside_strings_and_nested_values_are_not_fields() {
        let lines: &[&[u8]] = &[
            br#"{"x":"\"link_id\":\"t3_zz\"","link_id":"t3_a","parent_id":"t3_a","body":"1"}"#,
            br#"{"x":{"link_id":"t3_zz","body":"9"},"link_id":"t3_a","parent_id":"t3_a","body":"1"}"#,
            br#"{"x":[{"body":"9"},["score",5]],"link_id":"t3_a","parent_id":"t3_a"}"#,
            br#"{"body ":"9","Body":"8","link_id":"t3_a","parent_id":"t3_a"}"#,
            br#"{"x":"}{][","link_id":"t3_a","parent_id":"t3_a","body":"]}"}"#,
            br#"{"x":"a\\","link_id":"t3_a","parent_id":"t3_a","body":"\\\""}"#,
        ];
        for line in lines {
            let c = agree(line).unwrap();
            assert_eq!(c.top_level_thread(), Some("a"));
            assert!(scanned(line));
        }
        assert_eq!(agree(lines[1]).unwrap().body.get(), Some("1"));
        assert_eq!(agree(lines[2]).unwrap().body.get(), None);
        assert_eq!(agree(lines[4]).unwrap().body.get(), Some("]}"));
        assert_eq!(agree(lines[5]).unwrap().body.get(), Some("\\\""));
    }

    #[test]
    fn duplicate_keys_whitespace_and_crlf() {
        let dup = br#"{"link_id":"t3_a","parent_id":"t3_a","body":"1","body":"2"}"#;
        let e = agree(dup).unwrap_err();
        assert!(e.contains("duplicate field `body`"), "{e}");
        // Repeated keys serde_json ignores are fine.
        agree(br#"{"x":1,"x":2,"link_id":"t3_a","parent_id":"t3_a"}"#).unwrap();
        let spaced = br#"  {  "link_id" :  "t3_a" , "parent_id":"t3_a"  ,"x" : [ 1 , { "k" : null } , [ ] ] , "body" : "7" , "score" :  5 }   "#;
        assert_eq!(agree(spaced).unwrap().body.get(), Some("7"));
        assert!(scanned(spaced));
        for line in [
            &b"{\"link_id\":\"t3_a\",\r\n\t\"parent_id\":\"t3_a\",\"body\":\"7\"}\r\n"[..],
            b"\t{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\"}\r",
            b"{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\",\"body\":\"7\"}\r",
        ] {
            assert_eq!(agree(line).unwrap().top_level_thread(), Some("a"));
        }
        agree(b"\x0c{\"link_id\":\"t3_a\"}").unwrap_err();
    }

    #[test]
    fn malformed_lines_are_errors() {
        let lines: &[&[u8]] = &[
            b"{\"body\": \"truncated line, \"score",
            b"{not json",
            b"[1,2]",
            b"[{\"link_id\":\"t3_a\"}]",
            b"\"string\"",
            b"7",
            b"null",
            b"{",
            b"{\"a\"",
            b"{\"a\":",
            b"{\"a\":1",
            b"{\"a\":1,}",
            b"{\"a\":1,,\"b\":2}",
            b"{,\"a\":1}",
            b"{\"a\" 1}",
            b"{\"a\":1 \"b\":2}",
            b"{\"a\":1}}",
            b"{\"a\":1}x",
            b"{\"a\":1} {\"b\":2}",
            b"{\"a\":[1,2}",
            b"{\"a\":{\"b\":1]}",
            b"{\"a\":[1,]}",
            b"{\"a\":[,1]}",
            b"{\"a\":{\"b\"}}",
            b"{\"a\":{1:2}}",
            b"{\"a\":{\"b\":1,}}",
            b"{\"a\":[[[[]]]}",
            b"{\"a\":tru}",
            b"{\"a\":truex}",
            b"{\"a\":True}",
            b"{\"a\":nul}",
            b"{\"a\":NaN}",
            b"{\"a\":Infinity}",
            b"{\"a\":01}",
            b"{\"a\":-}",
            b"{\"a\":1.}",
            b"{\"a\":.5}",
            b"{\"a\":+1}",
            b"{\"a\":1e}",
            b"{\"a\":1e+}",
            b"{\"a\":--1}",
            b"{\"a\":0x10}",
            b"{\"a\":'x'}",
            b"{a:1}",
            b"{\"score\":01}",
            b"{\"score\":1.5.5}",
            b"{\"body\":\"unterminated}",
            b"{\"link_id\":\"t3_a\",\"parent_id\":\"t3_a\",\"body\":\"x\\",
        ];
        for line in lines {
            assert!(agree(line).is_err(), "{}", String::from_utf8_lossy(line));
            assert!(top_level(line).is_err());
        }
        assert_eq!(
            agree(b"[1,2]").unwrap_err(),
            "not a JSON object",
            "fields.rs's message"
        );
        // Numbers serde_json accepts.
        for n in [
            "0",
            "-0",
            "1",
            "-1",
            "0.5",
            "-0.5",
            "1e5",
            "1E+5",
            "1e-5",
            "1.5e3",
            "10",
            "9007199254740993",
        ] {
            let line =
                format!(r#"{{"a":{n},"b":[{n}],"link_id":"t3_a","parent_id":"t3_a","score":{n}}}"#);
            agree(line.as_bytes()).unwrap();
            assert!(scanned(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde_json() {
        for depth in [1, 63, 64, 65, 127, 128, 129, 300] {
            let line = format!(
                r#"{{"x":{}{},"link_id":"t3_a","parent_id":"t3_a"}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let c = agree(line.as_bytes()).unwrap();
            assert_eq!(c.top_level_thread(), Some("a"));
            assert_eq!(scanned(line.as_bytes()), depth <= 64, "{depth}");
            // As a field's value serde_json's recursion limit applies.
            let line = format!(
                r#"{{"body":{}{},"link_id":"t3_a","parent_id":"t3_a"}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let _ = agree(line.as_bytes());
        }
    }

    /// Generated dump lines (all the drift fake.rs plants), and mutations of them: every
    /// truncation point of some lines and single-byte changes.
    #[test]
    fn agrees_with_serde_json_on_generated_lines() {
        let spec = FakeDump {
            comments: 3000,
            per_post: 10,
            malformed_every: 300,
            seed: 5,
        };
        let mut text = Vec::new();
        spec.write_comments(&mut text).unwrap();
        let (mut ok, mut bad, mut top) = (0, 0, 0);
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match agree(line) {
                Ok(c) => {
                    ok += 1;
                    top += usize::from(c.top_level_thread().is_some());
                    assert!(scanned(line));
                }
                Err(_) => bad += 1,
            }
        }
        assert_eq!((ok, bad), (2990, 10));
        assert!(top > 1500, "{top}");

        let mut rng = rateme_util::rng::Rng::new(11, &[1]);
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').take(40).collect();
        for line in &lines[..3] {
            for cut in 0..line.len() {
                let _ = agree(&line[..cut]);
            }
        }
        // Bytes that matter to JSON, and a non-ASCII one.
        let bytes = b"\"\\{}[],: x0-.eE\tnul/u\xc3";
        let (mut accepted, mut total) = (0, 0);
        for _ in 0..30_000 {
            let line = lines[rng.below(lines.len())];
            let mut m = line.to_vec();
            for _ in 0..1 + rng.below(2) {
                let at = rng.below(m.len());
                let byte = bytes[rng.below(bytes.len())];
                match rng.below(3) {
                    0 => m[at] = byte,
                    1 => m.insert(at, byte),
                    _ => {
                        m.remove(at);
                    }
                }
            }
            total += 1;
            if agree(&m).is_ok() && scanned(&m) {
                accepted += 1;
            }
        }
        // Both paths were taken: lines the scanner read, and lines it left to serde_json.
        assert!(
            accepted > total / 10 && accepted < total * 9 / 10,
            "{accepted}/{total}"
        );
    }
}
