//! Image bytes to RGB8, with the reason a file cannot be used.
//!
//! The format comes from the magic bytes, never the extension. JPEG is decoded with
//! `jpeg-decoder` (DCT-domain downscaling when the caller allows a smaller image), the other
//! formats with the `image` crate. Every decoder is preceded by a pixel-count check on the
//! header, so a decompression bomb is refused before anything is allocated, and truncation
//! is detected structurally (JPEG end-of-image marker, PNG `IEND`, WebP RIFF chunk sizes) as
//! well as from decoder errors, because some decoders silently fill missing data.

use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage};

/// Limits that protect the loader from hostile or broken files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most pixels (width × height, from the header) an image may have.
    pub max_pixels: u64,
    /// Largest file, in bytes, that is read at all.
    pub max_file_bytes: u64,
}

impl Default for DecodeLimits {
    /// `max_pixels` = 89 478 485, Pillow's `Image.MAX_IMAGE_PIXELS` (2^30 / 4 / 3: a GiB at
    /// four bytes per pixel, shared by three channels), so every image RateMeAI's PIL pipeline
    /// opened without a bomb warning opens here too (a 12 000 × 7 400 photo), and an RGB8
    /// buffer at the limit is 256 MiB. `max_file_bytes` = 512 MiB: twice an uncompressed RGB8
    /// file at the pixel limit, so no legitimate 8-bit file is refused, while a mislabelled
    /// multi-GB file is not read into memory.
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 89_478_485,
            max_file_bytes: 512 << 20,
        }
    }
}

/// Why an image file is skipped. `Display` is one line saying what is wrong and what to do,
/// without the path (callers prefix it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Skip {
    /// The file does not exist.
    #[error("file not found: fix the path in the table or remove the row")]
    Missing,
    /// The file exists but cannot be read (permissions, a directory, an I/O error).
    #[error("cannot read the file ({message}): check its permissions")]
    Unreadable {
        /// The operating system's error.
        message: String,
    },
    /// The file has zero bytes.
    #[error(
        "file is empty (0 bytes): the download or copy failed; fetch it again or remove the row"
    )]
    Empty,
    /// The bytes are not an image at all.
    #[error(
        "not an image: the file holds {found} (often an error page saved as an image); fetch it again or remove the row"
    )]
    NotAnImage {
        /// What the bytes look like: "HTML", "text", "PDF", "unknown bytes 3c 21 ...".
        found: String,
    },
    /// An image format (or variant) this crate does not decode.
    #[error("unsupported image format: {format}; convert it to JPEG, PNG, WebP, GIF, BMP or TIFF")]
    Unsupported {
        /// The format or variant, e.g. "AVIF" or "JPEG (arithmetic coding)".
        format: String,
    },
    /// The header declares more pixels than `DecodeLimits::max_pixels`.
    #[error(
        "image is {width}x{height}, more than the limit of {limit} pixels: downscale it, or raise the limit if the file is trusted"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The pixel limit.
        limit: u64,
    },
    /// The file is larger than `DecodeLimits::max_file_bytes`.
    #[error(
        "file is {bytes} bytes, more than the limit of {limit}: shrink it, or raise the limit if the file is trusted"
    )]
    FileTooLarge {
        /// The file's size.
        bytes: u64,
        /// The byte limit.
        limit: u64,
    },
    /// The image data stops early (an interrupted download or copy).
    #[error(
        "image is cut short ({message}): the file is incomplete; fetch it again or remove the row"
    )]
    Truncated {
        /// What was missing.
        message: String,
    },
    /// The image data is damaged.
    #[error("image data is corrupt ({message}): re-encode or fetch it again, or remove the row")]
    Corrupt {
        /// The decoder's error.
        message: String,
    },
}

impl Skip {
    /// A short stable name for counting skips: "missing", "unreadable", "empty",
    /// "not-an-image", "unsupported", "too-large" (pixels or bytes), "truncated", "corrupt".
    pub fn kind(&self) -> &'static str {
        match self {
            Skip::Missing => "missing",
            Skip::Unreadable { .. } => "unreadable",
            Skip::Empty => "empty",
            Skip::NotAnImage { .. } => "not-an-image",
            Skip::Unsupported { .. } => "unsupported",
            Skip::TooLarge { .. } | Skip::FileTooLarge { .. } => "too-large",
            Skip::Truncated { .. } => "truncated",
            Skip::Corrupt { .. } => "corrupt",
        }
    }
}

/// What `probe` learns from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// "JPEG", "PNG", "WebP", "GIF", "BMP" or "TIFF".
    pub format: &'static str,
    /// Width after the EXIF orientation (what `decode_file` returns at full size).
    pub width: u32,
    /// Height after the EXIF orientation.
    pub height: u32,
}

/// The formats decoded, as found by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jpeg,
    Png,
    WebP,
    Gif,
    Bmp,
    Tiff,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::WebP => "WebP",
            Format::Gif => "GIF",
            Format::Bmp => "BMP",
            Format::Tiff => "TIFF",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::WebP => ImageFormat::WebP,
            Format::Gif => ImageFormat::Gif,
            Format::Bmp => ImageFormat::Bmp,
            Format::Tiff => ImageFormat::Tiff,
        }
    }
}

/// Bytes `sniff` needs to tell formats and text apart.
const SNIFF_BYTES: usize = 1024;

/// The format of `head` (the file's first bytes), or why it is not one we decode.
fn sniff(head: &[u8]) -> Result<Format, Skip> {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(Format::Gif);
    }
    if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return Ok(Format::WebP);
    }
    if starts(b"BM") && head.len() >= 26 {
        return Ok(Format::Bmp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Ok(Format::Tiff);
    }
    let unsupported = |f: &str| {
        Err(Skip::Unsupported {
            format: f.to_string(),
        })
    };
    if head.get(4..8) == Some(b"ftyp") {
        let brand = head.get(8..12).unwrap_or_default();
        return match brand {
            b"avif" | b"avis" => unsupported("AVIF"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
                unsupported("HEIC/HEIF")
            }
            _ => Err(Skip::NotAnImage {
                found: "an ISO media file (MP4/MOV video?)".to_string(),
            }),
        };
    }
    if starts(b"\0\0\0\x0cjP  ") || starts(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return unsupported("JPEG 2000");
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL ") {
        return unsupported("JPEG XL");
    }
    if starts(b"8BPS") {
        return unsupported("PSD");
    }
    if starts(b"qoif") {
        return unsupported("QOI");
    }
    if starts(&[0, 0, 1, 0]) {
        return unsupported("ICO");
    }
    if starts(&[0x76, 0x2F, 0x31, 0x01]) {
        return unsupported("OpenEXR");
    }
    let not = |f: &str| {
        Err(Skip::NotAnImage {
            found: f.to_string(),
        })
    };
    if starts(b"%PDF") {
        return not("PDF");
    }
    if starts(b"PK\x03\x04") {
        return not("a ZIP archive");
    }
    if starts(&[0x1F, 0x8B]) {
        return not("gzip data");
    }
    // Text: skip a UTF-8 BOM and leading whitespace, then look at the first tag.
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let lower: Vec<u8> = text[start..].iter().map(u8::to_ascii_lowercase).collect();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if lower.starts_with(b"<") && has(b"<svg") {
        return unsupported("SVG");
    }
    if lower.starts_with(b"<!doctype html")
        || lower.starts_with(b"<html")
        || lower.starts_with(b"<head")
        || lower.starts_with(b"<body")
        || (lower.starts_with(b"<") && has(b"<html"))
    {
        return not("HTML");
    }
    if lower.starts_with(b"<?xml") {
        return not("XML");
    }
    let printable = |b: &u8| b.is_ascii_graphic() || b.is_ascii_whitespace() || *b >= 0x80;
    if !text.is_empty() && text.iter().all(printable) && std::str::from_utf8(text).is_ok()
        || text.len() == SNIFF_BYTES && text.iter().all(printable)
    {
        if lower.starts_with(b"{") || lower.starts_with(b"[") {
            return not("JSON or other text");
        }
        return not("text");
    }
    let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let more = if head.len() > 8 { " ..." } else { "" };
    not(&format!("unknown bytes {}{more}", hex.join(" ")))
}

/// The `Skip` for an I/O error opening or reading `path`.
fn io_skip(e: &io::Error) -> Skip {
    match e.kind() {
        io::ErrorKind::NotFound => Skip::Missing,
        _ => Skip::Unreadable {
            message: e.to_string(),
        },
    }
}

/// Opens `path` and checks its size against the limits.
fn open(path: &Path, limits: &DecodeLimits) -> Result<(std::fs::File, u64), Skip> {
    let file = std::fs::File::open(path).map_err(|e| io_skip(&e))?;
    let meta = file.metadata().map_err(|e| io_skip(&e))?;
    if meta.is_dir() {
        return Err(Skip::Unreadable {
            message: "it is a directory".to_string(),
        });
    }
    let bytes = meta.len();
    if bytes == 0 {
        return Err(Skip::Empty);
    }
    if bytes > limits.max_file_bytes {
        return Err(Skip::FileTooLarge {
            bytes,
            limit: limits.max_file_bytes,
        });
    }
    Ok((file, bytes))
}

/// Refuses an image whose header declares more than `limits.max_pixels` pixels.
fn check_pixels(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), Skip> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Skip::TooLarge {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(Skip::Corrupt {
            message: format!("header declares a {width}x{height} image"),
        });
    }
    Ok(())
}

/// The `image` crate's limits for `limits`: our own pixel check runs first, these bound what
/// a decoder may allocate besides (16-bit RGBA at the pixel limit, 8 bytes a pixel).
fn image_limits(limits: &DecodeLimits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(1 << 20));
    l
}

/// Reads only the header of `path`: its format and its size after the EXIF orientation.
/// Cheap (a few KB read for most files), for checking a whole dataset up front; it does not
/// notice truncated or corrupt pixel data (decoding does), except a WebP file's RIFF structure,
/// which it checks (`webp_structure`) before anything reads its metadata.
pub fn probe(path: &Path, limits: &DecodeLimits) -> Result<Header, Skip> {
    let (file, file_len) = open(path, limits)?;
    let mut reader = BufReader::new(file);
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| io_skip(&e))?;
    let format = sniff(&head)?;
    if format == Format::WebP {
        webp_structure(&mut reader, file_len)?;
    }
    reader.seek(SeekFrom::Start(0)).map_err(|e| io_skip(&e))?;
    let (width, height, orientation) = guarded(|| match format {
        Format::Jpeg => jpeg_header(&mut reader),
        _ => {
            let mut r = ImageReader::with_format(reader, format.image_format());
            r.limits(image_limits(limits));
            let mut dec = r.into_decoder().map_err(|e| image_skip(e, format))?;
            let (w, h) = dec.dimensions();
            let o = dec.orientation().unwrap_or(Orientation::NoTransforms);
            Ok((w, h, o))
        }
    })?;
    check_pixels(width, height, limits)?;
    let (width, height) = if swaps_sides(orientation) {
        (height, width)
    } else {
        (width, height)
    };
    Ok(Header {
        format: format.name(),
        width,
        height,
    })
}

/// Whether `o` turns the image by 90° (width and height swap).
fn swaps_sides(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Walks a JPEG's marker segments up to the frame header: (width, height, EXIF orientation).
fn jpeg_header(r: &mut impl Read) -> Result<(u32, u32, Orientation), Skip> {
    let eof = |e: io::Error| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Skip::Truncated {
                message: "the JPEG ends inside its header".to_string(),
            }
        } else {
            io_skip(&e)
        }
    };
    let mut b2 = [0u8; 2];
    r.read_exact(&mut b2).map_err(eof)?;
    let mut orientation = Orientation::NoTransforms;
    loop {
        // Find the next marker, skipping fill bytes and stray data.
        let mut b = [0u8; 1];
        r.read_exact(&mut b).map_err(eof)?;
        if b[0] != 0xFF {
            continue;
        }
        let mut m = 0xFF;
        while m == 0xFF {
            r.read_exact(&mut b).map_err(eof)?;
            m = b[0];
        }
        if m == 0 || (0xD0..=0xD8).contains(&m) || m == 0x01 {
            continue;
        }
        if m == 0xD9 || m == 0xDA {
            return Err(Skip::Corrupt {
                message: "no frame header before the image data".to_string(),
            });
        }
        r.read_exact(&mut b2).map_err(eof)?;
        let len = usize::from(u16::from_be_bytes(b2));
        if len < 2 {
            return Err(Skip::Corrupt {
                message: format!("marker segment of length {len}"),
            });
        }
        let mut body = vec![0u8; len - 2];
        r.read_exact(&mut body).map_err(eof)?;
        let is_sof = (0xC0..=0xCF).contains(&m) && !matches!(m, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            if body.len() < 5 {
                return Err(Skip::Corrupt {
                    message: "short frame header".to_string(),
                });
            }
            let h = u32::from(u16::from_be_bytes([body[1], body[2]]));
            let w = u32::from(u16::from_be_bytes([body[3], body[4]]));
            return Ok((w, h, orientation));
        }
        if m == 0xE1
            && let Some(exif) = body.strip_prefix(b"Exif\0\0")
            && let Some(o) = Orientation::from_exif_chunk(exif)
        {
            orientation = o;
        }
    }
}

/// Checks that a JPEG's segments and entropy-coded data run to its end-of-image marker.
/// Decoders (zune-jpeg and jpeg-decoder alike) fill a cut-off scan with grey or zeros and
/// succeed; libjpeg warns "premature end of data", and Pillow then refuses the file
/// (`LOAD_TRUNCATED_IMAGES = False`). This does the same at the cost of a byte scan.
fn jpeg_complete(b: &[u8]) -> Result<(), Skip> {
    let truncated = |what: &str| Skip::Truncated {
        message: format!("JPEG ends {what}, before its end-of-image marker"),
    };
    let mut pos = 2;
    loop {
        // Next marker: skip stray bytes (libjpeg warns and does the same) and fill bytes.
        let ff = b
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
            .ok_or_else(|| truncated("between segments"))?;
        pos += ff;
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let m = *b.get(pos).ok_or_else(|| truncated("inside a marker"))?;
        pos += 1;
        match m {
            0xD9 => return Ok(()),
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        let len = match b.get(pos..pos + 2) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(truncated("inside a segment header")),
        };
        if len < 2 {
            return Err(Skip::Corrupt {
                message: format!("JPEG marker segment of length {len}"),
            });
        }
        pos += len;
        if pos > b.len() {
            return Err(truncated("inside a marker segment"));
        }
        if m == 0xDA {
            // Entropy-coded data: runs to the next 0xFF not followed by 0x00 (stuffing) or a
            // restart marker.
            loop {
                let ff = b
                    .get(pos..)
                    .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
                    .ok_or_else(|| truncated("inside the image data"))?;
                pos += ff;
                match b.get(pos + 1) {
                    None => return Err(truncated("inside the image data")),
                    Some(0x00 | 0xD0..=0xD7 | 0xFF) => pos += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

/// Checks that a PNG's chunks run to `IEND`.
fn png_complete(b: &[u8]) -> Result<(), Skip> {
    let mut pos = 8usize;
    loop {
        let Some(h) = b.get(pos..pos + 8) else {
            return Err(Skip::Truncated {
                message: "PNG ends before its IEND chunk".to_string(),
            });
        };
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let end = pos.saturating_add(12).saturating_add(len);
        if end > b.len() {
            return Err(Skip::Truncated {
                message: format!(
                    "PNG ends inside its {} chunk",
                    String::from_utf8_lossy(&h[4..8])
                ),
            });
        }
        if &h[4..8] == b"IEND" {
            return Ok(());
        }
        pos = end;
    }
}

/// Checks a WebP file's RIFF structure before a decoder reads it: the file is as long as its
/// RIFF header says (else `Truncated`), and every chunk, and every frame's sub-chunk in an
/// animation, lies inside the RIFF data (else `Corrupt`). image-webp trusts a chunk's declared
/// size and allocates it whole when the chunk is read (EXIF for the orientation, found by
/// fuzzing: a 2 KB file asking for 3.4 GB), so no decoder sees a file this check refuses.
/// `r` is positioned anywhere; `file_len` is the file's length in bytes.
fn webp_structure<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<(), Skip> {
    let mut word = [0u8; 4];
    let mut read_u32 = |r: &mut R, at: u64| -> Result<u32, Skip> {
        r.seek(SeekFrom::Start(at)).map_err(|e| io_skip(&e))?;
        r.read_exact(&mut word).map_err(|e| io_skip(&e))?;
        Ok(u32::from_le_bytes(word))
    };
    if file_len < 12 {
        return Err(Skip::Truncated {
            message: format!("WebP file has {file_len} bytes, fewer than its 12-byte header"),
        });
    }
    let riff_end = u64::from(read_u32(r, 4)?) + 8;
    if riff_end > file_len {
        return Err(Skip::Truncated {
            message: format!(
                "WebP file has {file_len} of the {riff_end} bytes its header declares"
            ),
        });
    }
    // (start, end) of the chunk lists still to walk: the file's, then each animation frame's.
    let mut lists = vec![(12u64, riff_end)];
    while let Some((mut pos, end)) = lists.pop() {
        while pos + 8 <= end {
            let fourcc = read_u32(r, pos)?.to_le_bytes();
            let size = u64::from(read_u32(r, pos + 4)?);
            let data_end = pos + 8 + size;
            if data_end > end {
                return Err(Skip::Corrupt {
                    message: format!(
                        "WebP chunk {:?} at byte {pos} declares {size} bytes, past the end of \
                         its RIFF data at byte {end}",
                        String::from_utf8_lossy(&fourcc)
                    ),
                });
            }
            // An animation frame: 16 bytes of frame header, then the frame's own chunks.
            if &fourcc == b"ANMF" && size > 16 {
                lists.push((pos + 8 + 16, data_end));
            }
            pos = data_end + (size & 1);
        }
    }
    Ok(())
}

/// Runs a decoder, turning a panic (a decoder bug on hostile input) into `Corrupt`, so one bad
/// file cannot take a training run down. The fuzz target still sees the panic (libFuzzer's
/// panic hook aborts first).
fn guarded<T>(f: impl FnOnce() -> Result<T, Skip>) -> Result<T, Skip> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Skip::Corrupt {
            message: format!("the decoder failed: {what}"),
        })
    })
}

/// Decodes the file at `path` (see `decode_bytes`). The file is read whole after its size is
/// checked against `limits.max_file_bytes`.
pub fn decode_file(
    path: &Path,
    limits: &DecodeLimits,
    min_side: Option<u32>,
) -> Result<RgbImage, Skip> {
    let (mut file, len) = open(path, limits)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(|e| io_skip(&e))?;
    decode_bytes(&bytes, limits, min_side)
}

/// Decodes an image to RGB8: format from the magic bytes, EXIF orientation applied, grey,
/// palette, CMYK and 16-bit converted (16-bit keeps the high byte, as Pillow does), alpha
/// composited over black (the colour of the padding `prepare` adds).
///
/// `min_side`: the decoder may return a smaller image whose longer side is still at least
/// `min_side` (JPEG: DCT-domain downscaling by 2, 4 or 8, which is several times faster than
/// a full decode); `None` decodes at full size.
pub fn decode_bytes(
    bytes: &[u8],
    limits: &DecodeLimits,
    min_side: Option<u32>,
) -> Result<RgbImage, Skip> {
    if bytes.is_empty() {
        return Err(Skip::Empty);
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(Skip::FileTooLarge {
            bytes: bytes.len() as u64,
            limit: limits.max_file_bytes,
        });
    }
    let format = sniff(&bytes[..bytes.len().min(SNIFF_BYTES)])?;
    let (rgb, orientation) = guarded(|| match format {
        Format::Jpeg => decode_jpeg(bytes, limits, min_side, JpegDecoder::Fastest),
        _ => decode_image(bytes, format, limits),
    })?;
    Ok(orient(rgb, orientation))
}

/// Applies an EXIF orientation.
fn orient(img: RgbImage, o: Orientation) -> RgbImage {
    if o == Orientation::NoTransforms {
        return img;
    }
    let mut d = DynamicImage::ImageRgb8(img);
    d.apply_orientation(o);
    d.into_rgb8()
}

/// The scale factor (1, 2, 4 or 8) to decode a `w`×`h` JPEG at, keeping the longer side at
/// least `min_side`.
fn jpeg_scale(w: u32, h: u32, min_side: Option<u32>) -> u32 {
    let Some(min) = min_side else { return 1 };
    let longer = w.max(h);
    [8, 4, 2]
        .into_iter()
        .find(|&s| longer.div_ceil(s) >= min)
        .unwrap_or(1)
}

/// Which JPEG decoder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JpegDecoder {
    /// jpeg-decoder when DCT scaling applies, else zune-jpeg (faster at full size).
    Fastest,
    /// Always jpeg-decoder (tests compare both with Pillow).
    #[cfg(test)]
    JpegDecoder,
}

/// JPEG: zune-jpeg (through `image`) at full size, jpeg-decoder when it can downscale in the
/// DCT domain (zune-jpeg cannot); the crate README has the measurements.
fn decode_jpeg(
    bytes: &[u8],
    limits: &DecodeLimits,
    min_side: Option<u32>,
    which: JpegDecoder,
) -> Result<(RgbImage, Orientation), Skip> {
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.read_info().map_err(jpeg_skip)?;
    let info = d.info().ok_or_else(|| Skip::Corrupt {
        message: "no JPEG frame header".to_string(),
    })?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    check_pixels(w, h, limits)?;
    // After the header parsed (so random bytes behind a JPEG signature are corrupt, not cut).
    jpeg_complete(bytes)?;
    let s = jpeg_scale(w, h, min_side);
    if s == 1 && which == JpegDecoder::Fastest {
        return decode_image(bytes, Format::Jpeg, limits);
    }
    if s > 1 {
        let to16 = |v: u32| u16::try_from(v.div_ceil(s)).unwrap_or(u16::MAX);
        d.scale(to16(w), to16(h)).map_err(jpeg_skip)?;
    }
    d.set_max_decoding_buffer_size(
        usize::try_from(limits.max_pixels.saturating_mul(8)).unwrap_or(usize::MAX),
    );
    let px = d.decode().map_err(jpeg_skip)?;
    let info = d.info().ok_or_else(|| Skip::Corrupt {
        message: "no JPEG frame header".to_string(),
    })?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let orientation = d
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    use jpeg_decoder::PixelFormat;
    let rgb: Vec<u8> = match info.pixel_format {
        PixelFormat::RGB24 => px,
        PixelFormat::L8 => px.iter().flat_map(|&v| [v, v, v]).collect(),
        PixelFormat::L16 => px
            .chunks_exact(2)
            .flat_map(|v| [v[0], v[0], v[0]])
            .collect(),
        PixelFormat::CMYK32 => px
            .chunks_exact(4)
            .flat_map(|p| {
                let nk = 255 - p[3];
                [0, 1, 2].map(|i| nk - mul_div255(p[i], nk))
            })
            .collect(),
    };
    let img = RgbImage::from_raw(w, h, rgb).ok_or_else(|| Skip::Corrupt {
        message: "decoder returned fewer pixels than its header declares".to_string(),
    })?;
    Ok((img, orientation))
}

/// The `Skip` for a jpeg-decoder error.
fn jpeg_skip(e: jpeg_decoder::Error) -> Skip {
    match e {
        jpeg_decoder::Error::Unsupported(f) => Skip::Unsupported {
            format: format!("JPEG ({f:?})"),
        },
        jpeg_decoder::Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => Skip::Truncated {
            message: e.to_string(),
        },
        e => Skip::Corrupt {
            message: e.to_string(),
        },
    }
}

/// Every other format with the `image` crate.
fn decode_image(
    bytes: &[u8],
    format: Format,
    limits: &DecodeLimits,
) -> Result<(RgbImage, Orientation), Skip> {
    let mut r = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    r.limits(image_limits(limits));
    let mut dec = r.into_decoder().map_err(|e| image_skip(e, format))?;
    let (w, h) = dec.dimensions();
    check_pixels(w, h, limits)?;
    // After the header parsed (so random bytes behind a signature are corrupt, not cut).
    match format {
        Format::Png => png_complete(bytes)?,
        Format::WebP => webp_structure(&mut Cursor::new(bytes), bytes.len() as u64)?,
        _ => {}
    }
    let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(dec).map_err(|e| image_skip(e, format))?;
    Ok((to_rgb8(img), orientation))
}

/// The `Skip` for an `image` crate error.
fn image_skip(e: ImageError, format: Format) -> Skip {
    match e {
        ImageError::Unsupported(u) => Skip::Unsupported {
            format: format!("{} ({u})", format.name()),
        },
        // Our header check passed, so the data asks a decoder for more than it should.
        ImageError::Limits(l) => Skip::Corrupt {
            message: format!("the decoder needs more memory than the limits allow: {l}"),
        },
        e => {
            let message = e.to_string();
            if is_eof(&e) {
                Skip::Truncated { message }
            } else {
                Skip::Corrupt { message }
            }
        }
    }
}

/// Whether an error (or any error it wraps) means the data ended early.
fn is_eof(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::UnexpectedEof
        {
            return true;
        }
        let text = err.to_string().to_ascii_lowercase();
        if text.contains("unexpected eof")
            || text.contains("unexpected end")
            || text.contains("end of file")
            || text.contains("truncated")
            || text.contains("failed to fill whole buffer")
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// round(a · b / 255), exactly (Pillow's `MULDIV255`).
fn mul_div255(a: u8, b: u8) -> u8 {
    let t = u32::from(a) * u32::from(b) + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// Any decoded image to RGB8: grey replicated, 16-bit to its high byte (as Pillow reads
/// 16-bit PNG and TIFF), floats clamped to 0..1, alpha composited over black.
fn to_rgb8(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let buf: Vec<u8> = match img {
        DynamicImage::ImageRgb8(i) => return i,
        DynamicImage::ImageLuma8(i) => i.into_raw().iter().flat_map(|&v| [v, v, v]).collect(),
        DynamicImage::ImageLumaA8(i) => i
            .into_raw()
            .chunks_exact(2)
            .flat_map(|p| [mul_div255(p[0], p[1]); 3])
            .collect(),
        DynamicImage::ImageRgba8(i) => i
            .into_raw()
            .chunks_exact(4)
            .flat_map(|p| [0, 1, 2].map(|c| mul_div255(p[c], p[3])))
            .collect(),
        DynamicImage::ImageRgb16(i) => i.into_raw().iter().map(|&v| (v >> 8) as u8).collect(),
        DynamicImage::ImageLuma16(i) => i
            .into_raw()
            .iter()
            .flat_map(|&v| [(v >> 8) as u8; 3])
            .collect(),
        DynamicImage::ImageLumaA16(i) => i
            .into_raw()
            .chunks_exact(2)
            .flat_map(|p| [mul_div255((p[0] >> 8) as u8, (p[1] >> 8) as u8); 3])
            .collect(),
        DynamicImage::ImageRgba16(i) => i
            .into_raw()
            .chunks_exact(4)
            .flat_map(|p| [0, 1, 2].map(|c| mul_div255((p[c] >> 8) as u8, (p[3] >> 8) as u8)))
            .collect(),
        other => {
            // 32-bit float and any future layout: through RGBA32F, composited over black.
            let f = other.into_rgba32f();
            f.into_raw()
                .chunks_exact(4)
                .flat_map(|p| {
                    let a = p[3].clamp(0.0, 1.0);
                    [0, 1, 2].map(|c| (p[c].clamp(0.0, 1.0) * a * 255.0).round() as u8)
                })
                .collect()
        }
    };
    RgbImage::from_raw(w, h, buf).unwrap_or_else(|| RgbImage::new(w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div255_rounds_exactly() {
        for a in 0..=255u32 {
            for b in 0..=255u32 {
                let want = ((a * b) as f64 / 255.0).round() as u32;
                assert_eq!(u32::from(mul_div255(a as u8, b as u8)), want, "{a}*{b}");
            }
        }
    }

    #[test]
    fn jpeg_scale_keeps_the_longer_side() {
        assert_eq!(jpeg_scale(1000, 700, None), 1);
        assert_eq!(jpeg_scale(1000, 700, Some(456)), 2);
        assert_eq!(jpeg_scale(1000, 700, Some(500)), 2);
        assert_eq!(jpeg_scale(1000, 700, Some(501)), 1);
        assert_eq!(jpeg_scale(700, 4000, Some(456)), 8);
        assert_eq!(jpeg_scale(100, 80, Some(456)), 1);
    }

    /// The jpeg-decoder path at full size (the public API only takes it when downscaling)
    /// against Pillow's decoding, with the tolerance of tests/decode.rs.
    #[test]
    fn jpeg_decoder_matches_pillow_too() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decode");
        let mut worst = (0u8, 0f64);
        for entry in std::fs::read_dir(&dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !(name.starts_with("jpeg_") && name.ends_with(".jpg")) {
                continue;
            }
            let bytes = std::fs::read(&path).expect("fixture");
            let limits = DecodeLimits::default();
            let (img, o) = decode_jpeg(&bytes, &limits, None, JpegDecoder::JpegDecoder)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let img = orient(img, o);
            let want = std::fs::read(path.with_extension("rgb")).expect("reference");
            assert_eq!(img.as_raw().len(), want.len(), "{name}");
            let d: Vec<u8> = img
                .as_raw()
                .iter()
                .zip(&want)
                .map(|(a, b)| a.abs_diff(*b))
                .collect();
            let max = d.iter().copied().max().unwrap_or(0);
            let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
            worst = (worst.0.max(max), worst.1.max(mean));
            assert!(max <= 4 && mean <= 0.3, "{name}: max {max}, mean {mean:.3}");
        }
        println!(
            "jpeg-decoder vs Pillow: max {}, mean {:.3}",
            worst.0, worst.1
        );
    }

    #[test]
    fn sniff_names_what_it_finds() {
        let found = |b: &[u8]| match sniff(b) {
            Err(Skip::NotAnImage { found }) => found,
            other => panic!("{other:?}"),
        };
        assert_eq!(found(b"\xEF\xBB\xBF  <!DOCTYPE html><html>"), "HTML");
        assert_eq!(found(b"hello world\n"), "text");
        assert_eq!(found(b"%PDF-1.4"), "PDF");
        assert_eq!(found(&[0, 1, 2, 3]), "unknown bytes 00 01 02 03");
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif"),
            Err(Skip::Unsupported {
                format: "AVIF".to_string()
            })
        );
    }
}
