"""RateMeAI's comment pipeline, for benches/ingest.sh: the Python method rateme's ingest replaces.

    python ingest_ratemeai.py run DUMP.zst OUT.parquet [SCRATCH_DIR]
    python ingest_ratemeai.py compare PYTHON.parquet RATEME.parquet

`run` follows RateMeAI's download_data / parse_comments code: decompress the dump to a
temporary NDJSON file (in SCRATCH_DIR) with python-zstandard, then
`pl.read_ndjson(infer_schema_length=10000, ignore_errors=True)`, keep top-level comments
(`parent_id == link_id`), thread = `link_id` without its prefix (`re.sub(r"t\\d_", "", id)` in
`map_elements`), rating = mean of every `[+-]?(\\d+(\\.\\d+)?)` match (the first group: sign
dropped) in `map_elements`, kept within 0..10, then a `group_by` with mean, median, std (0 for one
rating), count and the score-weighted mean with negative scores as 0.

What it needs beyond RateMeAI's code to get through the same dump rateme reads:

- the decompressor's window limit raised to 2 GiB (a default `ZstdDecompressor()` refuses
  `--long=31` frames);
- lines that are not whole JSON objects (the dump's truncated lines) dropped while decompressing
  (a line is kept when it ends in `}`), because `read_ndjson` stops at the first one even with
  `ignore_errors=True`;
- `score`, which polars infers as a string when some lines hold it as one, cast to a float;
- ratings as Float64 (RateMeAI's `map_elements` returns Float32), so that the results compare
  with rateme's to 1e-9;
- the mean as the weighted rating of a post whose scores sum to 0 (the recipe's fallback; the
  notebook's division gives NaN there).

Phase times go to stderr; the caller times the whole process.

`compare` checks that both tables hold the same posts with the same values (within 1e-9) and
exits with status 1 otherwise.
"""

import os
import re
import sys
import tempfile
import time

import polars as pl
import zstandard

NUMBER = re.compile(r"[+-]?(\d+(\.\d+)?)")


def extract_all_floats(text: str) -> list:
    return [float(m[0]) for m in NUMBER.findall(text)]


def extract_id(link_id: str) -> str:
    return re.sub(r"t\d_", "", link_id)


def mean_of_floats_extraction(text: str):
    floats = extract_all_floats(text)
    return sum(floats) / len(floats) if floats else None


def decompress(dump: str, out_path: str) -> tuple[int, int]:
    """Decompresses `dump` into `out_path`, dropping lines that are not whole objects (that do
    not end in `}`). Returns (non-empty lines, dropped lines)."""
    dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
    lines = dropped = 0
    rest = b""
    with open(dump, "rb") as fin, dctx.stream_reader(fin, read_size=1 << 20) as reader, open(
        out_path, "wb", buffering=1 << 20
    ) as out:
        while True:
            chunk = reader.read(1 << 24)
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop() if chunk else b""
            kept = [p for p in parts if p.rstrip().endswith(b"}")]
            n = len(parts) - parts.count(b"") - parts.count(b"\r")
            lines += n
            dropped += n - len(kept)
            if kept:
                out.write(b"\n".join(kept))
                out.write(b"\n")
            if not chunk:
                break
    return lines, dropped


def run(dump: str, out: str, scratch: str) -> None:
    phases = {}
    t = time.perf_counter()
    fd, ndjson = tempfile.mkstemp(suffix=".ndjson", dir=scratch)
    os.close(fd)
    try:
        lines, dropped = decompress(dump, ndjson)
        phases["decompress"] = time.perf_counter() - t

        t = time.perf_counter()
        df = pl.read_ndjson(ndjson, infer_schema_length=10000, ignore_errors=True)
        phases["read_ndjson"] = time.perf_counter() - t
    finally:
        os.unlink(ndjson)

    t = time.perf_counter()
    top_level = df.filter(pl.col("parent_id") == pl.col("link_id"))
    del df
    top_level = top_level.with_columns(
        pl.col("link_id").map_elements(extract_id, return_dtype=pl.String).alias("thread"),
        pl.col("body")
        .map_elements(mean_of_floats_extraction, return_dtype=pl.Float64)
        .alias("rating"),
        pl.col("score").cast(pl.Float64, strict=False),
    )
    rated = top_level.filter(
        pl.col("rating").is_not_null() & (pl.col("rating") >= 0) & (pl.col("rating") <= 10)
    )
    phases["rate"] = time.perf_counter() - t

    t = time.perf_counter()
    zeroed = pl.when(pl.col("score") < 0).then(0.0).otherwise(pl.col("score"))
    posts = (
        rated.with_columns(zeroed_score=zeroed)
        .group_by("thread")
        .agg(
            mean=pl.col("rating").mean(),
            median=pl.col("rating").median(),
            std=pl.col("rating").std().fill_null(0.0),
            count=pl.col("rating").count(),
            wsum=(pl.col("rating") * pl.col("zeroed_score")).sum(),
            weights=pl.col("zeroed_score").sum(),
        )
        .with_columns(
            weighted=pl.when(pl.col("weights") > 0)
            .then(pl.col("wsum") / pl.col("weights"))
            .otherwise(pl.col("mean"))
        )
        .select(pl.col("thread").alias("id"), "mean", "median", "std", "count", "weighted")
        .sort("id")
    )
    posts.write_parquet(out)
    phases["aggregate"] = time.perf_counter() - t
    print(
        f"python: {lines} lines, {dropped} dropped as not JSON objects, "
        f"{top_level.height} top-level, {rated.height} rated, {posts.height} posts; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()),
        file=sys.stderr,
    )


def compare(python: str, rateme: str) -> int:
    a = pl.read_parquet(python).sort("id")
    b = pl.read_parquet(rateme).sort("id")
    if a.height != b.height or a["id"].to_list() != b["id"].to_list():
        only_a = set(a["id"]) - set(b["id"])
        only_b = set(b["id"]) - set(a["id"])
        print(
            f"MISMATCH: {a.height} posts (python) vs {b.height} (rateme); "
            f"only in python: {sorted(only_a)[:5]}, only in rateme: {sorted(only_b)[:5]}"
        )
        return 1
    worst = {}
    for col in ["mean", "median", "std", "weighted"]:
        worst[col] = (a[col].cast(pl.Float64) - b[col].cast(pl.Float64)).abs().max()
    counts_equal = (a["count"].cast(pl.Int64) == b["count"].cast(pl.Int64)).all()
    bad = [c for c, d in worst.items() if d is None or d > 1e-9]
    if bad or not counts_equal:
        print(f"MISMATCH: largest differences {worst}, counts equal: {counts_equal}")
        return 1
    print(
        f"same {a.height} posts, counts equal, largest difference "
        f"{max(worst.values()):.1e} (mean, median, std, weighted; limit 1e-9)"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "run":
        scratch = sys.argv[4] if len(sys.argv) > 4 else os.path.dirname(os.path.abspath(sys.argv[3]))
        run(sys.argv[2], sys.argv[3], scratch)
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
