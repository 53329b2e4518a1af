"""Shared fixtures: real `sluice server` processes on ephemeral loopback ports.

Every broker runs in its own temporary data directory, is found through the "listening on
HOST:PORT" line it logs at startup, and is stopped (SIGTERM, then SIGKILL after a deadline) when
the test ends. Waits are bounded by deadlines; nothing sleeps to synchronise.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

SLUICE_BIN = os.environ.get("SLUICE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "target", "debug", "sluice"
)
# The config file's first listener (a listener opened later by a dynamic `listeners` config
# logs "listener NAME (dynamic) listening on ..." and is not the broker's bootstrap address).
LISTENING = re.compile(r"sluice node \d+ (?:listener \S+|\(controller only\)) listening on "
                       r"(127\.[\d.]+):(\d+)")
ADMIN_LISTENER = re.compile(r"admin listener serving https?://(127\.[\d.]+:\d+)")
SCHEMA_REGISTRY = re.compile(r"schema registry serving (https?://127\.[\d.]+:\d+)")


def wait_until(predicate, timeout=30.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Broker:
    """A sluice server process that can be stopped, killed and restarted on its data dir."""

    def __init__(self, data_dir, extra=None, port=0, env=None):
        self.data_dir = data_dir
        self.extra = dict(extra or {})
        self.port = port
        # Environment variables added to the process's (e.g. SSL_CERT_FILE).
        self.env = dict(env or {})
        self.proc = None
        # Beside the data dir, not through it: "<data_dir>/.." does not resolve before the broker
        # has created <data_dir>.
        self.log_path = os.path.join(os.path.dirname(data_dir), os.path.basename(data_dir) + ".log")
        self.starts = 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=60.0):
        self.launch()
        return self.wait_listening(timeout)

    def settings(self):
        """The config keys and values the process runs with (`--set`); `sluice storage format`
        of this node takes the same."""
        # The admin listener on an ephemeral port: tests run several brokers on one machine.
        settings = {"listeners": f"PLAINTEXT://127.0.0.1:{self.port}", "log.dirs": self.data_dir,
                    "admin.listeners": "http://127.0.0.1:0",
                    "schema.registry.listeners": "http://127.0.0.1:0",
                    "rest.proxy.listeners": "http://127.0.0.1:0"}
        # "{data_dir}" in a value is this broker's data directory (e.g. several log.dirs in it).
        settings.update({k: str(v).replace("{data_dir}", self.data_dir)
                         for k, v in self.extra.items()})
        return settings

    def set_args(self):
        return [a for k, v in self.settings().items() for a in ("--set", f"{k}={v}")]

    def launch(self):
        """Starts the process without waiting for it to serve (see wait_listening)."""
        args = [SLUICE_BIN, "server", *self.set_args()]
        self.starts += 1
        log = open(self.log_path, "ab")
        start_offset = log.tell()
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     env=env)
        log.close()
        self.start_offset = start_offset
        return self

    def wait_listening(self, timeout=60.0):
        """Waits until the process launched last serves clients; returns self."""
        start_offset = self.start_offset

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.log_text()}")
            with open(self.log_path, "rb") as f:
                f.seek(start_offset)
                m = LISTENING.search(f.read().decode(errors="replace"))
            return m and int(m.group(2))

        port = wait_until(listening, timeout=timeout, what="broker to listen")
        # Keep the same port across restarts so clients can reconnect.
        self.port = port
        return self

    def admin_address(self, timeout=60.0):
        """`host:port` of the admin HTTP listener (/metrics, /livez, /readyz) of the process
        launched last: logged before the node joins the cluster."""
        start_offset = self.start_offset

        def logged():
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.log_text()}")
            with open(self.log_path, "rb") as f:
                f.seek(start_offset)
                m = ADMIN_LISTENER.search(f.read().decode(errors="replace"))
            return m and m.group(1)

        return wait_until(logged, timeout=timeout, what="admin listener address")

    def registry_url(self, timeout=60.0):
        """URL of the schema registry of the process launched last (logged once it serves:
        the _schemas topic exists and has a writer)."""
        start_offset = self.start_offset

        def logged():
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.log_text()}")
            with open(self.log_path, "rb") as f:
                f.seek(start_offset)
                m = SCHEMA_REGISTRY.search(f.read().decode(errors="replace"))
            return m and m.group(1)

        return wait_until(logged, timeout=timeout, what="schema registry to serve")

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-20000:]
        except OSError:
            return ""

    def stop(self, timeout=30.0):
        """Graceful stop (SIGTERM); SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise

    def kill(self):
        """kill -9: no flush, no checkpoint."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture
def data_root():
    with tempfile.TemporaryDirectory(prefix="sluice-test-") as d:
        yield d


@pytest.fixture
def broker_factory(data_root):
    brokers = []

    def make(extra=None, name="data", env=None):
        b = Broker(os.path.join(data_root, name), extra=extra, env=env)
        brokers.append(b)
        return b.start()

    yield make
    for b in brokers:
        try:
            b.stop(timeout=15)
        except Exception:
            b.kill()


@pytest.fixture
def broker(broker_factory):
    return broker_factory()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """N sluice nodes, each broker and controller, on loopback ports."""

    # A port picked free can be taken before the node binds it (by any socket's ephemeral
    # port): a node that cannot listen makes the whole cluster start again on new ports.
    START_ATTEMPTS = 3

    def __init__(self, root, n=3, extra=None, prepare=None):
        """`prepare(broker)`, if given, runs for each node before its first launch (e.g.
        `sluice storage format`)."""
        for attempt in range(1, self.START_ATTEMPTS + 1):
            self._launch(root, n, extra, attempt, prepare)
            try:
                for b in self.brokers:
                    b.wait_listening(timeout=90)
                return
            except RuntimeError as e:
                self.stop()
                if "Address already in use" not in str(e) or attempt == self.START_ATTEMPTS:
                    raise

    def _launch(self, root, n, extra, attempt, prepare):
        client_ports = [free_port() for _ in range(n)]
        controller_ports = [free_port() for _ in range(n)]
        self.controller_ports = controller_ports
        voters = ",".join(f"{i + 1}@127.0.0.1:{controller_ports[i]}" for i in range(n))
        cluster_id = "dGVzdC1jbHVzdGVyLWlkMQ"
        self.brokers = []
        for i in range(n):
            settings = {
                "node.id": str(i + 1),
                "listeners": f"PLAINTEXT://127.0.0.1:{client_ports[i]},"
                             f"CONTROLLER://127.0.0.1:{controller_ports[i]}",
                "controller.quorum.voters": voters,
                "cluster.id": cluster_id,
                "broker.session.timeout.ms": "3000",
                "broker.heartbeat.interval.ms": "300",
                "controller.quorum.election.timeout.ms": "500",
                "group.initial.rebalance.delay.ms": "0",
                "offsets.topic.num.partitions": "6",
                "transaction.state.log.num.partitions": "3",
            }
            settings.update(extra or {})
            data_dir = os.path.join(root, f"node-{i + 1}" if attempt == 1
                                    else f"node-{i + 1}-attempt-{attempt}")
            b = Broker(data_dir, extra=settings, port=client_ports[i])
            self.brokers.append(b)
            if prepare is not None:
                prepare(b)
        # Every node first: none serves before a quorum of controllers is up.
        for b in self.brokers:
            b.launch()

    @property
    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers)

    def stop(self):
        """Teardown: kill -9 every node. A graceful stop of the last nodes waits for a
        controller quorum that is gone (controlled shutdown gives up after 5 s); tests of
        graceful stops stop their nodes themselves."""
        for b in self.brokers:
            b.kill()
