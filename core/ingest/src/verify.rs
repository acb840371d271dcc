//! Is a downloaded body a whole image? Rejects empty bodies, HTML error pages, other formats,
//! truncated files (the format's end marker is missing) and anything that does not decode.

use image::ImageFormat;

/// A verified image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// File extension for its format (`jpg`, `png`, `webp`).
    pub ext: &'static str,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

/// Why a body is not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Zero bytes.
    #[error("empty")]
    Empty,
    /// An HTML page (error pages, login walls).
    #[error("html page")]
    Html,
    /// Not a known image format.
    #[error("not an image")]
    NotAnImage,
    /// An image format the data pipeline does not read (e.g. GIF).
    #[error("unsupported format")]
    Unsupported,
    /// The file ends before the format's end marker.
    #[error("truncated")]
    Truncated,
    /// The decoder failed.
    #[error("does not decode")]
    Corrupt,
    /// Imgur's placeholder for a deleted image.
    #[error("removed by host")]
    RemovedByHost,
}

/// Checks `bytes` (the body of `final_url`).
pub fn verify(bytes: &[u8], final_url: &str) -> Result<Verified, Rejected> {
    if bytes.is_empty() {
        return Err(Rejected::Empty);
    }
    // Imgur redirects deleted images to a small placeholder PNG.
    if final_url.ends_with("/removed.png") {
        return Err(Rejected::RemovedByHost);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<head") {
        return Err(Rejected::Html);
    }
    let format = image::guess_format(bytes).map_err(|_| Rejected::NotAnImage)?;
    let ext = match format {
        ImageFormat::Jpeg => "jpg",
        ImageFormat::Png => "png",
        ImageFormat::WebP => "webp",
        _ => return Err(Rejected::Unsupported),
    };
    if !complete(bytes, format) {
        return Err(Rejected::Truncated);
    }
    let img = image::load_from_memory_with_format(bytes, format).map_err(|_| Rejected::Corrupt)?;
    Ok(Verified {
        ext,
        width: img.width(),
        height: img.height(),
    })
}

/// Whether the file reaches its format's end: JPEG's EOI marker after the last scan, PNG's
/// IEND chunk, WebP's RIFF length. Decoders often accept a cut file and fill it with grey.
fn complete(b: &[u8], format: ImageFormat) -> bool {
    match format {
        ImageFormat::Jpeg => {
            let last_sos = b.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            let last_eoi = b.windows(2).rposition(|w| w == [0xFF, 0xD9]);
            matches!((last_sos, last_eoi), (Some(s), Some(e)) if e > s)
        }
        ImageFormat::Png => {
            let tail = &b[b.len().saturating_sub(64)..];
            tail.windows(4).any(|w| w == b"IEND")
        }
        ImageFormat::WebP => {
            b.len() >= 12 && {
                let riff = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
                b.len() >= riff + 8
            }
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small test image, encoded.
    pub(crate) fn encoded(format: ImageFormat, seed: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8 ^ seed, (y * 5) as u8, seed.wrapping_mul(7)])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut out, format)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn whole_images_pass() {
        for (f, ext) in [(ImageFormat::Jpeg, "jpg"), (ImageFormat::Png, "png")] {
            let v = verify(&encoded(f, 3), "https://x/a").unwrap();
            assert_eq!((v.ext, v.width, v.height), (ext, 64, 48));
        }
    }

    #[test]
    fn bad_bodies_are_named() {
        let jpg = encoded(ImageFormat::Jpeg, 1);
        let png = encoded(ImageFormat::Png, 1);
        assert_eq!(verify(b"", "u"), Err(Rejected::Empty));
        assert_eq!(
            verify(b"\n<!DOCTYPE html><html><body>Not found</body></html>", "u"),
            Err(Rejected::Html)
        );
        assert_eq!(
            verify(&[0x13, 0x37, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "u"),
            Err(Rejected::NotAnImage)
        );
        assert_eq!(
            verify(b"GIF89a\x01\x00\x01\x00", "u"),
            Err(Rejected::Unsupported)
        );
        assert_eq!(
            verify(&jpg[..jpg.len() * 2 / 3], "u"),
            Err(Rejected::Truncated)
        );
        assert_eq!(
            verify(&png[..png.len() - 20], "u"),
            Err(Rejected::Truncated)
        );
        assert_eq!(
            verify(&png, "https://i.imgur.com/removed.png"),
            Err(Rejected::RemovedByHost)
        );
        // Whole markers around garbage: the decoder has the last word.
        let mut fake = vec![0xFF, 0xD8, 0xFF, 0xDA];
        fake.extend(std::iter::repeat_n(0x55, 100));
        fake.extend([0xFF, 0xD9]);
        assert_eq!(verify(&fake, "u"), Err(Rejected::Corrupt));
    }
}
