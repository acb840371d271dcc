"""PyTorch eager forward+backward throughput of the reference EfficientNets (EfficientNet-PyTorch
B5, ml-illustrated's Lite0 as scripts/lite_reference.py rebuilds it) on the same threads:
`efficientnet_torch.py <model> <batch> <iterations> <threads>` prints `images_per_s <value>`."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))


def build(name):
    if name == "b5":
        from efficientnet_pytorch import EfficientNet
        model = EfficientNet.from_name("efficientnet-b5")
        return model, lambda x: model.extract_features(x).mean(dim=(2, 3)), 456
    if name == "lite0":
        import lite_reference
        model = lite_reference.lite("lite0")
        return model, model.features, 224
    raise SystemExit(f"unknown model {name}")


def main(name, batch, iterations, threads):
    torch.set_num_threads(threads)
    model, features, size = build(name)
    model.train()

    def step():
        x = torch.randn(batch, 3, size, size)
        features(x).sum().backward()

    step()
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    print(f"images_per_s {batch * iterations / (time.perf_counter() - start):.3f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
