"""Helpers shared by the fixture scripts (efficientnet_fixtures.py, head_fixtures.py,
lite_reference.py): reproducible file writing, the size/sha256 report, random BatchNorms and
parameter counts. Everything here writes the same bytes on every run."""
import hashlib
import inspect
import json
import os
import sys

import torch
from torch import nn
import torch.serialization


def write_json(path, obj):
    """Writes obj to path as JSON, indent 1, with a final newline."""
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")


def report(out_dir, names):
    """Prints, to stderr, each file's size and sha256 prefix (12 hex digits), then the total."""
    total = 0
    for name in names:
        path = os.path.join(out_dir, name)
        size = os.path.getsize(path)
        total += size
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()[:12]
        print(f"{size:>9}  {digest}  {name}", file=sys.stderr)
    print(f"{total:>9}  total", file=sys.stderr)


def write_cases(out_dir, cases, make_case, verify, counts_name, counts):
    """The fixture scripts' main, single-threaded: make_case(case, out_dir) writes each case's
    files and returns its cases.json entry (with "weights" and "io" file names), verify(case,
    entry, out_dir) checks them, then cases.json and counts_name (the JSON of counts(), called
    after cases.json is written) are written and every file reported."""
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    entries = [make_case(c, out_dir) for c in cases]
    for c, e in zip(cases, entries):
        verify(c, e, out_dir)
    write_json(os.path.join(out_dir, "cases.json"), entries)
    write_json(os.path.join(out_dir, counts_name), counts())
    written = ["cases.json", counts_name]
    written += [n for e in entries for n in (e["weights"], e["io"])]
    report(out_dir, written)


def legacy_save(obj, path):
    """torch.save(obj, path, _use_new_zipfile_serialization=False), but with the storage keys
    numbered in order of first use ("0", "1", ...; what the zip format does) instead of the
    storages' memory addresses, so that reruns write identical bytes. Everything else is
    PyTorch's own legacy writer: pickles of the magic number, protocol version and sys_info, the
    object (protocol 2, storages as persistent ids), the storage keys sorted as strings, then each
    storage's numel and raw data in that order (so the data order is not the order of first use,
    as in legacy files written by torch itself)."""
    src = inspect.getsource(torch.serialization._legacy_save)
    old = "storage_key = str(storage._cdata)"
    assert src.count(old) == 1, "torch's legacy writer changed; revisit legacy_save"
    src = src.replace(old, "storage_key = _rateme_keys.setdefault(storage._cdata, "
                           "str(len(_rateme_keys)))")
    ns = dict(vars(torch.serialization))
    ns["_rateme_keys"] = {}
    exec(compile(src, torch.serialization.__file__, "exec"), ns)
    saved = torch.serialization._legacy_save
    torch.serialization._legacy_save = ns["_legacy_save"]
    try:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    finally:
        torch.serialization._legacy_save = saved


def randomise_batchnorm(m, gen):
    """Random BatchNorm m (call under torch.no_grad()), in this order: running_mean ~ N(0, 0.2^2),
    running_var ~ U(0.5, 2), weight ~ U(0.5, 1.5), bias ~ N(0, 0.2^2) from gen;
    num_batches_tracked 1000."""
    m.running_mean.normal_(0.0, 0.2, generator=gen)
    m.running_var.uniform_(0.5, 2.0, generator=gen)
    m.weight.uniform_(0.5, 1.5, generator=gen)
    m.bias.normal_(0.0, 0.2, generator=gen)
    m.num_batches_tracked.fill_(1000)


def count(params):
    """Number of parameter elements: of a module's parameters, or of an iterable of tensors."""
    if isinstance(params, nn.Module):
        params = params.parameters()
    return sum(p.numel() for p in params)
