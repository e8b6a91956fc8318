"""bench/load.py's arguments, statistics and server commands (no timing is asserted here)."""

import json
from pathlib import Path

import pytest

from bench import load

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_issue_s_load():
    args = load.parse_args([])
    assert (args.clients, args.seconds) == (32, 60.0)
    assert args.database_url.rsplit("/", 1)[1] == "labcore_bench_load"


@pytest.mark.parametrize("name", ["labcore", "labcore_dev", "test_labcore_load"])
def test_refuses_to_drop_a_database_that_is_not_a_scratch_one(name):
    with pytest.raises(SystemExit):
        load.parse_args(["--database-url", f"postgres://postgres@127.0.0.1:5432/{name}"])


def test_percentile_is_nearest_rank():
    ordered = [i / 1000 for i in range(1, 101)]  # 1 .. 100 ms
    assert load.percentile(ordered, 50) == 0.050
    assert load.percentile(ordered, 99) == 0.099
    assert load.percentile(ordered, 100) == 0.100
    assert load.percentile([0.007], 99) == 0.007
    assert load.percentile([], 99) == 0.0


def test_only_contention_409s_are_conflicts_everything_else_not_2xx_is_an_error():
    recorder = load.Recorder()
    recorder.recording = True
    assert recorder.record("POST /devices/{id}/book", 0.01, 201) == "ok"
    assert recorder.record("POST /devices/{id}/book", 0.01, 409, "booked by workflow 3") == "conflict"
    assert recorder.record("DELETE /devices/{id}/queue/{entry}", 0.01, 409, "no longer waiting") == "conflict"
    assert recorder.record("POST /devices/{id}/release", 0.01, 409, "does not hold") == "error"
    assert recorder.record("GET /workflows", 0.02, 500, "boom") == "error"
    assert recorder.record("GET /workflows", 0.03, 429, "throttled") == "error"
    assert recorder.record("GET /devices", 0.01, 0, "ConnectionError") == "error"

    rows = load.summary(recorder.endpoints, seconds=2.0)
    overall = rows[-1]
    assert overall["endpoint"] == "overall"
    assert (overall["requests"], overall["conflicts"], overall["errors"]) == (7, 2, 4)
    assert overall["per_second"] == 3.5
    assert rows[0]["endpoint"] == "GET /workflows"  # slowest p99 first
    assert recorder.endpoints["GET /workflows"].samples == ["500 boom", "429 throttled"]
    assert "GET /workflows" in load.summary_table(rows)


def test_answers_before_recording_starts_are_not_counted():
    recorder = load.Recorder()
    assert recorder.record("GET /devices", 0.01, 500) == "error"
    assert load.summary(recorder.endpoints, seconds=1.0)[-1]["requests"] == 0


def test_web_worker_and_beat_run_as_docker_runs_them(tmp_path):
    commands = load.deployed_commands(8123, tmp_path)
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text().splitlines()
    cmd = json.loads(next(line for line in dockerfile if line.startswith("CMD "))[4:])
    web = commands["web"]
    assert Path(web[0]).name == cmd[0]
    bind = cmd.index("--bind")
    assert web[1:] == [*cmd[1 : bind + 1], "127.0.0.1:8123", *cmd[bind + 2 :]]
    assert commands["worker"][1:4] == ["-A", "labcore", "worker"]
    assert f"--schedule={tmp_path}/celerybeat-schedule" in commands["beat"]
