"""Large-folder benchmark of `runner rank`: N generated images (default 2000), the time until the
folder is loaded, the latency of /api/next and /api/vote over V votes (default 4000) in each
pairing mode's turn, of /api/state (which the page calls with every pair) early and late, then a restart: time to replay the log, and whether the rankings after the
restart equal the ones before (they must: the session is a function of its log).

Usage: python3 benches/ranker_load.py RUNNER [--images N] [--votes V]   (stdlib only)
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib


def png(width, height, rgb):
    """A solid-colour RGB PNG, encoded with the stdlib."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def call(base, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def start(runner, folder, db):
    t0 = time.perf_counter()
    proc = subprocess.Popen([runner, "rank", folder, "--port", "0", "--db", db],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    base = line.removeprefix("ranker: ").rstrip("/")
    while True:
        try:
            if call(base, "/api/state")["loading"] is None:
                break
        except OSError:
            pass
        time.sleep(0.01)
    return proc, base, time.perf_counter() - t0


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runner")
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--votes", type=int, default=4000)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ranker-load-")
    folder = os.path.join(work, "images")
    os.makedirs(folder)
    for i in range(a.images):
        with open(os.path.join(folder, f"img{i:05d}.png"), "wb") as f:
            f.write(png(64, 48, ((i * 37) % 256, (i * 11) % 256, (i * 5) % 256)))
    db = os.path.join(work, "session.sqlite")
    proc, base, load_s = start(a.runner, folder, db)
    rows = []
    modes = ["active", "original", "random", "elimination"]
    per_mode = a.votes // len(modes)
    state_s = []  # /api/state latency, in vote order
    for mode in modes:
        call(base, "/api/settings", {"mode": mode})
        next_s, vote_s = [], []
        for k in range(per_mode):
            # The page asks for the state with every pair.
            t = time.perf_counter()
            call(base, "/api/state")
            state_s.append(time.perf_counter() - t)
            t0 = time.perf_counter()
            items = [i["id"] for i in call(base, "/api/next?size=2")["items"]]
            t1 = time.perf_counter()
            call(base, "/api/vote", {"uid": f"{mode}-{k}", "rater": "bench",
                                     "items": items, "winner": max(items)})
            t2 = time.perf_counter()
            next_s.append(t1 - t0)
            vote_s.append(t2 - t1)
        rows.append((mode, pct(next_s, 0.5), pct(next_s, 0.99), pct(vote_s, 0.5), pct(vote_s, 0.99)))
    before = call(base, "/api/rankings")
    proc.kill()
    proc.wait()
    proc2, base2, reload_s = start(a.runner, folder, db)
    after = call(base2, "/api/rankings")
    proc2.kill()
    proc2.wait()
    same = before == after
    print(f"| images | votes | first load | restart (replay {a.votes} votes) | rankings equal after restart |")
    print("|---|---|---|---|---|")
    print(f"| {a.images} | {a.votes} | {load_s:.2f} s | {reload_s:.2f} s | {'yes' if same else 'NO'} |")
    print()
    print("| mode | /api/next p50 | p99 | /api/vote p50 | p99 |")
    print("|---|---|---|---|---|")
    for mode, n50, n99, v50, v99 in rows:
        print(f"| {mode} | {n50:.1f} ms | {n99:.1f} ms | {v50:.1f} ms | {v99:.1f} ms |")
    print()
    quarter = max(1, len(state_s) // 4)
    print("| /api/state (the page calls it with every pair) | p50 | p99 |")
    print("|---|---|---|")
    for label, part in [(f"votes 0–{quarter}", state_s[:quarter]),
                        (f"votes {len(state_s) - quarter}–{len(state_s)}", state_s[-quarter:])]:
        print(f"| {label} | {pct(part, 0.5):.1f} ms | {pct(part, 0.99):.1f} ms |")
    if not same:
        sys.exit("rankings differ after the restart")


if __name__ == "__main__":
    main()
