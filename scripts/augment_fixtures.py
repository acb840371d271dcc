"""The torchvision reference of rateme's augmentation (see augment-fixtures.sh): writes one JSON
file of cases that core/pixels/tests/augment.rs replays.

- "colour": an image of u8 values (CHW, row-major), made float by `/ 255` as ToTensor does,
  through a list of (op, factor) steps of torchvision.transforms.functional; the float output.
- "resized_crop": RandomResizedCrop.get_params(img, scale, ratio) with torch's random calls
  replaced by a given list of uniform draws u in [0, 1): `uniform_(lo, hi)` fills lo + (hi-lo)*u,
  `randint(0, n)` returns floor(u*n); the box (top, left, height, width) and how many draws it
  took.
- "rotate": rotate(img, angle, BILINEAR) of a float image (the direction of the angle).
"""
import json
import math
import random
import sys

import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F

OPS = {
    "brightness": F.adjust_brightness,
    "contrast": F.adjust_contrast,
    "saturation": F.adjust_saturation,
    "hue": F.adjust_hue,
}


def image(rng, channels, height, width):
    """A u8 image with a few flat grey and saturated pixels mixed in (the HSV edge cases)."""
    values = [rng.randrange(256) for _ in range(channels * height * width)]
    plane = height * width
    for p in range(0, plane, 5):  # grey: r = g = b
        v = rng.randrange(256)
        for c in range(3):
            values[c * plane + p] = v
    for p in range(2, plane, 7):  # one channel at 255, one at 0
        values[p] = 255
        values[plane + p] = 0
    return values


def colour_case(rng, name, height, width, steps):
    u8 = image(rng, 3, height, width)
    x = torch.tensor(u8, dtype=torch.uint8).reshape(3, height, width).float() / 255
    for op, factor in steps:
        x = OPS[op](x, factor)
    return {
        "name": name,
        "height": height,
        "width": width,
        "input": u8,
        "steps": [[op, factor] for op, factor in steps],
        "output": [float(v) for v in x.flatten().tolist()],
    }


def resized_crop_case(name, width, height, scale, ratio, draws):
    """get_params with torch's random calls answered from draws."""
    queue = list(draws)
    used = [0]

    def take():
        used[0] += 1
        return queue.pop(0)

    real_uniform, real_randint = torch.Tensor.uniform_, torch.randint

    def fake_uniform(self, lo=0.0, hi=1.0, **_):
        lo, hi = float(lo), float(hi)
        return self.fill_(lo + (hi - lo) * take())

    def fake_randint(low, high, size, **_):
        return torch.tensor([low + math.floor(take() * (high - low))])

    torch.Tensor.uniform_, torch.randint = fake_uniform, fake_randint
    try:
        img = torch.zeros(3, height, width)
        top, left, h, w = T.RandomResizedCrop.get_params(img, list(scale), list(ratio))
    finally:
        torch.Tensor.uniform_, torch.randint = real_uniform, real_randint
    return {
        "name": name,
        "width": width,
        "height": height,
        "scale": list(scale),
        "ratio": list(ratio),
        "draws": draws,
        "used": used[0],
        "box": [top, left, h, w],
    }


def main(path):
    torch.set_num_threads(1)
    rng = random.Random(19)
    colour = [
        colour_case(rng, "brightness up", 5, 7, [("brightness", 1.35)]),
        colour_case(rng, "brightness down", 5, 7, [("brightness", 0.6)]),
        colour_case(rng, "contrast up", 6, 5, [("contrast", 1.4)]),
        colour_case(rng, "contrast down", 6, 5, [("contrast", 0.55)]),
        colour_case(rng, "saturation up", 4, 6, [("saturation", 1.7)]),
        colour_case(rng, "saturation down", 4, 6, [("saturation", 0.3)]),
        colour_case(rng, "hue plus", 6, 6, [("hue", 0.21)]),
        colour_case(rng, "hue minus", 6, 6, [("hue", -0.37)]),
        colour_case(rng, "hue half", 3, 4, [("hue", 0.5)]),
        colour_case(
            rng,
            "jitter chain",
            7,
            6,
            [("hue", 0.08), ("contrast", 0.8), ("brightness", 1.1), ("saturation", 1.25)],
        ),
        colour_case(
            rng,
            "jitter chain 2",
            5,
            5,
            [("saturation", 0.6), ("brightness", 0.9), ("hue", -0.12), ("contrast", 1.2)],
        ),
    ]
    draw_rng = random.Random(7)
    resized = []
    for k, (w, h, scale, ratio) in enumerate(
        [
            (456, 456, (0.08, 1.0), (3 / 4, 4 / 3)),
            (640, 480, (0.08, 1.0), (3 / 4, 4 / 3)),
            (300, 500, (0.25, 0.9), (0.5, 2.0)),
            (64, 64, (0.5, 1.0), (1.0, 1.0)),
            (33, 17, (0.08, 1.0), (3 / 4, 4 / 3)),
        ]
    ):
        for j in range(4):
            draws = [draw_rng.random() for _ in range(40)]
            resized.append(resized_crop_case(f"random {k}.{j}", w, h, scale, ratio, draws))
    # The fallbacks: 10 attempts that do not fit, then the central box clamped to the ratio.
    misses = [0.99, 0.99] * 10 + [0.5, 0.5]
    resized.append(resized_crop_case("fallback wide", 100, 10, (0.9, 1.0), (3 / 4, 4 / 3), misses))
    resized.append(resized_crop_case("fallback tall", 10, 100, (0.9, 1.0), (3 / 4, 4 / 3), misses))
    resized.append(
        resized_crop_case("fallback whole", 10, 10, (0.9, 1.0), (3 / 4, 4 / 3), misses)
    )
    resized.append(
        resized_crop_case("late fit", 50, 40, (0.1, 1.0), (3 / 4, 4 / 3), [0.999, 0.999] * 3 + [0.2, 0.3, 0.6, 0.1])
    )
    for case in resized:
        if case["name"].startswith("fallback"):
            assert case["used"] == 20, case

    u8 = image(rng, 3, 5, 5)
    x = torch.tensor(u8, dtype=torch.uint8).reshape(3, 5, 5).float() / 255
    rotated = F.rotate(x, 90.0, interpolation=T.InterpolationMode.BILINEAR)
    rotate = [
        {
            "name": "rotate 90",
            "height": 5,
            "width": 5,
            "angle": 90.0,
            "input": u8,
            "output": [float(v) for v in rotated.flatten().tolist()],
        }
    ]
    doc = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "colour": colour,
        "resized_crop": resized,
        "rotate": rotate,
    }
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=None, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
