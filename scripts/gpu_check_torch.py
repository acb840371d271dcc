"""PyTorch's side of scripts/gpu-check.sh: the training images/s of one of RateMeAI's four
models (backbone + RateMeAI's ComplexHead behind the same front as the run in
experiments/all_backbones.toml), built from torchvision and transformers with random weights,
trained as rateme trains it: MSE, AdamW (lr 1e-3, weight decay 1e-5), global-norm clipping at
1.0, on one batch of synthetic images that stays on the device. Two modes: `eager` (float32)
and `amp` (torch.autocast bfloat16, float32 weights and loss).

  gpu_check_torch.py RUN SIZE BATCH WARMUP STEPS DEVICE [THREADS]

RUN is the run's name in all_backbones.toml (efficientnet-b5, convnext-base, vit-b16,
clip-vit-b32). Prints one JSON line per mode: {"run", "mode", "images_per_s", "step_ms",
"fwd_flops_per_image" (torch.utils.flop_counter, one forward at batch 1), "device_name"}.
Only torch, torchvision and transformers are needed (what the GPU machine has); the head
classes are head_fixtures.py's restatement of RateMeAI's."""
import json
import os
import sys
import time

import torch
from torch import nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from head_fixtures import ComplexHead, ConvNeXtFront, clip_front  # noqa: E402


class Model(nn.Module):
    def __init__(self, features, head):
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x):
        return self.head(self.features(x))


def build(run, size):
    """Backbone features (as rateme's plugin for the run returns them) and the run's head."""
    import torchvision.models as tv
    if run == "efficientnet-b5":
        net = tv.efficientnet_b5()
        # EfficientNet-PyTorch's model as RateMeAI fed its head: pooled, dropout 0.4.
        features = nn.Sequential(net.features, net.avgpool, nn.Flatten(1), nn.Dropout(0.4))
        return Model(features, ComplexHead(2048))
    if run == "convnext-base":
        net = tv.convnext_base()
        # head_norm = false: the bare pooled features into the head's ConvNeXt front.
        features = nn.Sequential(net.features, net.avgpool, nn.Flatten(1))
        return Model(features, ConvNeXtFront(1024))
    if run == "vit-b16":
        net = tv.vit_b_16(image_size=size)

        class ClassToken(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, x):
                tokens = self.net._process_input(x)
                cls = self.net.class_token.expand(x.shape[0], -1, -1)
                return self.net.encoder(torch.cat([cls, tokens], dim=1))[:, 0]
        return Model(ClassToken(), ComplexHead(768))
    if run == "clip-vit-b32":
        from transformers import CLIPVisionConfig, CLIPVisionModel
        config = CLIPVisionConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                  num_attention_heads=12, patch_size=32, image_size=size,
                                  hidden_act="quick_gelu", layer_norm_eps=1e-5)
        net = CLIPVisionModel(config)

        class Pooler(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net(pixel_values=x).pooler_output
        return Model(Pooler(), clip_front(768))
    raise SystemExit(f"unknown run {run}")


def forward_flops(model, size, device):
    from torch.utils.flop_counter import FlopCounterMode
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, size, size, device=device))
    model.train()
    return counter.get_total_flops()


def measure(model, size, batch, warmup, steps, device, amp):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-5)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.rand(batch, 1, device=device) * 10

    def step():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(x)
        loss = nn.functional.mse_loss(pred.float(), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    def sync(loss):
        value = loss.item()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return value

    loss = None
    for _ in range(warmup):
        loss = step()
    if loss is not None:
        sync(loss)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    value = sync(loss)
    seconds = time.perf_counter() - start
    if value != value or value in (float("inf"), float("-inf")):
        raise SystemExit(f"non-finite loss {value}")
    return batch * steps / seconds, seconds * 1e3 / steps


def main(run, size, batch, warmup, steps, device, threads=None):
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device)
    torch.manual_seed(0)
    model = build(run, size).to(device)
    flops = forward_flops(model, size, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    for mode in ("eager", "amp"):
        rate, step_ms = measure(model, size, batch, warmup, steps, device, mode == "amp")
        print(json.dumps({"run": run, "mode": mode, "images_per_s": rate, "step_ms": step_ms,
                          "fwd_flops_per_image": flops, "device_name": name}), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), a[5], int(a[6]) if len(a) > 6 else None)
