"""Load benchmark: gunicorn as docker/ runs it, 32 HTTP clients mixing reads and booking writes.

Usage (PostgreSQL and Redis on 127.0.0.1; a scratch database is created, seeded and dropped):

    .venv/bin/python bench/load.py                     # 32 clients, 60 s
    .venv/bin/python bench/load.py --seconds 20 --clients 16 --think-ms 50

What it does:
1. creates the scratch database of ``--database-url`` (default ``labcore_bench_load``; never the
   dev or test databases), migrates it and seeds a lab: the demo lab, ``--devices`` bookable
   devices of capacity 1, one operator with a token per client, ``--workflows`` background
   workflows (with samples and steps, so the workflow list has something to serialise) and
   ``--log-rows`` execution-log rows (``seed_logs``);
2. starts the web server with the command of docker/Dockerfile (gunicorn, its worker count and
   class, production settings), bound to a free port on 127.0.0.1, and the Celery worker and
   beat with the commands of docker/compose.yml (a hand-off enqueues the granted workflow's
   start, so the writes need a worker);
3. runs ``--clients`` client threads, one ``requests.Session`` and one user each, for
   ``--seconds`` after ``--warmup`` seconds that are not counted, pausing ``--think-ms`` (mean,
   exponential; 0 for flat out) between requests. Each turn is a read (device
   list, device detail, workflow list, execution log, one device's log) or, one turn in
   ``--write-share``, the client's next booking step: book a device or queue for one; release
   what it holds; look up whether a queued request was handed the device, or withdraw it;
4. prints requests/s, p50, p99 and max latency, conflicts and errors per endpoint and overall,
   and gunicorn's CPU per request; then each endpoint ``--probe`` times from one client alone
   (its own cost, without the queue); stops the servers and drops the database.

Errors are answers other than 2xx, except the 409s that are correct answers under contention
(a device booked by someone else; a queued request granted just before its withdrawal): those
are counted as conflicts. Figures and their machine: bench/README.md, "Load (bench/load.py)".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/labcore_bench_load"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/11"  # other benches use 12-14, make run 0
REQUEST_TIMEOUT_SECONDS = 30.0

# Read endpoints and their weights per turn; the writes take --write-share of the turns.
READS = {
    "GET /devices": 20,
    "GET /devices/{id}": 15,
    "GET /workflows": 20,
    "GET /execution-logs": 10,
    "GET /execution-logs?device=": 5,
}
# 409s that are right answers under contention, by endpoint.
CONFLICT_OK = {"POST /devices/{id}/book", "DELETE /devices/{id}/queue/{entry}"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured duration (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring (default 5)")
    parser.add_argument("--clients", type=int, default=32, help="client threads, one user each (default 32)")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=500.0,
        help="mean pause between a client's requests (default 500; 0: flat out)",
    )
    parser.add_argument("--write-share", type=float, default=0.25, help="share of turns that write (default 0.25)")
    parser.add_argument("--devices", type=int, default=8, help="bookable devices the clients share (default 8)")
    parser.add_argument("--workflows", type=int, default=200, help="background workflows (default 200)")
    parser.add_argument("--log-rows", type=int, default=10_000, help="execution-log rows (default 10000)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_LOAD_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_LOAD_BROKER_URL", DEFAULT_BROKER_URL))
    parser.add_argument("--no-worker", action="store_true", help="no Celery worker and beat")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database (to inspect it)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the clients' choices")
    parser.add_argument("--probe", type=int, default=20, help="afterwards, each endpoint N times alone (0: none)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.clients < 1 or args.devices < 1 or args.think_ms < 0:
        parser.error("--seconds, --clients and --devices must be positive; --warmup and --think-ms not negative")
    if not 0 <= args.write_share <= 1:
        parser.error("--write-share is a fraction from 0 to 1")
    if args.log_rows < 0 or args.workflows < 0 or args.probe < 0:
        parser.error("--log-rows, --workflows and --probe must not be negative")
    name = args.database_url.rsplit("/", 1)[-1]
    if not name.startswith("labcore_bench"):
        parser.error(f"--database-url must name a scratch database labcore_bench*, not {name!r}: it is dropped")
    return args


# --- Statistics --------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of an ascending list (0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class EndpointStats:
    latencies: list[float] = field(default_factory=list)  # seconds, every answer (conflicts and errors too)
    conflicts: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)  # the first few errors, for the report


class Recorder:
    """Latencies, conflicts and errors per endpoint, shared by the client threads."""

    SAMPLES_KEPT = 3

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.endpoints: dict[str, EndpointStats] = defaultdict(EndpointStats)
        self.recording = False

    def record(self, endpoint: str, seconds: float, status: int, detail: str = "") -> str:
        """Count one answer; returns its kind: "ok", "conflict" or "error"."""
        if 200 <= status < 300:
            kind = "ok"
        elif status == 409 and endpoint in CONFLICT_OK:
            kind = "conflict"
        else:
            kind = "error"
        if not self.recording:
            return kind
        with self._lock:
            stats = self.endpoints[endpoint]
            stats.latencies.append(seconds)
            if kind == "conflict":
                stats.conflicts += 1
            elif kind == "error":
                stats.errors += 1
                if len(stats.samples) < self.SAMPLES_KEPT:
                    stats.samples.append(f"{status} {detail[:200]}")
        return kind


def summary(endpoints: dict[str, EndpointStats], seconds: float) -> list[dict]:
    """One row per endpoint, slowest p99 first, then the overall row."""

    def row(name: str, latencies: list[float], conflicts: int, errors: int) -> dict:
        ordered = sorted(latencies)
        return {
            "endpoint": name,
            "requests": len(ordered),
            "per_second": len(ordered) / seconds if seconds > 0 else 0.0,
            "p50_ms": percentile(ordered, 50) * 1000,
            "p99_ms": percentile(ordered, 99) * 1000,
            "max_ms": (ordered[-1] * 1000) if ordered else 0.0,
            "conflicts": conflicts,
            "errors": errors,
        }

    rows = [row(name, s.latencies, s.conflicts, s.errors) for name, s in endpoints.items()]
    rows.sort(key=lambda r: r["p99_ms"], reverse=True)
    everything = [latency for s in endpoints.values() for latency in s.latencies]
    conflicts = sum(s.conflicts for s in endpoints.values())
    errors = sum(s.errors for s in endpoints.values())
    return [*rows, row("overall", everything, conflicts, errors)]


def summary_table(rows: list[dict]) -> str:
    columns = ("requests", "req/s", "p50 ms", "p99 ms", "max ms")
    header = f"{'endpoint':<36} " + " ".join(f"{c:>8}" for c in columns) + f" {'409':>5} {'errors':>6}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['endpoint']:<36} {r['requests']:>8} {r['per_second']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['max_ms']:>8.1f} {r['conflicts']:>5} {r['errors']:>6}"
        )
    return "\n".join(lines)


# --- The clients -------------------------------------------------------------------------------


class Client:
    """One user of the API: a session, a workflow of its own and where it stands with a device.

    The booking steps follow the client's state, so every request is one a real integrator
    would make: idle -> book (201, or 409 when taken) or queue (booked at once, or waiting);
    holding -> release; waiting -> ask whether the hand-off came (its active bookings), else
    withdraw now and then (204, or 409 if the hand-off came in between: it then holds it).
    """

    def __init__(self, *, base: str, token: str, workflow_id: int, devices: list[str], recorder, rng, think):
        import requests

        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.base, self.workflow_id, self.devices = base, workflow_id, devices
        self.recorder, self.rng, self.think = recorder, rng, think
        self.holding: str | None = None
        self.waiting: tuple[str, int] | None = None  # (device, queue entry id)
        self.read_names = list(READS)
        self.read_weights = list(READS.values())

    def call(self, endpoint: str, method: str, path: str, body=None):
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, json=body, timeout=REQUEST_TIMEOUT_SECONDS)
        except Exception as exc:  # a refused or timed-out request is an error like a 500
            self.recorder.record(endpoint, time.perf_counter() - started, 0, f"{type(exc).__name__}: {exc}")
            return "error", None
        kind = self.recorder.record(endpoint, time.perf_counter() - started, response.status_code, response.text)
        payload = None
        if response.content and response.headers.get("Content-Type", "").startswith("application/json"):
            payload = response.json()
        return kind, payload

    def read(self, name: str | None = None) -> None:
        name = name or self.rng.choices(self.read_names, self.read_weights)[0]
        device = self.rng.choice(self.devices)
        paths = {
            "GET /devices": "/api/devices",
            "GET /devices/{id}": f"/api/devices/{device}",
            "GET /workflows": "/api/workflows",
            "GET /execution-logs": "/api/execution-logs?ordering=-started_at",
            "GET /execution-logs?device=": f"/api/execution-logs?device={self.rng.choice(DEMO_LOG_DEVICES)}",
        }
        self.call(name, "GET", paths[name])

    def write(self) -> None:
        body = {"workflow_id": self.workflow_id}
        if self.holding:
            kind, _ = self.call("POST /devices/{id}/release", "POST", f"/api/devices/{self.holding}/release", body)
            if kind == "ok":
                self.holding = None
        elif self.waiting:
            device, entry = self.waiting
            path = f"/api/bookings?workflow={self.workflow_id}&status=active"
            kind, payload = self.call("GET /bookings?workflow=", "GET", path)
            if kind == "ok" and any(b["device_id"] == device for b in payload["results"]):
                self.waiting, self.holding = None, device
            elif self.rng.random() < 0.5:
                path = f"/api/devices/{device}/queue/{entry}"
                kind, _ = self.call("DELETE /devices/{id}/queue/{entry}", "DELETE", path)
                self.waiting = None
                if kind == "conflict":  # granted just before: it holds the device now
                    self.holding = device
        else:
            device = self.rng.choice(self.devices)
            if self.rng.random() < 0.5:
                kind, _ = self.call("POST /devices/{id}/book", "POST", f"/api/devices/{device}/book", body)
                if kind == "ok":
                    self.holding = device
            else:
                body["priority"] = self.rng.choice(["urgent", "normal", "normal", "low"])
                kind, payload = self.call("POST /devices/{id}/queue", "POST", f"/api/devices/{device}/queue", body)
                if kind == "ok" and payload["outcome"].endswith("booked"):
                    self.holding = device
                elif kind == "ok":
                    self.waiting = (device, payload["entry"]["id"])

    def run(self, write_share: float, until: float) -> None:
        while time.monotonic() < until:  # bounded: every request has a timeout, the loop a deadline
            if self.rng.random() < write_share:
                self.write()
            else:
                self.read()
            if self.think:
                time.sleep(min(self.rng.expovariate(1 / self.think), 10 * self.think))

    def close(self) -> None:
        self.session.close()


DEMO_LOG_DEVICES = ["liquid-handler-1", "liquid-handler-2", "plate-reader-1", "microscope-1", "robot-arm-1"]


# --- The lab and the servers -------------------------------------------------------------------


def environment(args) -> None:
    """This process seeds with the dev settings; the servers get production settings (below)."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["CELERY_BROKER_URL"] = args.broker_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "labcore.settings.dev"
    os.environ["LABCORE_MOCK_HARDWARE"] = "1"
    os.environ.setdefault("LABCORE_LOG_LEVEL", "WARNING")


def database_drop(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def lab_seed(args) -> dict:
    """Migrate and seed the scratch database; returns the clients' tokens, workflows and devices."""
    from bench.campaign import database_fresh

    database_fresh(args.database_url)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import transaction

    from accounts.roles import OPERATOR
    from accounts.services import token_issue
    from devices.models import Device
    from samples.models import Sample
    from workflows.demo_data import PROTOCOL
    from workflows.models import Protocol, Workflow
    from workflows.services.creation import workflow_create_from_protocol, workflow_create_from_steps

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    devices = [
        Device.objects.create(id=f"load-{n:02d}", name=f"Load bench device {n}", kind="liquid_handler")
        for n in range(1, args.devices + 1)
    ]
    operators = Group.objects.get(name=OPERATOR)
    samples = list(Sample.objects.order_by("barcode")[:40])
    published = Protocol.objects.filter(name=PROTOCOL["name"], status="published")
    protocol = published.latest("version_major", "version_minor")
    handler = Device.objects.get(pk="liquid-handler-1")
    # The clients' workflows first: the workflow list (newest first) then shows background runs
    # with their samples and steps, as a lab's would, not 32 empty ones.
    clients = []
    for n in range(args.clients):
        user = get_user_model().objects.create_user(f"load-client-{n:02d}", password=None)
        user.groups.set([operators])
        _, token = token_issue(user=user, name="load bench")
        workflow = Workflow.objects.create(name=f"load client {n:02d}")
        clients.append({"token": token, "workflow_id": workflow.pk})
    with transaction.atomic():
        for n in range(args.workflows):
            chosen = samples[(2 * n) % len(samples) :][:2]
            if n % 4 == 0:
                name = f"load background {n}"
                workflow_create_from_protocol(name=name, protocol=protocol, samples=chosen, priority=1)
            else:
                workflow_create_from_steps(
                    name=f"load background {n}",
                    device=handler,
                    samples=chosen,
                    step_names=["pipette_transfer", "pipette_transfer", "pipette_transfer"],
                )
    if args.log_rows:
        call_command("seed_logs", count=args.log_rows, seed=args.seed, verbosity=0)
    from django.db import connections

    connections.close_all()
    Device.objects.create(id="load-probe", name="Load bench probe device", kind="liquid_handler")
    return {"clients": clients, "devices": [d.pk for d in devices]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deployed_commands(port: int, folder: Path) -> dict[str, list[str]]:
    """The web, worker and beat commands of docker/ (Dockerfile CMD, compose.yml), on this machine."""
    import yaml

    cmd_line = next(
        line for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    )
    web = json.loads(cmd_line[4:])
    web[web.index("--bind") + 1] = f"127.0.0.1:{port}"
    services = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())["services"]
    worker, beat = list(services["worker"]["command"]), list(services["beat"]["command"])
    beat = [f"--schedule={folder}/celerybeat-schedule" if a.startswith("--schedule=") else a for a in beat]
    venv_bin = Path(sys.executable).parent
    return {
        "web": [str(venv_bin / web[0]), *web[1:]],
        "worker": [str(venv_bin / worker[0]), *worker[1:]],
        "beat": [str(venv_bin / beat[0]), *beat[1:]],
    }


def server_environment(args) -> dict[str, str]:
    """docker/compose.yml's environment, with this bench's database and broker."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
    env = dict(os.environ)
    for key in compose["x-labcore-env"]:
        env.pop(key, None)
    env.update(
        DJANGO_SETTINGS_MODULE="labcore.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=args.database_url,
        CELERY_BROKER_URL=args.broker_url,
        LABCORE_MOCK_HARDWARE="1",  # nothing here runs an action; no hardware either way
        LABCORE_MOCK_LATENCY_SCALE="1.0",
        LABCORE_LOG_LEVEL="WARNING",
    )
    return env


def process_start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def process_stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds (user + system) used so far by ``root_pid`` and its live children (gunicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root_pid in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def web_wait(base: str, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}); see {log}")
        try:
            if requests.get(base + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"gunicorn did not answer /health within {timeout} s; see {log}")


def load_run(args, base: str, lab: dict, web_pid: int) -> dict:
    recorder = Recorder()
    rng = random.Random(args.seed)
    think = args.think_ms / 1000
    clients = [
        Client(
            base=base,
            token=c["token"],
            workflow_id=c["workflow_id"],
            devices=lab["devices"],
            recorder=recorder,
            rng=random.Random(rng.getrandbits(64)),
            think=think,
        )
        for c in lab["clients"]
    ]
    began = time.monotonic()
    until = began + args.warmup + args.seconds
    threads = [threading.Thread(target=c.run, args=(args.write_share, until), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    time.sleep(args.warmup)
    recorder.recording = True
    cpu_began, wall_began, load_began = time.process_time(), time.monotonic(), os.getloadavg()
    web_cpu_began = process_tree_cpu(web_pid)
    for thread in threads:
        thread.join(timeout=args.warmup + args.seconds + 2 * REQUEST_TIMEOUT_SECONDS)
    recorder.recording = False
    web_cpu = process_tree_cpu(web_pid) - web_cpu_began
    wall = time.monotonic() - wall_began
    cpu = time.process_time() - cpu_began
    for client in clients:
        client.close()
    return {
        "rows": summary(recorder.endpoints, wall),
        "samples": {name: s.samples for name, s in recorder.endpoints.items() if s.samples},
        "wall_seconds": wall,
        "client_cpu_share": cpu / wall,
        "web_cpu_share": web_cpu / wall,
        "load_before": load_began,
        "load_after": os.getloadavg(),
        "still_running": sum(t.is_alive() for t in threads),
    }


def sequential_probe(args, base: str, lab: dict) -> list[dict]:
    """After the load: each endpoint ``--probe`` times from one client alone, so its latency is its
    own cost (no queue behind 31 other clients). Writes use a device no client has touched."""
    recorder = Recorder()
    recorder.recording = True
    first = lab["clients"][0]
    client = Client(
        base=base,
        token=first["token"],
        workflow_id=first["workflow_id"],
        devices=["load-probe"],
        recorder=recorder,
        rng=random.Random(args.seed),
        think=0,
    )
    body = {"workflow_id": first["workflow_id"]}
    for _ in range(args.probe):
        for name in READS:
            client.read(name)
        client.call("POST /devices/{id}/book", "POST", "/api/devices/load-probe/book", body)
        client.call("POST /devices/{id}/release", "POST", "/api/devices/load-probe/release", body)
        client.call("POST /devices/{id}/queue", "POST", "/api/devices/load-probe/queue", body)  # free: booked
        client.call("POST /devices/{id}/release", "POST", "/api/devices/load-probe/release", body)
    client.close()
    return summary(recorder.endpoints, seconds=0)[:-1]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    environment(args)
    load_at_start = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="labcore-bench-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    commands = deployed_commands(port, folder)
    env = server_environment(args)
    processes = []
    try:
        began = time.monotonic()
        lab = lab_seed(args)
        print(
            f"lab seeded in {time.monotonic() - began:.0f} s: {len(lab['devices'])} bookable devices, "
            f"{args.clients} clients, {args.workflows} background workflows, {args.log_rows} log rows",
            flush=True,
        )
        roles = ["web"] if args.no_worker else ["web", "worker", "beat"]
        for role in roles:
            print(f"{role}: {shlex.join(commands[role])}", flush=True)
            processes.append(process_start(commands[role], env, folder / f"{role}.log"))
        web_wait(base, processes[0], folder / "web.log")
        result = load_run(args, base, lab, processes[0].pid)
        probe = sequential_probe(args, base, lab) if args.probe else []
    finally:
        for process in processes:
            process_stop(process)
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(args.database_url)
    print()
    print(
        f"{args.clients} clients, {result['wall_seconds']:.1f} s measured after {args.warmup:.0f} s warm-up, "
        f"think time {args.think_ms:.0f} ms, write share {args.write_share}"
    )
    print(summary_table(result["rows"]))
    overall = result["rows"][-1]
    print(
        f"\noverall: {overall['per_second']:.1f} requests/s, p50 {overall['p50_ms']:.1f} ms, "
        f"p99 {overall['p99_ms']:.1f} ms, {overall['errors']} errors, {overall['conflicts']} conflicts (409)"
    )
    for name, samples in result["samples"].items():
        print(f"  errors of {name}: {samples}")
    served = overall["requests"] or 1
    print(
        f"gunicorn CPU: {100 * result['web_cpu_share']:.0f}% of one core, "
        f"{1000 * result['web_cpu_share'] * result['wall_seconds'] / served:.1f} ms per request; "
        f"client process CPU: {100 * result['client_cpu_share']:.0f}% of one core; load average "
        f"{load_at_start[0]:.1f} before seeding, {result['load_before'][0]:.1f} at start, "
        f"{result['load_after'][0]:.1f} at end ({os.cpu_count()} cores); server logs in {folder}"
    )
    if probe:
        print(f"\none client alone, {args.probe} requests per endpoint (its own cost, no queue), slowest first:")
        for r in sorted(probe, key=lambda r: r["p50_ms"], reverse=True):
            print(
                f"  {r['endpoint']:<36} p50 {r['p50_ms']:>7.1f} ms   max {r['max_ms']:>7.1f} ms   errors {r['errors']}"
            )
    if result["still_running"]:
        print(f"warning: {result['still_running']} clients had not finished", file=sys.stderr)


if __name__ == "__main__":
    main()
