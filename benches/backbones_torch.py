"""PyTorch eager forward+backward throughput of the reference backbones on the same threads:
`backbones_torch.py <model> <batch> <iterations> <threads>` prints `images_per_s <value>`: the
batch over the median time of one forward+backward step after a warm-up step, as rateme's
`fwdbwd` measures it.
Models (random weights; the features rateme's plugin returns for the same variant):
EfficientNet-PyTorch B5 at 456, ml-illustrated's Lite0 (as scripts/lite_reference.py rebuilds
it) at 224, torchvision ConvNeXt-Base (pooled, classifier norm) and ViT-B/16 (class token) at
224, open_clip's ViT-B-32-quickgelu image tower (post-norm class token, no projection) at 224."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))


def build(name):
    """The model, its features function and its input size."""
    if name == "efficientnet/b5":
        from efficientnet_pytorch import EfficientNet
        model = EfficientNet.from_name("efficientnet-b5")
        return model, lambda x: model.extract_features(x).mean(dim=(2, 3)), 456
    if name == "efficientnet/lite0":
        import lite_reference
        model = lite_reference.lite("lite0")
        return model, model.features, 224
    if name == "convnext/base":
        from torchvision.models import convnext_base
        model = convnext_base()
        head_norm = model.classifier[:2]
        return model, lambda x: head_norm(model.avgpool(model.features(x))), 224
    if name == "vit/b16":
        from torchvision.models import vit_b_16
        model = vit_b_16()

        def features(x):
            tokens = model._process_input(x)
            cls = model.class_token.expand(x.shape[0], -1, -1)
            return model.encoder(torch.cat([cls, tokens], dim=1))[:, 0]
        return model, features, 224
    if name == "clip/vit-b32":
        import open_clip
        model = open_clip.create_model("ViT-B-32-quickgelu", pretrained=None).visual
        model.proj = None
        return model, model, 224
    raise SystemExit(f"unknown model {name}")


def main(name, batch, iterations, threads):
    torch.set_num_threads(threads)
    model, features, size = build(name)
    model.train()

    def step():
        x = torch.randn(batch, 3, size, size)
        # As an optimizer's zero_grad leaves them: the backward writes fresh gradients.
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        features(x).sum().backward()
        return time.perf_counter() - start

    step()
    seconds = sorted(step() for _ in range(max(iterations, 1)))
    mid = len(seconds) // 2
    median = seconds[mid] if len(seconds) % 2 else (seconds[mid - 1] + seconds[mid]) / 2
    print(f"images_per_s {batch / median:.3f}")
    print(f"step_s min {seconds[0]:.3f} median {median:.3f} max {seconds[-1]:.3f}", file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
