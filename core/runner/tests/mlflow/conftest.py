"""Fixtures for the MLflow tests: a real `mlflow server` (sqlite store, local artifact folder) on a
free loopback port, the runner, and experiment files. Run by scripts/test-mlflow.sh, which
installs the pinned MLflow and points RATEME_RUNNER / RATEME_PLUGINS at the built binaries."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

RUNNER = os.environ["RATEME_RUNNER"]
PLUGINS = os.environ["RATEME_PLUGINS"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An `mlflow server` that can be stopped (SIGKILL: replies in flight are lost) and started
    again on the same port with the same store."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.uri = f"http://127.0.0.1:{port}"
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(self.root / f"server-{self.starts}.log", "w")
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"), "server",
                "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination", str(self.root / "artifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.root / f'server-{self.starts}.log').read_text()}")
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("mlflow server did not start in 120 s")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "server", free_port())
    s.root.mkdir()
    s.start()
    yield s
    s.kill()


@pytest.fixture
def stopped_server(tmp_path):
    """A server that is not running yet (its port is chosen, nothing listens)."""
    s = Server(tmp_path / "server", free_port())
    s.root.mkdir()
    yield s
    s.kill()


def experiment(path: Path, uri: str, *, batches=60, eval_every=10, checkpoint_every=20,
               flush_timeout_s=60.0, runs=("a", "b"), extra_tracking=""):
    """Writes an experiment file that sets every run-spec field explicitly (so the MLflow params
    must equal the file's keys one for one) and returns its path."""
    d = path.parent
    run_tables = "\n".join(
        f'[[runs]]\nname = "{name}"\noptimizer = {{ lr = {lr} }}\n'
        for name, lr in zip(runs, ["3e-3", "1e-3", "2e-3"])
    )
    path.write_text(f"""
name = "mlflowtest"
results_dir = "{d}/results"

[tracking]
uri = "{uri}"
experiment = "rateme-tests-{d.name}"
log_every = 5
flush_timeout_s = {flush_timeout_s}
{extra_tracking}

[defaults]
seed = 3
batch_size = 16
batches = {batches}
eval_every = {eval_every}
checkpoint_every = {checkpoint_every}
device = "cpu"
output_dir = "{d}/runs"
plugins = "{PLUGINS}"
head = {{ plugin = "linear", options = {{ init_bias = 5.5, dropout = 0.1 }} }}
backbone = {{ plugin = "smallconv", variant = "tiny", freeze = false, options = {{ input_size = 24 }} }}

[defaults.data]
table = "{d}/data/ratings.csv"
images = "{d}/data"
synthetic = {{ count = 120, size = 24, noise_std = 0.92, seed = 5 }}
val_fraction = 0.2
split_seed = 42
augment = true
pad_to_square = true

[defaults.optimizer]
name = "adamw"
lr = 3e-3
weight_decay = 1e-5
betas = [0.9, 0.999]
eps = 1e-8
grad_clip = 1.0

[defaults.schedule]
name = "plateau"
factor = 0.5
patience = 2
cooldown = 0
min_lr = 1e-6
threshold = 1e-4
threshold_mode = "rel"
eps = 1e-8

{run_tables}
""")
    return path


def run_runner(*args, env=None, timeout=600):
    full_env = dict(os.environ)
    full_env.pop("MLFLOW_TRACKING_URI", None)
    full_env.update(env or {})
    return subprocess.run([RUNNER, *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def start_runner(*args, env=None):
    full_env = dict(os.environ)
    full_env.pop("MLFLOW_TRACKING_URI", None)
    full_env.update(env or {})
    return subprocess.Popen([RUNNER, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env)


def csv_rows(path: Path):
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def wait_rows(path: Path, n: int, proc=None, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(csv_rows(path)) >= n:
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"runner exited early: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {n} rows after {timeout} s")


def only_run(client, experiment_name, run_name):
    exp = client.get_experiment_by_name(experiment_name)
    assert exp is not None, f"no MLflow experiment {experiment_name}"
    runs = [r for r in client.search_runs([exp.experiment_id], run_view_type=3)
            if r.info.run_name == run_name]
    assert len(runs) == 1, f"{len(runs)} MLflow runs named {run_name}"
    return runs[0]


METRIC_COLUMNS = {"lr": "lr", "train_loss": "train_loss", "val_loss": "val_loss",
                  "val_mae": "val_mae", "val_spearman": "val_spearman", "elapsed_s": "elapsed_s"}


def assert_history_equals_csv(client, run, csv_path: Path, batches: int, log_every: int,
                              redone_steps=()):
    """MLflow's metric histories equal the CSV step by step. `redone_steps`: evaluations a resume
    repeated; MLflow keeps their first point, equal but for the wall time `elapsed_s`."""
    rows = csv_rows(csv_path)
    assert rows, f"{csv_path} is empty"
    for metric, column in METRIC_COLUMNS.items():
        hist = sorted(client.get_metric_history(run.info.run_id, metric), key=lambda m: m.step)
        steps = [m.step for m in hist]
        assert steps == [int(r["batch"]) for r in rows], f"{metric}: steps {steps}"
        for m, r in zip(hist, rows):
            expected = float(r[column])
            # The CSV rounds to 6 decimals (elapsed_s to 2).
            tol = 0.006 if column == "elapsed_s" else 1e-6 * max(1.0, abs(expected))
            if column == "elapsed_s" and m.step in redone_steps:
                continue
            assert abs(m.value - expected) <= tol, f"{metric}@{m.step}: {m.value} vs {expected}"
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "batch_loss"))
    assert steps == list(range(log_every, batches + 1, log_every)), steps
