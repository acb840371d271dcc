"""The runner against a real MLflow server: what it logs, and that nothing is lost or doubled
when the server goes away, when the runner is stopped, and when a run is resumed."""

import json
import math
import signal
import time
import tomllib

from conftest import (assert_history_equals_csv, csv_rows, experiment, only_run, run_runner,
                      start_runner, wait_rows)

SECRET = "rateme-test-token-7f3a9c"


def deep_merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def same_value(param: str, expected) -> bool:
    if isinstance(expected, bool):
        return param == str(expected).lower()
    if isinstance(expected, (int, float)):
        return math.isclose(float(param), float(expected), rel_tol=1e-6)
    if isinstance(expected, list):
        got = json.loads(param)
        return len(got) == len(expected) and all(
            math.isclose(g, e, rel_tol=1e-6) for g, e in zip(got, expected))
    return param == str(expected)


def test_a_sweep_is_logged_completely(server, tmp_path):
    exp = experiment(tmp_path / "exp.toml", server.uri)
    out = run_runner(exp, env={"MLFLOW_TRACKING_TOKEN": SECRET})
    assert out.returncode == 0, out.stderr
    client = server.client()
    spec = tomllib.loads(exp.read_text())
    name = spec["tracking"]["experiment"]
    for run_table in spec["runs"]:
        run = only_run(client, name, run_table["name"])
        assert run.info.status == "FINISHED"
        assert run.info.end_time and run.info.end_time >= run.info.start_time

        # Params are the run spec (defaults merged into the run), key for key.
        merged = flatten(deep_merge(spec["defaults"], run_table))
        params = run.data.params
        assert set(params) == set(merged), set(params) ^ set(merged)
        for key, value in merged.items():
            assert same_value(params[key], value), f"{key}: {params[key]!r} vs {value!r}"

        run_dir = tmp_path / "runs" / run_table["name"]
        assert_history_equals_csv(client, run, run_dir / "metrics.csv", batches=60, log_every=5)

        tags = run.data.tags
        for tag in ["rateme.uid", "rateme.plugin_abi", "rateme.device", "rateme.experiment_hash",
                    "rateme.backbone", "mlflow.source.name"]:
            assert tags.get(tag), f"tag {tag} missing"
        assert tags["rateme.device"] == "cpu"
        assert tags["rateme.backbone"] == "smallconv/tiny"

        top = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"metrics.csv", "summary.json", "model.json", "experiment.toml", "results"} <= top
        results = {a.path for a in client.list_artifacts(run.info.run_id, "results")}
        assert results == {"results/mlflowtest.md", "results/mlflowtest.csv",
                           "results/mlflowtest.svg"}
        local = client.download_artifacts(run.info.run_id, "metrics.csv", str(tmp_path / run_table["name"]))
        assert open(local).read() == (run_dir / "metrics.csv").read_text()
        summary = json.load(open(client.download_artifacts(
            run.info.run_id, "summary.json", str(tmp_path / run_table["name"]))))
        assert math.isclose(run.data.metrics["best_val_mae"], summary["val_mae"], rel_tol=1e-9)

    # The token went to the server and nowhere else.
    assert SECRET not in out.stdout + out.stderr
    for f in (tmp_path / "runs").rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f


def test_server_killed_and_restarted_mid_run_loses_and_doubles_nothing(server, tmp_path):
    batches, log_every = 2400, 5
    exp = experiment(tmp_path / "exp.toml", server.uri, batches=batches, eval_every=40,
                     checkpoint_every=400, runs=("long",), flush_timeout_s=180)
    csv_path = tmp_path / "runs" / "long" / "metrics.csv"
    proc = start_runner(exp)
    wait_rows(csv_path, 5, proc)
    server.kill()
    down_at = len(csv_rows(csv_path))
    wait_rows(csv_path, down_at + 10, proc)
    server.start()
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert "tracking server unreachable" in stderr, stderr
    assert down_at < batches // 40, "the server must go down before the run ends"
    client = server.client()
    run = only_run(client, f"rateme-tests-{tmp_path.name}", "long")
    assert run.info.status == "FINISHED"
    assert_history_equals_csv(client, run, csv_path, batches=batches, log_every=log_every)
    assert "metrics.csv" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_spooled_records_are_sent_by_sync_and_at_the_next_contact(stopped_server, tmp_path):
    exp = experiment(tmp_path / "exp.toml", stopped_server.uri, flush_timeout_s=1)
    out = run_runner(exp)
    # Training does not need the server.
    assert out.returncode == 0, out.stderr
    assert "records wait on disk" in out.stderr, out.stderr
    for name in ["a", "b"]:
        assert len(csv_rows(tmp_path / "runs" / name / "metrics.csv")) == 6

    stopped_server.start()
    # The explicit verb, for run a only.
    out = run_runner("sync", tmp_path / "runs" / "a")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "delivered" in out.stdout
    client = stopped_server.client()
    name = f"rateme-tests-{tmp_path.name}"
    run_a = only_run(client, name, "a")
    assert run_a.info.status == "FINISHED"
    assert_history_equals_csv(client, run_a, tmp_path / "runs" / "a" / "metrics.csv", 60, 5)
    assert client.get_experiment_by_name(name) is not None
    assert not [r for r in client.search_runs([client.get_experiment_by_name(name).experiment_id])
                if r.info.run_name == "b"]

    # Run b's records go at the next contact: a runner on the same experiment (nothing to train).
    out = run_runner(exp, "--resume")
    assert out.returncode == 0, out.stderr
    run_b = only_run(client, name, "b")
    assert run_b.info.status == "FINISHED"
    assert_history_equals_csv(client, run_b, tmp_path / "runs" / "b" / "metrics.csv", 60, 5)
    # And nothing was sent twice.
    out = run_runner("sync", exp)
    assert out.returncode == 0 and "nothing to send" in out.stdout, out.stdout
    assert_history_equals_csv(client, only_run(client, name, "a"),
                              tmp_path / "runs" / "a" / "metrics.csv", 60, 5)


def test_stopped_and_resumed_runs_continue_their_mlflow_run(server, tmp_path):
    batches = 2000
    exp = experiment(tmp_path / "exp.toml", server.uri, batches=batches, eval_every=40,
                     checkpoint_every=200, runs=("r",))
    csv_path = tmp_path / "runs" / "r" / "metrics.csv"
    client = server.client()
    name = f"rateme-tests-{tmp_path.name}"

    # Ctrl-C: a checkpoint at the current batch, the MLflow run KILLED.
    proc = start_runner(exp)
    wait_rows(csv_path, 4, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    run = only_run(client, name, "r")
    assert run.info.status == "KILLED"
    assert int(run.data.tags["rateme.interrupted_at_batch"]) > 0

    # SIGKILL after the resume: no goodbye at all; evaluations after the last checkpoint are
    # redone by the next resume and must not reach MLflow twice.
    stopped_at = {int(r["batch"]) for r in csv_rows(csv_path)}
    proc = start_runner(exp, "--resume")
    wait_rows(csv_path, len(stopped_at) + 12, proc)
    proc.kill()
    proc.wait()
    assert only_run(client, name, "r").info.status == "RUNNING"
    before_kill = {int(r["batch"]) for r in csv_rows(csv_path)}

    out = run_runner(exp, "--resume")
    assert out.returncode == 0, out.stderr
    run = only_run(client, name, "r")
    assert run.info.status == "FINISHED"
    # Steps the SIGKILLed attempt logged (those after its last checkpoint were evaluated again).
    redone = before_kill - stopped_at
    assert_history_equals_csv(client, run, csv_path, batches=batches, log_every=5,
                              redone_steps=redone)


def test_a_failing_run_is_failed_with_its_error(server, tmp_path):
    exp = experiment(tmp_path / "exp.toml", server.uri, runs=("broken",))
    text = exp.read_text()
    text = "\n".join(l for l in text.splitlines() if not l.startswith("synthetic ="))
    exp.write_text(text.replace("data/ratings.csv", "data/missing.csv"))
    out = run_runner(exp)
    assert out.returncode == 2, out.stderr
    run = only_run(server.client(), f"rateme-tests-{tmp_path.name}", "broken")
    assert run.info.status == "FAILED"
    assert run.info.end_time
    assert "missing.csv" in run.data.tags["rateme.error"]
