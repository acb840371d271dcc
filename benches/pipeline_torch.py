"""RateMeAI's image pipeline (PIL + torchvision) on the same photographs and threads as
core/pixels/benches/pipeline.rs, for benches/pipeline.sh.

  pipeline_torch.py photos DIR
      writes 60 JPEGs (quality 90), longer side 500..1500 px, from the photographs in the
      scikit-image wheel (landscape and portrait, upscaled or downscaled with Lanczos);
      deterministic, and skipped when DIR already holds them.
  pipeline_torch.py run DIR [workers] [repetitions] [passes]
      prints `<name> images_per_s <median> <best> <images per run>` for
        full        open, convert RGB, ToTensor, pad to square, Resize(456), RandomHorizontalFlip,
                    RandomRotation(15), RandomAffine(0, translate=(0.1, 0.1)),
                    ColorJitter(0.1, 0.1), Normalize (RateMeAI's training transform)
        decodefull  Image.open + convert("RGB") (a full decode)
        decodedraft the same after Image.draft (libjpeg DCT scaling, longer side >= 456)
        cached      the transforms after Resize, from tensors already padded and resized

The parallelism is RateMeAI's: a torch DataLoader with num_workers = workers (each worker runs
torch with one thread, as DataLoader sets), batch_size 4, persistent workers. One warm-up
epoch, then `repetitions` timed epochs; an epoch is every file `passes` times."""
import os
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
import torchvision.transforms.functional as F

SIDE = 456
COUNT = 60
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def photos(folder):
    import skimage.data as data
    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
             "immunohistochemistry", "retina", "camera"]
    os.makedirs(folder, exist_ok=True)
    if len([f for f in os.listdir(folder) if f.endswith(".jpg")]) == COUNT:
        return
    sources = [Image.fromarray(getattr(data, n)()).convert("RGB") for n in names]
    for i in range(COUNT):
        im = sources[i % len(sources)]
        if i % 3 == 1:  # every third a portrait
            im = im.transpose(Image.Transpose.ROTATE_90)
        longer = 500 + (1000 * i) // (COUNT - 1)
        w, h = im.size
        scale = longer / max(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        im.resize(size, Image.Resampling.LANCZOS).save(
            os.path.join(folder, f"photo{i:02}.jpg"), quality=90)


def pad_to_square(t):
    """Centred on black, an odd remainder to the right and bottom (RateMeAI's rule)."""
    h, w = t.shape[-2:]
    side = max(h, w)
    left, top = (side - w) // 2, (side - h) // 2
    return F.pad(t, [left, top, side - w - left, side - h - top], fill=0)


AUGMENT = [
    transforms.RandomHorizontalFlip(),
    transforms.RandomRotation(15),
    transforms.RandomAffine(0, translate=(0.1, 0.1)),
    transforms.ColorJitter(brightness=0.1, contrast=0.1),
    transforms.Normalize(MEAN, STD),
]
FULL = transforms.Compose([transforms.ToTensor(), transforms.Lambda(pad_to_square),
                           transforms.Resize(SIDE)] + AUGMENT)
CACHED = transforms.Compose(AUGMENT)


def draft(path):
    im = Image.open(path)
    w, h = im.size
    m = max(w, h)
    # Pillow keeps both sides >= the request: ask for the size whose longer side is 456.
    im.draft("RGB", (-(-w * SIDE // m), -(-h * SIDE // m)))
    return im.convert("RGB")


class Photos(Dataset):
    def __init__(self, files, passes, kind, prepared=None):
        self.files, self.passes, self.kind, self.prepared = files, passes, kind, prepared

    def __len__(self):
        return len(self.files) * self.passes

    def __getitem__(self, i):
        i %= len(self.files)
        if self.kind == "full":
            return FULL(Image.open(self.files[i]).convert("RGB"))
        if self.kind == "cached":
            return CACHED(self.prepared[i])
        im = Image.open(self.files[i]).convert("RGB") if self.kind == "decodefull" \
            else draft(self.files[i])
        return torch.tensor(im.size)  # the decode only: nothing big crosses the process boundary


def measure(name, dataset, workers, reps):
    loader = DataLoader(dataset, batch_size=4, shuffle=False, num_workers=workers,
                        persistent_workers=workers > 0)
    rates = []
    for epoch in range(reps + 1):
        start = time.perf_counter()
        for _ in loader:
            pass
        if epoch:  # the first epoch starts the workers: a warm-up
            rates.append(len(dataset) / (time.perf_counter() - start))
    print(f"{name} images_per_s {statistics.median(rates):.1f} {max(rates):.1f} {len(dataset)}",
          flush=True)
    del loader


def run(folder, workers, reps, passes):
    torch.set_num_threads(1)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".jpg"))
    measure("full", Photos(files, passes, "full"), workers, reps)
    measure("decodefull", Photos(files, passes, "decodefull"), workers, reps)
    measure("decodedraft", Photos(files, passes, "decodedraft"), workers, reps)
    prep = transforms.Compose([transforms.ToTensor(), transforms.Lambda(pad_to_square),
                               transforms.Resize(SIDE)])
    prepared = [prep(Image.open(f).convert("RGB")) for f in files]
    measure("cached", Photos(files, passes, "cached", prepared), workers, reps)


def main():
    if sys.argv[1] == "photos":
        photos(sys.argv[2])
    else:
        args = [int(a) for a in sys.argv[3:]] + [2, 5, 2][len(sys.argv) - 3:]
        run(sys.argv[2], *args[:3])


if __name__ == "__main__":
    np.random.seed(19)
    torch.manual_seed(19)
    main()
