"""Parity fixtures for the heads plugin: RateMeAI's ComplexHead (github.com/Pop101/RateMeAI,
modules/complex_head.py at 72e04c7) inside each of RateMeAI's three model wrappers, and LAION's
aesthetic-predictor MLP (github.com/christophschuhmann/improved-aesthetic-predictor), with random
weights, saved under the references' own state-dict names, with the outputs PyTorch computes.

The reference classes are restated here (RateMeAI is not a package); they compute exactly what
RateMeAI's do and register the same submodules under the same names, so their state_dicts have
RateMeAI's keys.

Usage: head_fixtures.py OUT_DIR. Writes, in OUT_DIR:

cases.json: a list of cases, each
  {"name", "head": "attention-mlp"|"mlp", "options": what the head's options table gets,
   "in_features": width of the features the head takes, "weights": <name>.safetensors (the
   wrapper's whole state_dict, BatchNorm num_batches_tracked included), "io":
   <name>-io.safetensors ("input" [4, in_features] float32, standard normal; "output" [4, 1]
   float32, eval mode), "prefix": the wrapper's key prefix of the head, "dims": ComplexHead's
   widths, "params": parameters in the file, "reference": what was built}
head_param_counts.json: parameter counts (parameters only, no BatchNorm buffers) of the
  full-size heads: {"complex_head": {"2048": {"dims", "params"}, ...}, "clip_front_768": ...,
  "convnext_front_1024": ..., "mlp": {"768": ..., "1024": ...}}.

Weights are random but not trivial: BatchNorm running_mean ~ N(0, 0.2^2), running_var ~
U(0.5, 2), weight ~ U(0.5, 1.5), bias ~ N(0, 0.2^2); LayerNorm weight ~ U(0.5, 1.5), bias ~
N(0, 0.2^2); Linear weights keep the reference's init (ComplexHead: kaiming normal on the fan-out;
LAION's MLP and the ConvNeXt scale layer: PyTorch's default) and every Linear bias is N(0, 0.1^2).
Seeded and single-threaded: reruns write identical bytes.

Idempotent; rerun through scripts/head-fixtures.sh and commit OUT_DIR."""
import importlib.metadata
import os
import sys

import torch
from torch import nn
import safetensors.torch

sys.dont_write_bytecode = True  # importing fixture_io leaves no scripts/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import count, randomise_batchnorm, write_cases  # noqa: E402

VERSIONS = {p: importlib.metadata.version(p) for p in ["torch", "safetensors"]}
RATEMEAI = "RateMeAI 72e04c7 modules/complex_head.py"


# --- the references -----------------------------------------------------------------------------

def complex_head_dims(in_features, out_features=1, steps=5):
    """RateMeAI's mspace(in, max(out, 64), 5) + [out], each rounded by Python's round (half to
    even): `steps` points of the geometric progression from in_features towards max(out, 64),
    that end point excluded. The float expressions are RateMeAI's, term for term."""
    end = max(out_features, 64)
    factor = (end / in_features) ** (1 / steps)
    return [round(w) for w in [in_features * (factor ** i) for i in range(steps)] + [out_features]]


class ComplexHead(nn.Module):
    """RateMeAI's ComplexHead: four Linear-BatchNorm1d-LeakyReLU(0.2)-Dropout blocks through the
    widths d0..d4, Linear+BatchNorm1d skips from block 1's output into block 3's and from block
    2's into block 4's, a sigmoid gate (Linear d4->d4) multiplied in, and a Linear d4->out."""

    def __init__(self, in_features, out_features=1):
        super().__init__()
        d = self.dims = complex_head_dims(in_features, out_features)
        self.out_features = out_features

        def block(a, b, p):
            return nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b), nn.LeakyReLU(0.2),
                                 nn.Dropout(p))

        def skip(a, b):
            return nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b))

        # Registration order is RateMeAI's, so is the state_dict's key order.
        self.block1 = block(d[0], d[1], 0.1)
        self.block2 = block(d[1], d[2], 0.1)
        self.block3 = block(d[2], d[3], 0.1)
        self.block4 = block(d[3], d[4], 0.05)
        self.skip1_3 = skip(d[1], d[3])
        self.skip2_4 = skip(d[2], d[4])
        self.attention = nn.Sequential(nn.Linear(d[4], d[4]), nn.Sigmoid())
        self.output = nn.Linear(d[4], out_features)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        h1 = self.block1(x)
        h2 = self.block2(h1)
        h3 = self.block3(h2) + self.skip1_3(h1)
        h4 = self.block4(h3) + self.skip2_4(h2)
        h4 = h4 * self.attention(h4)
        return self.output(h4)


class LayerNorm2d(nn.Module):
    """RateMeAI's LayerNorm2d: normalises over the channels of each pixel, biased variance,
    (x - mean) / sqrt(var + eps), then per-channel affine."""

    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class EfficientNetFront(nn.Module):
    """RateMeAI's efficientnet_model.py (72e04c7): EfficientNet-PyTorch with `_fc` replaced by
    ComplexHead(num_ftrs). Only the head here: it takes the pooled features (eval mode: the
    model's dropout before `_fc` is the identity)."""

    def __init__(self, in_features):
        super().__init__()
        self._fc = ComplexHead(in_features, out_features=1)

    def forward(self, x):
        return self._fc(x)


def clip_front(in_features):
    """RateMeAI's clip_model.py (69ac4ad): nn.Sequential(ClipBaseModel (pooler_output),
    nn.LayerNorm(hidden), ComplexHead(hidden)); the backbone replaced by nn.Identity() here, so
    the keys are `1.*` and `2.*` as in RateMeAI's checkpoints."""
    return nn.Sequential(nn.Identity(), nn.LayerNorm(in_features),
                         ComplexHead(in_features, out_features=1))


class ConvNeXtFront(nn.Module):
    """RateMeAI's convnext_model.py (69ac4ad): torchvision ConvNeXt whose `classifier` (fed the
    [N, C, 1, 1] output of ConvNeXt's avgpool) is replaced by AdaptiveAvgPool2d((2, 2)) (which
    copies the single pixel to 2x2), LayerNorm2d(C), Flatten(1) (so each channel's value 4 times
    in a row: index 4c + k), ComplexHead(4C), Linear(1, 1) (scale layer). Takes the pooled
    features [N, C]."""

    def __init__(self, in_features):
        super().__init__()
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d((2, 2)),
            LayerNorm2d(in_features),
            nn.Flatten(1),
            ComplexHead(in_features * 2 * 2, out_features=1),
            nn.Linear(1, 1),
        )

    def forward(self, x):
        return self.classifier(x.view(x.shape[0], x.shape[1], 1, 1))


class AestheticMLP(nn.Module):
    """LAION improved-aesthetic-predictor's MLP (simple_inference.py): five Linear layers with
    dropout between them and no activations (their ReLUs are commented out)."""

    def __init__(self, input_size):
        super().__init__()
        self.input_size = input_size
        self.layers = nn.Sequential(
            nn.Linear(input_size, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, x):
        return self.layers(x)


CASES = [
    dict(name="efficientnet-front", head="attention-mlp", options={"front": "none"},
         in_features=64, build=EfficientNetFront, prefix="_fc.", seed=11,
         reference=f"{RATEMEAI}, efficientnet_model.py: EfficientNet._fc = ComplexHead(64)"),
    dict(name="clip-front", head="attention-mlp", options={"front": "layernorm"},
         in_features=48, build=clip_front, prefix="2.", seed=12,
         reference=f"{RATEMEAI}, clip_model.py 69ac4ad: nn.Sequential(nn.Identity(), "
                   "nn.LayerNorm(48), ComplexHead(48))"),
    dict(name="convnext-front", head="attention-mlp", options={"front": "convnext"},
         in_features=32, build=ConvNeXtFront, prefix="classifier.", seed=13,
         reference=f"{RATEMEAI}, convnext_model.py 69ac4ad: classifier = nn.Sequential("
                   "nn.AdaptiveAvgPool2d((2, 2)), LayerNorm2d(32), nn.Flatten(1), "
                   "ComplexHead(128), nn.Linear(1, 1)); input = pooled features [4, 32] "
                   "viewed as [4, 32, 1, 1]"),
    dict(name="mlp", head="mlp", options={}, in_features=40, build=AestheticMLP,
         prefix="layers.", seed=14,
         reference="improved-aesthetic-predictor simple_inference.py: MLP(40).layers"),
]


# --- fixtures -----------------------------------------------------------------------------------

def randomise(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                randomise_batchnorm(m, gen)
            elif isinstance(m, (nn.LayerNorm, LayerNorm2d)):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.2, generator=gen)
            elif isinstance(m, nn.Linear):
                m.bias.normal_(0.0, 0.1, generator=gen)


def run(model, x):
    model.eval()
    with torch.no_grad():
        return model(x).contiguous()


def make_case(case, out_dir):
    torch.manual_seed(case["seed"])
    model = case["build"](case["in_features"])
    gen = torch.Generator().manual_seed(1000 + case["seed"])
    randomise(model, gen)
    x = torch.randn(4, case["in_features"], generator=gen)
    y = run(model, x)
    spread = y.std().item()
    assert y.shape == (4, 1) and torch.isfinite(y).all() and spread > 0.05, (case["name"], y)

    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    assert all(k.startswith(case["prefix"]) or case["name"] == "clip-front" for k in sd)
    wname = case["name"] + ".safetensors"
    ioname = case["name"] + "-io.safetensors"
    safetensors.torch.save_file(sd, os.path.join(out_dir, wname))
    safetensors.torch.save_file({"input": x, "output": y}, os.path.join(out_dir, ioname))

    heads = [m for m in model.modules() if isinstance(m, ComplexHead)]
    entry = dict(name=case["name"], head=case["head"], options=case["options"],
                 in_features=case["in_features"], weights=wname, io=ioname,
                 prefix=case["prefix"], dims=heads[0].dims if heads else None,
                 params=count(model), reference=case["reference"])
    print(f"{case['name']}: output {y.flatten().tolist()}, {len(sd)} tensors, "
          f"{count(model)} parameters", file=sys.stderr)
    return entry


def verify(case, entry, out_dir):
    """A fresh reference (other random init) loaded strictly from the weights file computes
    exactly the stored output from the stored input."""
    torch.manual_seed(case["seed"] + 100)
    model = case["build"](case["in_features"])
    sd = safetensors.torch.load_file(os.path.join(out_dir, entry["weights"]))
    model.load_state_dict(sd, strict=True)
    io = safetensors.torch.load_file(os.path.join(out_dir, entry["io"]))
    assert torch.equal(run(model, io["input"]), io["output"]), case["name"]


def param_counts():
    with torch.device("meta"):
        complex_head = {}
        for n in [768, 1024, 1280, 1408, 1536, 1792, 2048, 2304, 2560, 4096]:
            h = ComplexHead(n)
            complex_head[str(n)] = dict(dims=h.dims, params=count(h))
        clip = clip_front(768)
        convnext = ConvNeXtFront(1024)
        mlp = {str(n): dict(params=count(AestheticMLP(n))) for n in [768, 1024]}
    want = {"2048": 3_136_513, "768": 684_349, "4096": 9_747_967}
    for n, params in want.items():
        assert complex_head[n]["params"] == params, (n, complex_head[n])
    return dict(
        versions=VERSIONS,
        complex_head=complex_head,
        clip_front_768=dict(params=count(clip), layernorm=count(clip[1]),
                            complex_head=count(clip[2])),
        convnext_front_1024=dict(params=count(convnext),
                                 layernorm2d=count(convnext.classifier[1]),
                                 complex_head=count(convnext.classifier[3]),
                                 scale=count(convnext.classifier[4]),
                                 dims=convnext.classifier[3].dims),
        mlp=mlp,
    )


def main(out_dir):
    write_cases(out_dir, CASES, make_case, verify, "head_param_counts.json", param_counts)


if __name__ == "__main__":
    main(sys.argv[1])
