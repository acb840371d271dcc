"""Parity fixtures for the EfficientNet backbone plugin: small EfficientNets with random weights,
built by the two reference libraries (lukemelas' efficientnet-pytorch and torchvision), saved in
the checkpoint formats users bring, with the pooled features PyTorch computes for a random input.

Usage: efficientnet_fixtures.py OUT_DIR. Writes, in OUT_DIR:

cases.json: a list of cases, each
  {"name", "variant": "b0".."b7",
   "options": {"flavour": "efficientnet-pytorch"|"torchvision", "input_size": S,
               "width_mult": w, "depth_mult": d}   (what the plugin's options table gets),
   "scheme": "efficientnet-pytorch"|"torchvision"  (key naming of the weights file),
   "weights": file name, "weights_format": "torch-legacy"|"torch-zip"|"safetensors",
   "state_dict_key": null or the key the state_dict is nested under in the checkpoint,
   "io": file name, "feature_dim": F, "bn_eps": eps of every BatchNorm,
   "backbone_params": parameters of the reduced model without its classifier,
   "reference": the library, its version and the constructor call}
  <name>.pth / <name>.safetensors: the weights, classifier included (built with 10 classes
  instead of 1000 to keep the files small). lukemelas-b0.pth: legacy (pre-zip) torch.save of
  {"model_state_dict": sd, "epoch": 3} with non-contiguous tensors and shared storages (see
  scramble_layouts); lukemelas-b5.pth: zip torch.save of the plain state_dict;
  torchvision-b0.safetensors: the plain state_dict; torchvision-b5.pth: zip torch.save of
  {"state_dict": sd, "epoch": 3}.
  <name>-io.safetensors: "input" [2,3,S,S] float32 (standard normal) and "features" [2,F]
  float32, the globally average-pooled output of the last conv stage in eval mode (no dropout, no
  classifier).
param_counts.json: parameter counts of the full-size reference models b0..b7 in both libraries,
  with their native input size, width/depth/dropout, BatchNorm settings, stem/stage/head widths.

Weights are random but not trivial: BatchNorm running_mean ~ N(0, 0.2^2), running_var ~
U(0.5, 2), weight ~ U(0.5, 1.5), bias ~ N(0, 0.2^2); conv and linear biases that the library sets
to zero get N(0, 0.1^2); each conv weight keeps the values its library initialised it with,
multiplied by one factor per conv chosen so that the conv's output has std 1 on a batch of random
inputs (layer-sequential unit variance), so activations neither vanish nor explode through the
random BatchNorms. Everything is seeded and single-threaded: reruns write identical bytes.

Idempotent; rerun through scripts/efficientnet-fixtures.sh and commit OUT_DIR."""
import importlib.metadata
import inspect
import os
import re
import sys
from functools import partial

import torch
from torch import nn
import torchvision.models.efficientnet as tv
from efficientnet_pytorch import EfficientNet as LukeEfficientNet
from efficientnet_pytorch.utils import efficientnet_params, round_filters, round_repeats
import safetensors.torch

sys.dont_write_bytecode = True  # importing fixture_io leaves no scripts/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import count, legacy_save, randomise_batchnorm, write_cases  # noqa: E402

VARIANTS = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"]
NUM_CLASSES = 10  # the references' default is 1000; the backbone ignores the classifier
VERSIONS = {p: importlib.metadata.version(p)
            for p in ["torch", "torchvision", "efficientnet-pytorch", "safetensors"]}

CASES = [
    # TF-SAME padding at odd sizes: 50 -> 25 -> 13 -> 7 -> 4 -> 2.
    dict(name="lukemelas-b0", variant="b0", flavour="efficientnet-pytorch", width=0.25, depth=0.5,
         size=50, format="torch-legacy", nest="model_state_dict", seed=1),
    dict(name="lukemelas-b5", variant="b5", flavour="efficientnet-pytorch", width=0.3, depth=0.4,
         size=64, format="torch-zip", nest=None, seed=2),
    dict(name="torchvision-b0", variant="b0", flavour="torchvision", width=0.25, depth=0.5,
         size=64, format="safetensors", nest=None, seed=3),
    dict(name="torchvision-b5", variant="b5", flavour="torchvision", width=0.3, depth=0.4,
         size=72, format="torch-zip", nest="state_dict", seed=4),
]


# --- reference models ---------------------------------------------------------------------------

def tv_norm_layer(variant):
    """The norm_layer torchvision's efficientnet_bN builder passes (b0..b4: the default
    nn.BatchNorm2d, eps 1e-5, momentum 0.1)."""
    if variant in ("b5", "b6", "b7"):
        return partial(nn.BatchNorm2d, eps=0.001, momentum=0.01), \
            "norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01), "
    return None, ""


def tv_builder_dropout(variant):
    return {"b0": 0.2, "b1": 0.2, "b2": 0.3, "b3": 0.3, "b4": 0.4, "b5": 0.4, "b6": 0.5,
            "b7": 0.5}[variant]


def build(case):
    v, w, d, s = case["variant"], case["width"], case["depth"], case["size"]
    if case["flavour"] == "efficientnet-pytorch":
        model = LukeEfficientNet.from_name(f"efficientnet-{v}", width_coefficient=w,
                                           depth_coefficient=d, image_size=s,
                                           num_classes=NUM_CLASSES)
        ref = (f"efficientnet-pytorch {VERSIONS['efficientnet-pytorch']}: "
               f"EfficientNet.from_name('efficientnet-{v}', width_coefficient={w}, "
               f"depth_coefficient={d}, image_size={s}, num_classes={NUM_CLASSES})")
    else:
        setting, last_channel = tv._efficientnet_conf(f"efficientnet_{v}", width_mult=w,
                                                      depth_mult=d)
        norm, norm_src = tv_norm_layer(v)
        kwargs = {} if norm is None else {"norm_layer": norm}
        dropout = tv_builder_dropout(v)
        model = tv.EfficientNet(setting, dropout=dropout, last_channel=last_channel,
                                num_classes=NUM_CLASSES, **kwargs)
        ref = (f"torchvision {VERSIONS['torchvision']}: setting, last_channel = "
               f"torchvision.models.efficientnet._efficientnet_conf('efficientnet_{v}', "
               f"width_mult={w}, depth_mult={d}); EfficientNet(setting, dropout={dropout}, "
               f"last_channel=last_channel, {norm_src}num_classes={NUM_CLASSES})")
    return model, ref


def classifier_prefix(flavour):
    return "_fc." if flavour == "efficientnet-pytorch" else "classifier."


def features(model, flavour, x):
    model.eval()
    with torch.no_grad():
        if flavour == "efficientnet-pytorch":
            y = model._avg_pooling(model.extract_features(x)).flatten(1)
        else:
            y = torch.flatten(model.avgpool(model.features(x)), 1)
    return y.contiguous()


def randomise(model, flavour, size, gen):
    """BatchNorm statistics and affine as documented above, zero biases made random, then each
    conv weight multiplied by the factor that gives that conv's output std 1 on a batch of random
    inputs (in forward order, in eval mode: layer-sequential unit variance), so that activations
    neither vanish nor explode with BatchNorm statistics that do not match them."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                randomise_batchnorm(m, gen)
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                if m.bias is not None and not m.bias.any():
                    m.bias.normal_(0.0, 0.1, generator=gen)
        x = torch.randn(4, 3, size, size, generator=gen)
        for conv in [m for m in model.modules() if isinstance(m, nn.Conv2d)]:
            seen = []
            hook = conv.register_forward_hook(lambda mod, inp, out: seen.append(out.std()))
            features(model, flavour, x)
            hook.remove()
            conv.weight.mul_(1.0 / seen[0])


# --- checkpoint files ---------------------------------------------------------------------------

def scramble_layouts(sd):
    """Same values, other memory layouts, as checkpoints from other code paths have them:
    every dense 4-D conv weight stored channels-in-major (w.transpose(0,1).contiguous()
    .transpose(0,1)), the classifier weight transposed (w.t().contiguous().t()), the stem
    BatchNorm's weight and bias two rows of one [2, C] storage (bias at storage offset C), and the
    head BatchNorm's running_mean and running_var the two columns of one [C, 2] storage (stride 2,
    offsets 0 and 1). Returns the new dict and the names of the tensors it re-laid out."""
    out = dict(sd)
    changed = []
    for k, t in sd.items():
        if t.dim() == 4 and t.shape[0] > 1 and t.shape[1] > 1:
            out[k] = t.transpose(0, 1).contiguous().transpose(0, 1)
            changed.append(k)
    out["_fc.weight"] = sd["_fc.weight"].t().contiguous().t()
    changed.append("_fc.weight")
    pair = torch.stack([sd["_bn0.weight"], sd["_bn0.bias"]])
    out["_bn0.weight"], out["_bn0.bias"] = pair[0], pair[1]
    cols = torch.stack([sd["_bn1.running_mean"], sd["_bn1.running_var"]], dim=1)
    out["_bn1.running_mean"], out["_bn1.running_var"] = cols[:, 0], cols[:, 1]
    changed += ["_bn0.weight", "_bn0.bias", "_bn1.running_mean", "_bn1.running_var"]
    for k in changed:
        assert torch.equal(out[k], sd[k])
    assert not out["_fc.weight"].is_contiguous() and not out["_bn1.running_var"].is_contiguous()
    assert out["_bn0.bias"].storage_offset() == sd["_bn0.bias"].numel()
    return out, changed


def save_weights(case, sd, path):
    if case["format"] == "safetensors":
        safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, path)
        return
    obj = sd if case["nest"] is None else {case["nest"]: sd, "epoch": 3}
    if case["format"] == "torch-legacy":
        legacy_save(obj, path)
    else:
        torch.save(obj, path)


def load_weights(case, path):
    if case["format"] == "safetensors":
        return safetensors.torch.load_file(path)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    return obj if case["nest"] is None else obj[case["nest"]]


# --- full-size reference facts ------------------------------------------------------------------

def luke_stages(model):
    stages = []
    for a in model._blocks_args:
        gp = model._global_params
        stages.append(dict(expand=a.expand_ratio, kernel=a.kernel_size, stride=a.stride[0],
                           in_ch=round_filters(a.input_filters, gp),
                           out_ch=round_filters(a.output_filters, gp),
                           repeats=round_repeats(a.num_repeat, gp)))
    return stages


def tv_stages(model):
    stages = []
    for stage in list(model.features)[1:-1]:
        first = stage[0]
        convs = [m for m in first.block.modules() if isinstance(m, nn.Conv2d)]
        dw = [c for c in convs if c.groups > 1][0]
        in_ch = convs[0].in_channels
        stages.append(dict(expand=dw.in_channels // in_ch, kernel=dw.kernel_size[0],
                           stride=dw.stride[0], in_ch=in_ch, out_ch=first.out_channels,
                           repeats=len(stage)))
    return stages


def bn_of(model):
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    return dict(eps=bn.eps, momentum=bn.momentum)


def param_counts():
    out = {"torchvision": {}, "efficientnet-pytorch": {}}
    for v in VARIANTS:
        with torch.device("meta"):
            builder = getattr(tv, f"efficientnet_{v}")
            m = builder()
        wd = re.search(r'_efficientnet_conf\("efficientnet_%s", width_mult=([\d.]+), '
                       r'depth_mult=([\d.]+)\)' % v, inspect.getsource(builder))
        weights = getattr(tv, f"EfficientNet_{v.upper()}_Weights").DEFAULT
        tf = weights.transforms()
        total = count(m.parameters())
        assert total == weights.meta["num_params"], (v, total, weights.meta["num_params"])
        out["torchvision"][v] = dict(
            total=total, classifier=count(m.classifier.parameters()),
            backbone=total - count(m.classifier.parameters()),
            width_mult=float(wd.group(1)), depth_mult=float(wd.group(2)),
            dropout=m.classifier[0].p, bn=bn_of(m),
            input_size=tf.crop_size[0], resize_size=tf.resize_size[0],
            interpolation=tf.interpolation.value, weights=str(weights),
            stem=m.features[0][0].out_channels, stages=tv_stages(m),
            head=m.features[-1][0].out_channels, feature_dim=m.classifier[1].in_features)
        with torch.device("meta"):
            m = LukeEfficientNet.from_name(f"efficientnet-{v}")
        w, d, res, p = efficientnet_params(f"efficientnet-{v}")
        gp = m._global_params
        total = count(m.parameters())
        out["efficientnet-pytorch"][v] = dict(
            total=total, fc=count(m._fc.parameters()), backbone=total - count(m._fc.parameters()),
            width_mult=w, depth_mult=d, dropout=p, drop_connect_rate=gp.drop_connect_rate,
            bn=dict(eps=m._bn0.eps, momentum=m._bn0.momentum), input_size=res,
            stem=m._conv_stem.out_channels, stages=luke_stages(m),
            head=m._conv_head.out_channels, feature_dim=m._fc.in_features)
    assert out["torchvision"]["b5"]["total"] == 30_389_784
    return out


# --- main ---------------------------------------------------------------------------------------

def make_case(case, out_dir):
    torch.manual_seed(case["seed"])
    model, ref = build(case)
    gen = torch.Generator().manual_seed(1000 + case["seed"])
    randomise(model, case["flavour"], case["size"], gen)
    model.eval()
    s = case["size"]
    x = torch.randn(2, 3, s, s, generator=gen)
    f = features(model, case["flavour"], x)
    std = f.std().item()
    spread = (f[0] - f[1]).std().item()  # how much the features depend on the input
    assert 0.1 < std < 10 and 0.05 < spread and torch.isfinite(f).all(), (case["name"], std)

    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    changed = []
    if case["format"] == "torch-legacy":
        sd, changed = scramble_layouts(sd)
    ext = ".safetensors" if case["format"] == "safetensors" else ".pth"
    wname = case["name"] + ext
    save_weights(case, sd, os.path.join(out_dir, wname))
    ioname = case["name"] + "-io.safetensors"
    safetensors.torch.save_file({"input": x.contiguous(), "features": f},
                                os.path.join(out_dir, ioname))

    # The file holds what we meant: same values, and for torch files the same layouts.
    back = load_weights(case, os.path.join(out_dir, wname))
    assert sorted(back) == sorted(sd)
    for k, t in sd.items():
        assert back[k].dtype == t.dtype and torch.equal(back[k], t), k
        if case["format"] != "safetensors":
            assert back[k].stride() == t.stride(), k
            assert back[k].storage_offset() == t.storage_offset(), k
    for k in changed:
        if k != "_bn0.weight":  # row 0 of the [2, C] storage: contiguous at offset 0
            assert not back[k].is_contiguous() or back[k].storage_offset() > 0, k

    prefix = classifier_prefix(case["flavour"])
    backbone = count(p for n, p in model.named_parameters() if not n.startswith(prefix))
    bn_eps = {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    assert len(bn_eps) == 1
    entry = dict(name=case["name"], variant=case["variant"],
                 options=dict(flavour=case["flavour"], input_size=s, width_mult=case["width"],
                              depth_mult=case["depth"]),
                 scheme=case["flavour"], weights=wname, weights_format=case["format"],
                 state_dict_key=case["nest"], io=ioname, feature_dim=f.shape[1],
                 bn_eps=bn_eps.pop(), backbone_params=backbone, reference=ref)
    print(f"{case['name']}: features {tuple(f.shape)} std {std:.3f} (between the two inputs "
          f"{spread:.3f}), backbone params "
          f"{backbone}, {len(sd)} tensors" + (f", {len(changed)} re-laid out" if changed else ""),
          file=sys.stderr)
    return entry


def verify(case, entry, out_dir):
    """A fresh reference model (other random init) loaded strictly from the weights file computes
    exactly the stored features from the stored input."""
    torch.manual_seed(case["seed"] + 100)
    model, _ = build(case)
    missing = model.load_state_dict(load_weights(case, os.path.join(out_dir, entry["weights"])),
                                    strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    io = safetensors.torch.load_file(os.path.join(out_dir, entry["io"]))
    f = features(model, case["flavour"], io["input"])
    assert torch.equal(f, io["features"]), case["name"]


def main(out_dir):
    write_cases(out_dir, CASES, make_case, verify, "param_counts.json",
                lambda: dict(versions=VERSIONS, **param_counts()))


if __name__ == "__main__":
    main(sys.argv[1])
