"""The admin HTTP listener (issue 14): /metrics scraped by a real Prometheus server, /livez and
/readyz, and the Grafana dashboard's and alert rules' metric names.

The acceptance scenario runs on one 3-node cluster: node 1 starts alone (no quorum: /readyz 503
with a JSON reason, /livez 200), the others join (every /readyz 200); Prometheus (Debian's
`prometheus`, started here on a free port with a temporary TSDB, scraping every second) reads
bytes in for a topic being produced to, a consumer group's lag growing while the group is stopped
and back at 0 once it caught up, and under-replicated partitions >= 1 while a follower is down
and 0 once it is back.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from conftest import SLUICE_BIN, Broker, free_port, wait_until
from kafka_helpers import Rec, admin, confluent_produce, unique_topic

ROOT = os.path.join(os.path.dirname(__file__), "..")
DASHBOARD = os.path.join(ROOT, "docs", "grafana", "sluice-dashboard.json")
ALERTS = os.path.join(ROOT, "docs", "prometheus", "sluice-alerts.yml")
PROMETHEUS = shutil.which("prometheus")


def http_get(address, path, headers=None, timeout=10.0):
    """(status, content type, body) of GET http://address/path; HTTP errors are answers too."""
    request = urllib.request.Request(f"http://{address}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def sample_names(exposition):
    """The metric names of the samples in a text exposition."""
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def sample(exposition, name, labels=None):
    """The value of the series `name` with exactly `labels` (None if absent)."""
    for line in exposition.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if got == (labels or {}):
            return float(m.group(3))
    return None


def queried_metric_names():
    """Every metric name the dashboard's and the alert rules' PromQL expressions read (the
    names are Kafka's under the Strimzi rules and kafka_exporter's, all `kafka_...`)."""
    exprs = []
    with open(DASHBOARD) as f:
        for panel in json.load(f)["panels"]:
            exprs += [t["expr"] for t in panel.get("targets", [])]
    # The rules file's `expr:` values, including their continuation lines.
    with open(ALERTS) as f:
        inside = False
        for line in f:
            key = re.match(r"\s*-?\s*([a-z_]+):", line)
            if key:
                inside = key.group(1) == "expr"
                if inside:
                    exprs.append(line.split("expr:", 1)[1])
            elif inside:
                exprs.append(line)
    assert exprs, "no expressions found"
    return {n for e in exprs for n in re.findall(r"\bkafka_[a-z0-9_]+\b", e)}


# ---------------------------------------------------------------------------------------------
# One broker: endpoints, formats, configuration


def test_endpoints_formats_and_names(broker_factory):
    b = broker_factory()
    address = b.admin_address()
    assert http_get(address, "/livez")[0] == 200
    status, content_type, body = http_get(address, "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True}, body
    assert "application/json" in content_type
    status, content_type, text = http_get(address, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    names = sample_names(text)
    for name in ["kafka_server_replicamanager_partitioncount",
                 "kafka_controller_kafkacontroller_activecontrollercount",
                 "kafka_server_raftmetrics_current_epoch",
                 "kafka_server_brokertopicmetrics_bytesin_total"]:
        assert name in names, name
    # A single node is the active controller.
    assert sample(text, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    # Exported when no log directory failed, at 0.
    assert sample(text, "kafka_server_replicamanager_offlinereplicacount") == 0
    # Nothing throttled: the quota window's average throttle time is 0.
    assert sample(text, "kafka_server_produce_throttle_time") == 0
    # The quorum's high watermark is one past its last committed entry: the end of its log once
    # nothing is being written.

    def high_watermark_at_log_end():
        scraped = http_get(address, "/metrics")[2]
        end = sample(scraped, "kafka_server_raftmetrics_log_end_offset")
        return end > 0 and sample(scraped, "kafka_server_raftmetrics_high_watermark") == end

    wait_until(high_watermark_at_log_end, timeout=30, what="the high watermark at the log end")
    # OpenMetrics when asked for, as Prometheus' scraper asks.
    status, content_type, om = http_get(
        address, "/metrics", {"Accept": "application/openmetrics-text;version=1.0.0"})
    assert status == 200 and content_type.startswith("application/openmetrics-text"), content_type
    assert om.rstrip().endswith("# EOF")
    assert http_get(address, "/nothing-here")[0] == 404


def test_produce_and_fetch_counters_and_request_metrics(broker_factory):
    b = broker_factory()
    address = b.admin_address()
    topic = unique_topic("metrics-one")
    client = admin(b.bootstrap)
    client.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    acked = confluent_produce(b.bootstrap, topic,
                              [Rec(i % 2, None, b"x" * 100) for i in range(200)])
    assert len(acked) == 200
    text = http_get(address, "/metrics")[2]
    assert sample(text, "kafka_server_brokertopicmetrics_messagesin_total", {"topic": topic}) == 200
    bytes_in = sample(text, "kafka_server_brokertopicmetrics_bytesin_total", {"topic": topic})
    assert bytes_in >= 200 * 100
    # The all-topics series (no topic label) counts at least as much.
    assert sample(text, "kafka_server_brokertopicmetrics_bytesin_total") >= bytes_in
    assert sample(text, "kafka_network_requestmetrics_requests_total", {"request": "Produce"}) >= 1
    assert sample(text, "kafka_network_requestmetrics_totaltimems_count",
                  {"request": "Produce"}) >= 1
    assert sample(text, "kafka_network_requestmetrics_requestqueuetimems_bucket",
                  {"request": "Produce", "le": "+Inf"}) >= 1
    assert sample(text, "kafka_log_log_logendoffset", {"topic": topic, "partition": "0"}) == 100
    assert sample(text, "kafka_log_log_size", {"topic": topic, "partition": "1"}) > 100 * 100
    assert sample(text, "kafka_server_replicamanager_leadercount") >= 2
    assert sample(text, "kafka_server_socketservermetrics_connection_count",
                  {"listener": "PLAINTEXT"}) >= 0
    # Consumers' fetches count as bytes out.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "metrics-one",
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = 0
        deadline = time.monotonic() + 30
        while got < 100 and time.monotonic() < deadline:
            got += sum(1 for m in c.consume(100, timeout=0.5) if not m.error())
        assert got == 100
    finally:
        c.close()
    text = http_get(address, "/metrics")[2]
    assert sample(text, "kafka_server_brokertopicmetrics_bytesout_total", {"topic": topic}) >= 100 * 100
    # A deleted topic's series go away, as Kafka removes its MBeans.
    client.delete_topics([topic])[topic].result(30)
    wait_until(lambda: sample(http_get(address, "/metrics")[2],
                              "kafka_server_brokertopicmetrics_bytesin_total",
                              {"topic": topic}) is None, timeout=30, what="topic series removed")


@pytest.mark.parametrize("value, why", [
    ("127.0.0.1:9644", "expected http://host:port"),
    ("ftp://127.0.0.1:0", "the scheme must be http or https"),
    # https needs a key store (tests/test_admin_https.py serves one).
    ("https://127.0.0.1:0", "set listener.name.admin.ssl.keystore.location"),
    ("http://127.0.0.1:notaport", "the port must be a number"),
    ("http://example.invalid:80", "must be an IP address"),
])
def test_a_bad_admin_listener_stops_startup(tmp_path, value, why):
    out = subprocess.run([SLUICE_BIN, "server", "--set", f"admin.listeners={value}",
                          "--set", f"log.dirs={tmp_path}"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2, out.stderr
    assert "admin.listeners" in out.stderr and why in out.stderr, out.stderr


def test_an_empty_admin_listeners_switches_it_off(broker_factory):
    b = broker_factory({"admin.listeners": ""})
    assert "admin listener serving" not in b.log_text()


def test_an_admin_port_in_use_stops_startup(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([SLUICE_BIN, "server", "--set", f"admin.listeners=http://127.0.0.1:{port}",
                              "--set", "listeners=PLAINTEXT://127.0.0.1:0",
                              "--set", f"log.dirs={tmp_path}"], capture_output=True, text=True,
                             timeout=30)
    assert out.returncode != 0
    assert f"admin listener: cannot listen on 127.0.0.1:{port}" in out.stderr, out.stderr


# ---------------------------------------------------------------------------------------------
# The acceptance scenario: three nodes, a real Prometheus


CLUSTER_ID = "bWV0cmljcy1jbHVzdGVyMQ"


def launch_nodes(root, n=3):
    """Brokers (each also a controller) configured as conftest's Cluster does, not started."""
    client_ports = [free_port() for _ in range(n)]
    controller_ports = [free_port() for _ in range(n)]
    voters = ",".join(f"{i + 1}@127.0.0.1:{controller_ports[i]}" for i in range(n))
    nodes = []
    for i in range(n):
        settings = {
            "node.id": str(i + 1),
            "listeners": f"PLAINTEXT://127.0.0.1:{client_ports[i]},"
                         f"CONTROLLER://127.0.0.1:{controller_ports[i]}",
            "controller.quorum.voters": voters,
            "cluster.id": CLUSTER_ID,
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "300",
            "controller.quorum.election.timeout.ms": "500",
            "group.initial.rebalance.delay.ms": "0",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.num.partitions": "1",
            # A follower that stops fetching leaves the ISR after 3 s.
            "replica.lag.time.max.ms": "3000",
        }
        nodes.append(Broker(os.path.join(root, f"node-{i + 1}"), extra=settings,
                            port=client_ports[i]))
    return nodes


class Prometheus:
    """A Prometheus server scraping `targets` every second, on a free port and a temporary
    TSDB."""

    def __init__(self, root, targets):
        self.dir = os.path.join(root, "prometheus")
        os.makedirs(self.dir)
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: sluice\n    static_configs:\n"
                    f"      - targets: {json.dumps(targets)}\n")
        self.address = f"127.0.0.1:{free_port()}"
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address={self.address}"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        wait_until(self.ready, timeout=60, interval=0.2, what="prometheus to be ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.proc.returncode}")
        try:
            return http_get(self.address, "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def query(self, promql):
        """The value of an instant query that returns one sample (None when it returns none)."""
        status, _, body = http_get(
            self.address, "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert status == 200, body
        result = json.loads(body)["data"]["result"]
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, promql, predicate, what, timeout=60.0):
        """Polls `promql` until its value satisfies `predicate`; returns the value."""
        last = []

        def check():
            value = self.query(promql)
            last[:] = [value]
            return value is not None and predicate(value) and (value,)

        try:
            return wait_until(check, timeout=timeout, interval=0.5, what=what)[0]
        except TimeoutError:
            raise TimeoutError(f"{what}: `{promql}` is {last}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def commit_all(bootstrap, group, topic, partitions, timeout=60.0):
    """A member of `group` reads `topic` to its current end and commits; returns the records
    read."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                for p in range(partitions)}
        c.subscribe([topic])
        positions = {p: -1 for p in range(partitions)}
        read = 0
        deadline = time.monotonic() + timeout
        while any(positions[p] < ends[p] - 1 for p in range(partitions) if ends[p] > 0):
            assert time.monotonic() < deadline, f"group {group} read {positions} of {ends}"
            for m in c.consume(500, timeout=0.5):
                if m.error():
                    continue
                positions[m.partition()] = max(positions[m.partition()], m.offset())
                read += 1
        c.commit(offsets=[TopicPartition(topic, p, ends[p]) for p in range(partitions)],
                 asynchronous=False)
        return read
    finally:
        c.close()


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian package prometheus not installed "
                                               "(scripts/test installs it)")
def test_prometheus_scrapes_a_three_node_cluster():
    root = tempfile.mkdtemp(prefix="sluice-metrics-")
    nodes = launch_nodes(root)
    prometheus = None
    try:
        # Node 1 alone: alive, not ready (no quorum to register with), and says why.
        nodes[0].launch()
        first = nodes[0].admin_address()
        assert http_get(first, "/livez")[0] == 200
        status, content_type, body = http_get(first, "/readyz")
        assert status == 503, body
        assert "application/json" in content_type
        answer = json.loads(body)
        assert answer["ready"] is False and "controller quorum" in answer["reason"], answer
        # The others join: a quorum, every node registered and unfenced.
        for n in nodes[1:]:
            n.launch()
        for n in nodes:
            n.wait_listening(timeout=90)
        admins = [n.admin_address() for n in nodes]
        for a in admins:
            wait_until(lambda: http_get(a, "/readyz")[0] == 200, timeout=60, what=f"{a} ready")
        bootstrap = ",".join(n.bootstrap for n in nodes)

        prometheus = Prometheus(root, admins)
        prometheus.wait_for('count(up{job="sluice"} == 1)', lambda v: v == 3,
                            "prometheus to scrape all three nodes")
        assert prometheus.query("sum(kafka_controller_kafkacontroller_activecontrollercount)") == 1

        # Bytes in for a topic a producer writes to (3 partitions, 3 replicas).
        topic = unique_topic("metrics")
        client = admin(bootstrap)
        client.create_topics([NewTopic(topic, 3, 3)])[topic].result(30)
        wait_until(lambda: all(p.leader >= 0 for p in
                               client.list_topics(topic, timeout=10)
                               .topics[topic].partitions.values()),
                   timeout=30, what="leaders")
        records = [Rec(i % 3, None, b"v" * 100) for i in range(300)]
        confluent_produce(bootstrap, topic, records)
        prometheus.wait_for(
            f'sum(kafka_server_brokertopicmetrics_bytesin_total{{topic="{topic}"}})',
            lambda v: v >= 300 * 100, "bytes in for the topic")
        assert prometheus.query(
            f'sum(kafka_server_brokertopicmetrics_messagesin_total{{topic="{topic}"}})') == 300

        # Consumer lag: 0 after the group caught up, growing while it is stopped, 0 again once
        # it caught up; one series per partition across the cluster (only the coordinator).
        group = "metrics-group"
        assert commit_all(bootstrap, group, topic, 3) == 300
        lag = f'sum(kafka_consumergroup_lag{{consumergroup="{group}",topic="{topic}"}})'
        series = f'count(kafka_consumergroup_lag{{consumergroup="{group}",topic="{topic}"}})'
        prometheus.wait_for(series, lambda v: v == 3, "one lag series per partition")
        prometheus.wait_for(lag, lambda v: v == 0, "no lag after catching up")
        confluent_produce(bootstrap, topic, records[:150])
        prometheus.wait_for(lag, lambda v: v == 150, "lag while the group is stopped")
        confluent_produce(bootstrap, topic, records[:150])
        prometheus.wait_for(lag, lambda v: v == 300, "lag growing while the group is stopped")
        assert commit_all(bootstrap, group, topic, 3) == 300
        prometheus.wait_for(lag, lambda v: v == 0, "no lag once the group caught up")
        assert prometheus.query(series) == 3

        # Partitions with one replica each, spread over the nodes: the coordinator hosts at most
        # one of them and asks the other leaders for their end offsets.
        single = unique_topic("metrics-rf1")
        client.create_topics([NewTopic(single, 3, 1)])[single].result(30)
        wait_until(lambda: all(p.leader >= 0 for p in
                               client.list_topics(single, timeout=10)
                               .topics[single].partitions.values()),
                   timeout=30, what="leaders")
        confluent_produce(bootstrap, single, records[:90])
        assert commit_all(bootstrap, group, single, 3) == 90
        confluent_produce(bootstrap, single, records[:60])
        prometheus.wait_for(
            f'sum(kafka_consumergroup_lag{{consumergroup="{group}",topic="{single}"}})',
            lambda v: v == 60, "lag of partitions led by other brokers")
        assert prometheus.query(
            f'count(kafka_consumergroup_lag{{consumergroup="{group}",topic="{single}"}})') == 3
        assert prometheus.query(
            f'sum(kafka_consumergroup_lag_sum{{consumergroup="{group}",topic="{single}"}})') == 60

        # Every metric the dashboard and the alert rules query is exported.
        exported = set()
        for a in admins:
            exported |= sample_names(http_get(a, "/metrics")[2])
        missing = sorted(n for n in queried_metric_names() if n not in exported)
        assert not missing, f"queried but not exported: {missing}"

        # Under-replicated partitions while a follower is down, none once it is back.
        leaders = {p.id: p.leader for p in client.list_topics(topic, timeout=10)
                   .topics[topic].partitions.values()}
        follower = next(n for n in nodes if int(n.extra["node.id"]) != leaders[0])
        follower.kill()
        # Back on the same admin port, which Prometheus scrapes.
        follower.extra["admin.listeners"] = "http://" + admins[nodes.index(follower)]
        prometheus.wait_for("sum(kafka_server_replicamanager_underreplicatedpartitions)",
                            lambda v: v >= 1, "under-replicated partitions with a follower down")
        follower.start()
        prometheus.wait_for('count(up{job="sluice"} == 1)', lambda v: v == 3,
                            "the follower scraped again")
        prometheus.wait_for("sum(kafka_server_replicamanager_underreplicatedpartitions)",
                            lambda v: v == 0, "no under-replicated partition once it is back",
                            timeout=90)
        assert prometheus.query("sum(kafka_controller_kafkacontroller_offlinepartitionscount)") == 0
    finally:
        if prometheus is not None:
            prometheus.stop()
        for n in nodes:
            n.kill()
        shutil.rmtree(root, ignore_errors=True)
