//! Pad to a square and resize: the geometry RateMeAI applied before its transforms.

use std::cell::RefCell;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

thread_local! {
    /// One resizer per thread: it keeps its scratch buffers between images.
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

/// Pads `img` to a square with black when `pad_to_square` (centred; an odd remainder goes to
/// the right and bottom: left = (side − w) / 2, top = (side − h) / 2, RateMeAI's rule), then
/// resizes it to `width`×`height` with an antialiased bilinear convolution (Pillow's
/// `BILINEAR`, which torchvision's `Resize` uses on PIL images). Without padding the aspect
/// ratio is not kept. An empty input gives a black image.
pub fn prepare(img: &RgbImage, width: u32, height: u32, pad_to_square: bool) -> RgbImage {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 || width == 0 || height == 0 {
        return RgbImage::new(width, height);
    }
    let padded;
    let src = if pad_to_square && w != h {
        padded = pad(img);
        &padded
    } else {
        img
    };
    if src.dimensions() == (width, height) {
        return src.clone();
    }
    resize(src, width, height)
}

/// `img` centred on a black square whose side is its longer side.
fn pad(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let side = w.max(h);
    let (left, top) = ((side - w) / 2, (side - h) / 2);
    let mut out = RgbImage::new(side, side);
    let (row_in, row_out) = (w as usize * 3, side as usize * 3);
    let raw = out.as_mut();
    for (y, src) in img.as_raw().chunks_exact(row_in).enumerate() {
        let start = (top as usize + y) * row_out + left as usize * 3;
        raw[start..start + row_in].copy_from_slice(src);
    }
    out
}

/// Antialiased bilinear resize with fast_image_resize (SIMD).
fn resize(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    let view = ImageRef::new(src.width(), src.height(), src.as_raw(), PixelType::U8x3)
        .expect("an RgbImage's buffer matches its dimensions");
    let mut dst = Image::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    RESIZER.with(|r| {
        r.borrow_mut()
            .resize(&view, &mut dst, &options)
            .expect("source and destination are both U8x3");
    });
    RgbImage::from_raw(width, height, dst.into_vec()).expect("the destination is width×height")
}
