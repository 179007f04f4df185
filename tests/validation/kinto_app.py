"""The application under test: Kinto (Mozilla's JSON storage service, from PyPI) with a real
PostgreSQL 15 cluster, served by gunicorn on 127.0.0.1 only, server and database pinned to one
core (SERVER_CORE), and a Prometheus-format exporter of their CPU seconds (read from
/proc/<pid>/stat) for `twin load`'s observers.

This module owns the app's lifecycle: the venv (pinned requirements, kept in a cache dir), the
database cluster (initdb under a scratch dir, run as the `postgres` user when we are root), the
seed data (a readable record, and an account whose password is checked with bcrypt on every
request), gunicorn's start and stop, and the exporter. It never touches anything but the
processes it started (by pid) and its scratch dir.
"""

import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# The server (gunicorn and PostgreSQL) runs on core 1, the load (`twin load`) on core 0.
SERVER_CORE = "1"
LOAD_CORE = "0"
# The account the CPU-bound endpoint authenticates as: its bcrypt hash has cost 8 (256 rounds)
# rather than Kinto's default 12, so one check costs milliseconds, not half a second, and a
# low-load calibration run gathers its 200+ samples in a minute (the algorithm is the same).
BENCH_USER = "bench"
BENCH_PASSWORD = "bench"
BCRYPT_COST = 8


class Unavailable(Exception):
    """The application cannot be installed or started here (no network for pip, no
    PostgreSQL): the caller skips, saying why."""


def log(msg):
    print(f"[validation] {msg}", file=sys.stderr, flush=True)


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "twin-validation"


def is_root():
    return os.geteuid() == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv(requirements="requirements.txt"):
    """The venv with `requirements` (a file here) installed; reinstalled when the file changes.
    Each requirements file has its own venv, so the traced app's packages never reach the
    untraced one's measurements."""
    req = HERE / requirements
    digest = hashlib.sha256(req.read_bytes()).hexdigest()
    root = cache_dir() / ("venv" if requirements == "requirements.txt" else Path(requirements).stem)
    marker = root / "requirements.sha256"
    if marker.exists() and marker.read_text().strip() == digest:
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    log(f"installing Kinto into {root} (pinned: {req})")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([str(root / "bin/pip"), "install", "-q", "--disable-pip-version-check",
                        "-r", str(req)], check=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"cannot install Kinto from PyPI ({e}); is the network reachable?")
    marker.write_text(digest + "\n")
    return root


def as_pg(cmd):
    return (["runuser", "-u", "postgres", "--"] if is_root() else []) + cmd


def pinned(core, cmd):
    return ["taskset", "-c", core] + cmd


def wait_http(url, timeout_s, auth=None):
    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        try:
            req = urllib.request.Request(url)
            if auth:
                req.add_header("Authorization", auth)
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s}s: {last}")


def call(method, url, body=None, auth=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", auth)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def basic(user, password):
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def proc_table():
    """pid -> (ppid, own CPU seconds, reaped children's CPU seconds), from /proc/<pid>/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited between listdir and open
        fields = stat[stat.rfind(")") + 2:].split()
        # After the command: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
        ppid = int(fields[1])
        own = (int(fields[11]) + int(fields[12])) / tick
        reaped = (int(fields[13]) + int(fields[14])) / tick
        out[int(entry)] = (ppid, own, reaped)
    return out


def tree_cpu_seconds(root, table):
    """CPU seconds of a process, its live descendants and its reaped children."""
    if root not in table:
        return 0.0
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total = table[root][2]
    stack = [root]
    while stack:
        pid = stack.pop()
        total += table[pid][1]
        stack.extend(children.get(pid, []))
    return total


class AccessLog:
    """gunicorn's access log, one line a request holding its time in the worker in
    microseconds (`%(D)s`), read incrementally: requests served and their seconds."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.requests = 0
        self.seconds = 0.0
        self.lock = threading.Lock()

    def totals(self):
        with self.lock:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self.offset)
                    chunk = f.read()
            except OSError:
                return self.requests, self.seconds
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
            for line in chunk[:end].splitlines():
                if line.strip().isdigit():
                    self.requests += 1
                    self.seconds += int(line) / 1e6
            self.offset += end
            return self.requests, self.seconds


class Exporter:
    """Serves, in the Prometheus text format, for `twin load`'s observers:
    `validation_cpu_seconds_total`: the CPU seconds of gunicorn (master and workers) plus
    PostgreSQL's (every backend: a request's queries are its CPU demand too, on the same
    core), from /proc; `validation_requests_total` and `validation_server_seconds_total`:
    requests served and the time they spent in a worker, from gunicorn's access log."""

    def __init__(self, roots, access_log):
        self.roots = roots  # callable -> list of root pids
        self.access_log = access_log  # callable -> the current AccessLog
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                table = proc_table()
                cpu = sum(tree_cpu_seconds(p, table) for p in exporter.roots())
                requests, seconds = exporter.access_log().totals()
                body = ("# TYPE validation_cpu_seconds_total counter\n"
                        f'validation_cpu_seconds_total{{service="kinto"}} {cpu:.3f}\n'
                        "# TYPE validation_requests_total counter\n"
                        f'validation_requests_total{{service="kinto"}} {requests}\n'
                        "# TYPE validation_server_seconds_total counter\n"
                        f'validation_server_seconds_total{{service="kinto"}} {seconds:.6f}\n').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def trace_files(prefix):
    """The files the traced workers wrote under the path prefix `prefix` (one a worker,
    `<prefix>.<pid>.jsonl`, see otel_gunicorn.py)."""
    prefix = Path(prefix)
    return sorted(prefix.parent.glob(prefix.name + ".*.jsonl"))


class Kinto:
    """PostgreSQL + Kinto under gunicorn, seeded. Use as a context manager."""

    def __init__(self, workers, traces=None):
        """`traces`: a path prefix; when given, Kinto is traced with OpenTelemetry
        (otel_gunicorn.py) and each worker writes `<traces>.<pid>.jsonl`."""
        for tool in ["initdb", "pg_ctl", "createdb", "psql"]:
            if not (PG_BIN / tool).exists():
                raise Unavailable(f"PostgreSQL 15 is needed: apt-get install -y postgresql ({PG_BIN / tool} missing)")
        if shutil.which("taskset") is None or (is_root() and shutil.which("runuser") is None):
            raise Unavailable("taskset and runuser are needed: apt-get install -y util-linux")
        self.traces = traces
        self.venv = venv("requirements-otel.txt" if traces else "requirements.txt")
        root = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
        self.dir = Path(tempfile.mkdtemp(prefix="twin-validation-", dir=root))
        os.chmod(self.dir, 0o755)
        self.pg_port = free_port()
        self.port = free_port()
        self.gunicorn = None
        self.pg_started = False
        self.workers = workers
        self.exporter = None
        self.starts = 0
        self.access_log = None

    def __enter__(self):
        try:
            self.start_postgres()
            self.write_ini()
            self.run([str(self.venv / "bin/kinto"), "migrate", "--ini", str(self.dir / "kinto.ini")])
            self.start_gunicorn(self.workers)
            self.seed()
            self.exporter = Exporter(lambda: [p for p in [self.gunicorn_pid(), self.pg_pid()] if p],
                                     lambda: self.access_log)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.exporter:
            self.exporter.stop()
        self.stop_gunicorn()
        if self.pg_started:
            subprocess.run(as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "pg"), "-m", "fast",
                                  "-w", "stop"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def run(self, cmd, **kw):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
        if r.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed ({r.returncode}):\n{r.stdout}")
        return r.stdout

    def start_postgres(self):
        pg = self.dir / "pg"
        if is_root():
            shutil.chown(self.dir, "postgres", "postgres")
        self.run(as_pg([str(PG_BIN / "initdb"), "-D", str(pg), "-A", "trust", "-U", "postgres"]))
        opts = f"-p {self.pg_port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=50"
        self.run(as_pg(pinned(SERVER_CORE, [str(PG_BIN / "pg_ctl"), "-D", str(pg), "-l",
                                            str(self.dir / "pg.log"), "-o", opts, "-w", "start"])))
        self.pg_started = True
        self.run(as_pg([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "kinto"]))

    def pg_pid(self):
        try:
            return int((self.dir / "pg" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def psql(self, sql):
        return self.run(as_pg([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port),
                               "-v", "ON_ERROR_STOP=1", "-qAt", "kinto", "-c", sql]))

    def write_ini(self):
        db = f"postgresql://postgres@127.0.0.1:{self.pg_port}/kinto"
        text = (HERE / "kinto.ini.in").read_text().replace("@DB@", db)
        (self.dir / "kinto.ini").write_text(text)

    def start_gunicorn(self, workers):
        self.workers = workers
        self.starts += 1
        # A new access log for each start: the counters restart with the server.
        access = self.dir / f"access-{self.starts}.log"
        self.access_log = AccessLog(access)
        log_file = open(self.dir / "gunicorn.log", "a")
        cmd = pinned(SERVER_CORE, [str(self.venv / "bin/gunicorn"), "--paste", str(self.dir / "kinto.ini"),
                                   "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                                   "--backlog", "2048", "--timeout", "120",
                                   "--access-logfile", str(access), "--access-logformat", "%(D)s"])
        env = dict(os.environ)
        if self.traces:
            Path(self.traces).parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--config", str(HERE / "otel_gunicorn.py")]
            env["TWIN_OTEL_FILE"] = str(self.traces)
        self.gunicorn = subprocess.Popen(cmd, cwd=self.dir, stdout=log_file, stderr=log_file,
                                         stdin=subprocess.DEVNULL, env=env)
        try:
            wait_http(f"{self.url}/v1/", 60)
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{(self.dir / 'gunicorn.log').read_text()[-3000:]}")
        # Every worker up (gunicorn forks them after the master binds): the master's children.
        deadline = time.time() + 30
        while time.time() < deadline:
            table = proc_table()
            if sum(1 for ppid, _, _ in table.values() if ppid == self.gunicorn.pid) >= workers:
                break
            time.sleep(0.2)
        log(f"gunicorn: {workers} workers on core {SERVER_CORE} at {self.url}")

    def gunicorn_pid(self):
        return self.gunicorn.pid if self.gunicorn and self.gunicorn.poll() is None else None

    def stop_gunicorn(self):
        if self.gunicorn and self.gunicorn.poll() is None:
            self.gunicorn.send_signal(signal.SIGTERM)
            try:
                self.gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.gunicorn.kill()
                self.gunicorn.wait()
        self.gunicorn = None

    def restart(self, workers):
        self.stop_gunicorn()
        self.start_gunicorn(workers)
        self.warm()

    def seed(self):
        v1 = f"{self.url}/v1"
        admin = basic("admin", "validation-admin")
        call("PUT", f"{v1}/accounts/admin", {"data": {"password": "validation-admin"}})
        call("PUT", f"{v1}/buckets/b", {"permissions": {"read": ["system.Everyone"]}}, admin)
        call("PUT", f"{v1}/buckets/b/collections/c", None, admin)
        call("PUT", f"{v1}/buckets/b/collections/c/records/r1",
             {"data": {"title": "the validation record", "tags": ["twin", "kinto"], "n": 1}}, admin)
        call("PUT", f"{v1}/accounts/{BENCH_USER}", {"data": {"password": BENCH_PASSWORD}})
        # Kinto hashes with bcrypt's default cost 12; the bench account's hash is replaced by one
        # of cost BCRYPT_COST (see above), written where Kinto keeps it.
        hashed = self.run([str(self.venv / "bin/python"), "-c",
                           f"import bcrypt; print(bcrypt.hashpw({BENCH_PASSWORD!r}.encode(), "
                           f"bcrypt.gensalt({BCRYPT_COST})).decode())"]).strip()
        self.psql("UPDATE objects SET data = jsonb_set(data, '{password}', to_jsonb('"
                  + hashed + "'::text)) WHERE resource_name = 'account' AND id = '" + BENCH_USER + "'")
        self.warm()

    def warm(self):
        """A few requests of each kind, so every worker has imported and connected."""
        for _ in range(4 * self.workers):
            call("GET", f"{self.url}/v1/buckets/b/collections/c/records/r1")
            call("GET", f"{self.url}/v1/accounts/{BENCH_USER}", None, basic(BENCH_USER, BENCH_PASSWORD))


if __name__ == "__main__":
    # `python3 kinto_app.py [WORKERS]`: start the app and keep it up until interrupted.
    try:
        with Kinto(int(sys.argv[1]) if len(sys.argv) > 1 else 2) as app:
            print(json.dumps({"target": app.url, "cpu_metrics": app.exporter.url}), flush=True)
            signals = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, signals)
            signal.sigwait(signals)
    except Unavailable as e:
        log(f"unavailable: {e}")
        sys.exit(77)
