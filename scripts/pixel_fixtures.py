"""Writes core/pixels/tests/fixtures/decode/: small images in every format and mode rateme-pixels
decodes (made with Pillow, plus a few 16-bit PNGs and a decompression-bomb header written by
hand below, since Pillow cannot write those), Pillow's decoded RGB for each (the reference:
exif_transpose, then convert("RGB"), or alpha composited over black), the bad inputs with
the error Pillow raises for them, and Pillow's pad-to-square + BILINEAR resize outputs.

Pixel data is stored raw (RGB8, row-major) in .rgb files; cases.json lists every case.
Deterministic: a rerun writes identical bytes. Run it through scripts/pixel-fixtures.sh."""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps

OUT = sys.argv[1]
W, H = 37, 23  # odd sizes: partial JPEG MCUs, odd pad remainders


def photo(w, h, seed):
    """Smooth colour waves plus noise: compresses like a photo, deterministic."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 5 + seed) * np.cos(y / 7)
    g = 255 * x / max(w - 1, 1)
    b = 255 * y / max(h - 1, 1)
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def alpha(w, h):
    """An alpha ramp with fully transparent and fully opaque corners."""
    y, x = np.mgrid[0:h, 0:w]
    a = (x * 255 // max(w - 1, 1) + y * 97) % 256
    a[0, :4] = 0
    a[-1, -4:] = 255
    return a.astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(w, h, bit_depth, colour_type, rows):
    """A minimal PNG (filter 0 rows), for the layouts Pillow cannot write (16-bit RGB(A), LA)."""
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0)
    data = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(data, 9)) + png_chunk(b"IEND", b""))


def exif(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def save(im, **kw):
    buf = io.BytesIO()
    im.save(buf, **kw)
    return buf.getvalue()


def pillow_rgb(data):
    """Pillow's decoding: what RateMeAI's loader saw (plus alpha over black)."""
    im = Image.open(io.BytesIO(data))
    im.load()
    im = ImageOps.exif_transpose(im)
    if im.mode.startswith("I;16"):
        # Pillow's convert("RGB") clips 16-bit grey at 255 (almost every pixel white); the
        # reference keeps the high byte, as Pillow itself does for 16-bit RGB(A) PNGs.
        return Image.fromarray((np.asarray(im) >> 8).astype(np.uint8), "L").convert("RGB")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        out = Image.new("RGB", im.size, (0, 0, 0))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return im.convert("RGB")


def pillow_error(data):
    """The exception Pillow raises opening and loading data, or None."""
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception as e:  # noqa: BLE001 - recording which one is the point
        return type(e).__name__
    return None


rgb = photo(W, H, 1)
rgba = np.dstack([photo(W, H, 2), alpha(W, H)])
grey = photo(W, H, 3)[:, :, 0]
im_rgb = Image.fromarray(rgb, "RGB")
im_rgba = Image.fromarray(rgba, "RGBA")
im_grey = Image.fromarray(grey, "L")
im_palette = im_rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
im_palette_t = im_palette.copy()
im_palette_t.info["transparency"] = 3
# CMYK with real black ink (Pillow's RGB->CMYK conversion leaves K at 0).
im_cmyk = Image.fromarray(np.dstack([photo(W, H, 4), photo(W, H, 5)[:, :, :1] // 2]), "CMYK")
im_la = Image.fromarray(np.dstack([grey, alpha(W, H)]), "LA")
# 16-bit samples that are not replicated bytes, so truncating and rounding differ.
rng16 = np.random.RandomState(16)
s16 = (rgb.astype(np.uint16) * 256 + rng16.randint(0, 256, rgb.shape)).astype(">u2")
a16 = (alpha(W, H).astype(np.uint16) * 257).astype(">u2")

# (name, file bytes, lossy): each decodes; its reference is Pillow's RGB.
decode_cases = [
    ("png_rgb.png", save(im_rgb, format="PNG"), False),
    ("png_rgba.png", save(im_rgba, format="PNG"), False),
    ("png_grey.png", save(im_grey, format="PNG"), False),
    ("png_grey_alpha.png", save(im_la, format="PNG"), False),
    ("png_palette.png", save(im_palette, format="PNG"), False),
    ("png_palette_trns.png", save(im_palette_t, format="PNG", transparency=3), False),
    ("png_rgb16.png", raw_png(W, H, 16, 2, [r.tobytes() for r in s16]), False),
    ("png_rgba16.png", raw_png(W, H, 16, 6,
                               [np.dstack([s16, a16])[i].tobytes() for i in range(H)]), False),
    ("png_grey16.png", save(Image.fromarray(s16[:, :, 0].astype(np.uint16)), format="PNG"),
     False),
    ("png_orient6.png", save(im_rgb, format="PNG", exif=exif(6)), False),
    ("png_named.jpg", save(im_rgb, format="PNG"), False),
    ("jpeg_420.jpg", save(im_rgb, format="JPEG", quality=90, subsampling=2), True),
    ("jpeg_422.jpg", save(im_rgb, format="JPEG", quality=90, subsampling=1), True),
    ("jpeg_444.jpg", save(im_rgb, format="JPEG", quality=90, subsampling=0), True),
    ("jpeg_progressive.jpg", save(im_rgb, format="JPEG", quality=85, progressive=True), True),
    ("jpeg_grey.jpg", save(im_grey, format="JPEG", quality=90), True),
    ("jpeg_cmyk.jpg", save(im_cmyk, format="JPEG", quality=90), True),
    ("jpeg_restart.jpg", save(im_rgb, format="JPEG", quality=90, restart_marker_blocks=2), True),
] + [
    (f"jpeg_orient{o}.jpg", save(im_rgb, format="JPEG", quality=90, exif=exif(o)), True)
    for o in range(1, 9)
] + [
    ("webp_lossless.webp", save(im_rgb, format="WEBP", lossless=True), False),
    ("webp_lossless_alpha.webp", save(im_rgba, format="WEBP", lossless=True), False),
    ("webp_lossy.webp", save(im_rgb, format="WEBP", quality=90, method=4), True),
    ("webp_orient3.webp", save(im_rgb, format="WEBP", lossless=True, exif=exif(3)), False),
    ("gif_anim.gif", save(im_palette_t, format="GIF", save_all=True, transparency=3,
                          append_images=[im_palette.rotate(180)], duration=100, loop=0), False),
    ("gif_grey.gif", save(im_grey, format="GIF"), False),
    ("bmp_rgb.bmp", save(im_rgb, format="BMP"), False),
    ("bmp_palette.bmp", save(im_palette, format="BMP"), False),
    ("tiff_rgb.tiff", save(im_rgb, format="TIFF", compression="tiff_lzw"), False),
    ("tiff_rgba.tiff", save(im_rgba, format="TIFF", compression="tiff_adobe_deflate"), False),
    ("tiff_grey.tiff", save(im_grey, format="TIFF"), False),
    ("tiff_cmyk.tiff", save(im_cmyk, format="TIFF"), False),
    ("tiff_orient8.tiff", save(im_rgb, format="TIFF", tiffinfo={0x0112: 8}), False),
]



def cut(data):
    """The first 80% of data: an interrupted download."""
    return data[: len(data) * 8 // 10]


made = {name: data for name, data, _ in decode_cases}
jpeg = made["jpeg_420.jpg"]
png = made["png_rgb.png"]
bomb_ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
bomb = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", bomb_ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000, 9)) + png_chunk(b"IEND", b""))
# An extended WebP (VP8X with the EXIF flag) around the lossy image, whose EXIF chunk declares
# 3.4 GB in a file of a few hundred bytes: the RIFF length is right, the chunk is not. Found by
# fuzzing (image-webp allocated the declared size when asked for the orientation).
vp8 = made["webp_lossy.webp"][12:]
vp8x = struct.pack("<I", 0x08) + (36).to_bytes(3, "little") + (22).to_bytes(3, "little")
webp_body = (b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + vp8
             + b"EXIF" + struct.pack("<I", 0xCB47_0000) + b"II*\0" * 4)
webp_exif_overrun = b"RIFF" + struct.pack("<I", len(webp_body)) + webp_body
garbage = b"\xff\xd8\xff" + np.random.RandomState(7).randint(0, 256, 300).astype(np.uint8).tobytes()
# (name, file bytes, expected Skip kind)
bad_cases = [
    ("empty.jpg", b"", "empty"),
    ("truncated.jpg", cut(jpeg), "truncated"),
    ("no_eoi.jpg", jpeg[:-2], "truncated"),
    ("truncated.png", cut(png), "truncated"),
    ("truncated.gif", cut(made["gif_grey.gif"]), "truncated"),
    ("truncated.webp", cut(made["webp_lossy.webp"]), "truncated"),
    ("truncated.bmp", cut(made["bmp_rgb.bmp"]), "truncated"),
    ("html.jpg", b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                 b"<body><h1>Not Found</h1></body></html>\n", "not-an-image"),
    ("text.png", b"Access denied\n", "not-an-image"),
    ("bomb.png", bomb, "too-large"),
    ("garbage.jpg", garbage, "corrupt"),
    ("webp_exif_overrun.webp", webp_exif_overrun, "corrupt"),
]

# Pad-to-square + resize inputs: (name, w, h, seed) and the outputs asked of each.
prepare_inputs = [("landscape", 97, 61, 11), ("portrait", 40, 75, 12), ("square", 50, 50, 13),
                  ("odd", 9, 4, 14)]
prepare_outputs = [(32, 32, True), (32, 32, False), (24, 16, True), (72, 72, True),
                   (50, 50, True)]


def pillow_prepare(im, w, h, pad):
    if pad:
        side = max(im.size)
        sq = Image.new("RGB", (side, side), (0, 0, 0))
        sq.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
        im = sq
    return im.resize((w, h), Image.BILINEAR)


os.makedirs(OUT, exist_ok=True)
written = []


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as fh:
        fh.write(data)
    written.append(name)


cases = {"pillow": PIL.__version__, "decode": [], "bad": [], "prepare": []}
for name, data, lossy in decode_cases:
    ref = pillow_rgb(data)
    stem = name.rsplit(".", 1)[0]
    write(name, data)
    write(stem + ".rgb", ref.tobytes())
    cases["decode"].append({"file": name, "expect": stem + ".rgb", "width": ref.width,
                            "height": ref.height, "lossy": lossy,
                            "pillow_mode": Image.open(io.BytesIO(data)).mode})
for name, data, kind in bad_cases:
    err = pillow_error(data)
    assert err is not None, f"Pillow accepts {name}"
    write(name, data)
    cases["bad"].append({"file": name, "kind": kind, "pillow_error": err})
for name, w, h, seed in prepare_inputs:
    src = Image.fromarray(photo(w, h, seed), "RGB")
    write(f"prep_{name}.rgb", src.tobytes())
    for ow, oh, pad in prepare_outputs:
        out = f"prep_{name}_{ow}x{oh}{'_pad' if pad else ''}.rgb"
        write(out, pillow_prepare(src, ow, oh, pad).tobytes())
        cases["prepare"].append({"input": f"prep_{name}.rgb", "in_width": w, "in_height": h,
                                 "width": ow, "height": oh, "pad": pad, "expect": out})
with open(os.path.join(OUT, "cases.json"), "w") as fh:
    json.dump(cases, fh, indent=1)
    fh.write("\n")
total = sum(os.path.getsize(os.path.join(OUT, n)) for n in written)
print(f"wrote {len(written) + 1} files, {total} bytes, to {OUT}", file=sys.stderr)
