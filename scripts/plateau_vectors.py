"""Learning rates of torch.optim.lr_scheduler.ReduceLROnPlateau (mode "min") for a grid of
settings, each run on one of several metric sequences.

Output (JSON): {"torch": version, "sequences": {name: [metric...]},
"cases": [{"sequence": name, "settings": {...}, "lr0": f, "lrs": [lr after each step...]}]}.
Every float is written as the hex of its IEEE-754 bits ("3f50624dd2f1a9fc"), so the Rust test
reads exactly what PyTorch computed (a NaN metric is "nan")."""
import itertools
import json
import math
import random
import struct
import sys

import torch


def bits(x):
    if math.isnan(x):
        return "nan"
    return struct.pack(">d", x).hex()


def sequences(rng):
    """Metric sequences that exercise every branch: plateaus, slow and fast improvement, noise,
    improvements just above and below the thresholds, NaN."""
    n = 40
    return {
        "flat": [1.0] * n,
        "falling": [2.0 * 0.97**i for i in range(n)],
        "noisy-falling": [1.5 * 0.98**i + rng.gauss(0, 0.02) for i in range(n)],
        "rising": [0.5 + 0.01 * i for i in range(n)],
        "steps": [1.0 - 0.1 * (i // 9) for i in range(n)],
        # Relative improvements of 1e-5 per step: below a 1e-4 threshold, above 0.
        "creeping": [(1 - 1e-5) ** i for i in range(n)],
        # Alternating just under and just over an absolute threshold of 0.01.
        "abs-edge": [1.0 - (0.0099 if i % 2 else 0.0101) * i for i in range(n)],
        "with-nan": [1.0, 0.9, math.nan, 0.95, math.nan, 0.85] + [0.85] * (n - 6),
        "random": [rng.uniform(0.5, 1.5) for _ in range(n)],
    }


def run(settings, lr0, metrics):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", **settings)
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(float(opt.param_groups[0]["lr"]))
    return lrs


def main(out):
    seqs = sequences(random.Random(20261130))
    names = sorted(seqs)
    grid = itertools.product(
        [0.1, 0.5, 0.7],  # factor
        [0, 2, 5],  # patience
        [0, 3],  # cooldown
        [0.0, 3e-4],  # min_lr
        [(1e-4, "rel"), (0.0, "rel"), (0.05, "rel"), (0.01, "abs")],  # threshold, mode
        [1e-8, 2e-4],  # eps
    )
    cases = []
    for k, (factor, patience, cooldown, min_lr, (threshold, mode), eps) in enumerate(grid):
        settings = dict(factor=factor, patience=patience, cooldown=cooldown, min_lr=min_lr,
                        threshold=threshold, threshold_mode=mode, eps=eps)
        # Each setting on one sequence, in turn, so every sequence meets many settings.
        name = names[k % len(names)]
        lr0 = 1e-3
        cases.append(dict(sequence=name, settings=settings, lr0=bits(lr0),
                          lrs=[bits(lr) for lr in run(settings, lr0, seqs[name])]))
    # Binary-exact edges: a reduction of exactly eps is skipped (PyTorch: `old - new > eps`),
    # once by the factor and once by min_lr; a reduction just over eps is applied.
    edges = [
        (0.5, dict(factor=0.5, eps=0.25)),
        (1.0, dict(factor=0.5, min_lr=0.75, eps=0.25)),
        (0.5, dict(factor=0.5, eps=0.25 - 2**-40)),
    ]
    for lr0, extra in edges:
        settings = dict(factor=0.5, patience=0, cooldown=0, min_lr=0.0, threshold=1e-4,
                        threshold_mode="rel", eps=1e-8)
        settings.update(extra)
        cases.append(dict(sequence="flat", settings=settings, lr0=bits(lr0),
                          lrs=[bits(lr) for lr in run(settings, lr0, seqs["flat"])]))
    doc = dict(torch=torch.__version__,
               sequences={n: [bits(m) for m in seqs[n]] for n in names},
               cases=cases)
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
