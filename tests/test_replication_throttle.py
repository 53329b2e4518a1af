"""Replication throttles (KIP-73) on a three-node cluster, with real clients.

A reassignment copies a partition's log to a new replica. With `sluice partition reassign
--throttle` (Kafka's tool sets the same configs: the brokers' `leader.replication.throttled.rate`
and `follower.replication.throttled.rate`, the topic's `leader.replication.throttled.replicas`
and `follower.replication.throttled.replicas`) the copy goes no faster than the rate: seconds
after the move started the new replica still holds a fraction of the log, and the throttle
metrics show the bytes. Without the throttle the copy ends at once. Each side holds alone too.
Replicas in the ISR are never throttled: acks=all writes go on at full speed under a tiny rate.
Bad throttle values are refused (INVALID_CONFIG for a topic's, INVALID_REQUEST for a broker's,
as in Kafka).
"""

import re
import subprocess
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic, ResourceType)

from conftest import SLUICE_BIN, Cluster, wait_until
from kafka_helpers import Rec, admin, confluent_consume, confluent_produce, confluent_producer

FAST = {
    "broker.session.timeout.ms": "1500",
    "broker.heartbeat.interval.ms": "200",
    "replica.lag.time.max.ms": "3000",
    "replica.fetch.backoff.ms": "100",
    # Small fetches: the throttle is checked between them.
    "replica.fetch.max.bytes": "65536",
}
RECORDS = 3000
VALUE = b"x" * 1000
RATE = 100_000  # bytes per second


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(str(tmp_path_factory.mktemp("throttle")), n=3, extra=FAST)
    try:
        yield c
    finally:
        c.stop()


def reassign(bootstrap, *args):
    return subprocess.run([SLUICE_BIN, "partition", "-b", bootstrap, "reassign", *args],
                          capture_output=True, text=True, timeout=180)


def partition_state(a, topic):
    p = a.list_topics(topic=topic, timeout=10).topics[topic].partitions[0]
    return p.leader, list(p.replicas), sorted(p.isrs)


def metric(broker, name, labels=None):
    """The value of series `name` with exactly `labels` on the broker's /metrics (None if
    absent)."""
    address = broker.admin_address()
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)", line)
        if m and m.group(1) == name:
            if dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")) == (labels or {}):
                return float(m.group(3))
    return None


def log_end(broker, topic):
    return metric(broker, "kafka_log_log_logendoffset", {"topic": topic, "partition": "0"})


def filled_topic(a, bootstrap, replicas):
    """A one-partition topic on `replicas` holding RECORDS records of 1 kB (small batches,
    so that every fetch is small too)."""
    topic = "throttled-" + uuid.uuid4().hex[:6]
    a.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[replicas])]
                    )[topic].result(timeout=30)
    wait_until(lambda: partition_state(a, topic)[2] == sorted(replicas), timeout=30,
               what="the topic's ISR")
    confluent_produce(bootstrap, topic, [Rec(0, None, VALUE) for _ in range(RECORDS)],
                      **{"batch.size": 16384, "linger.ms": 5})
    return topic


def alter(a, resource_type, name, *ops):
    resource = ConfigResource(resource_type, name, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=op) for k, v, op in ops])
    a.incremental_alter_configs([resource])[resource].result(timeout=30)


def topic_configs(a, topic):
    resource = ConfigResource(ResourceType.TOPIC, topic)
    return a.describe_configs([resource])[resource].result(timeout=30)


def assert_held(broker, topic, what):
    """A few seconds into the copy the new replica holds well under the log: the rate's
    first window lets about 1 MB through (Kafka's quota measures a new rate over ten
    one-second windows), the rest at RATE."""
    time.sleep(4)
    end = log_end(broker, topic)
    assert end is not None and end < RECORDS * 0.7, f"{what}: the new replica is at {end}"


def test_reassign_throttle_holds_the_copy_and_clearing_it_lets_it_finish(cluster):
    a = admin(cluster.bootstrap)
    topic = filled_topic(a, cluster.bootstrap, [1])

    out = reassign(cluster.bootstrap, "--topic", topic, "--partition", "0",
                   "--replicas", "1,2", "--throttle", str(RATE))
    assert out.returncode == 0, out.stderr
    assert "accepted" in out.stdout and "Throttled brokers 1,2" in out.stdout, out.stdout
    assert "--clear-throttle" in out.stdout, out.stdout

    configs = topic_configs(a, topic)
    assert configs["leader.replication.throttled.replicas"].value == "0:1"
    assert configs["follower.replication.throttled.replicas"].value == "0:2"
    assert_held(cluster.brokers[1], topic, "throttled on both sides")
    listed = reassign(cluster.bootstrap, "--list", "--topic", topic)
    assert f"{topic}-0" in listed.stdout, listed.stdout
    # Both sides measured what they copied.
    assert metric(cluster.brokers[0], "kafka_server_leaderreplication_byte_rate") > 0
    assert metric(cluster.brokers[1], "kafka_server_followerreplication_byte_rate") > 0

    cleared = reassign(cluster.bootstrap, "--clear-throttle", "--topic", topic)
    assert cleared.returncode == 0, cleared.stderr
    assert "Throttles removed" in cleared.stdout, cleared.stdout
    wait_until(lambda: partition_state(a, topic)[2] == [1, 2], timeout=60,
               what="the new replica to catch up once the throttle is gone")
    assert "leader.replication.throttled.replicas" not in {
        k for k, v in topic_configs(a, topic).items() if v.source == 1}
    wait_until(lambda: log_end(cluster.brokers[1], topic) == RECORDS, timeout=30,
               what="the whole log on the new replica")
    got = confluent_consume(cluster.bootstrap, topic, 1)
    assert len(got) == RECORDS and all(r.value == VALUE for r in got)


@pytest.mark.parametrize("side", ["leader", "follower"])
def test_each_side_holds_alone(cluster, side):
    """The leader side alone (the leader answers without records) and the follower side alone
    (the follower leaves the partition out of its fetches) each hold the copy."""
    a = admin(cluster.bootstrap)
    topic = filled_topic(a, cluster.bootstrap, [1])
    # The leader side's rate is the leader's (broker 1), the follower side's the new
    # replica's (broker 3). `*`: every replica of the topic.
    broker = "1" if side == "leader" else "3"
    alter(a, ResourceType.BROKER, broker,
          (f"{side}.replication.throttled.rate", str(RATE), AlterConfigOpType.SET))
    alter(a, ResourceType.TOPIC, topic,
          (f"{side}.replication.throttled.replicas", "*", AlterConfigOpType.SET))
    try:
        out = reassign(cluster.bootstrap, "--topic", topic, "--partition", "0",
                       "--replicas", "1,3")
        assert out.returncode == 0, out.stderr
        assert_held(cluster.brokers[2], topic, f"throttled on the {side} side")
    finally:
        alter(a, ResourceType.BROKER, broker,
              (f"{side}.replication.throttled.rate", None, AlterConfigOpType.DELETE))
    wait_until(lambda: partition_state(a, topic)[2] == [1, 3], timeout=60,
               what="the copy to finish once the rate is gone")


def test_replicas_in_the_isr_are_never_throttled(data_root):
    """A rate of 1 B/s on every broker and both sides of every replica: acks=all writes to
    three in-sync replicas still complete, and no byte of them counts as throttled (a throttle
    would let the first round through and hold each later one for the quota window). Its own
    cluster: the throttle rates are the brokers' and other tests' copies count in them."""
    cluster = Cluster(data_root, n=3, extra=FAST)
    try:
        a = admin(cluster.bootstrap)
        topic = "insync-" + uuid.uuid4().hex[:6]
        a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=3,
                                  config={"min.insync.replicas": "3",
                                          "leader.replication.throttled.replicas": "*",
                                          "follower.replication.throttled.replicas": "*"})]
                        )[topic].result(timeout=30)
        wait_until(lambda: partition_state(a, topic)[2] == [1, 2, 3], timeout=30,
                   what="the full ISR")
        for broker in ("1", "2", "3"):
            alter(a, ResourceType.BROKER, broker,
                  *[(f"{side}.replication.throttled.rate", "1", AlterConfigOpType.SET)
                    for side in ("leader", "follower")])
        # Ten rounds, each its own Produce request and its own follower fetches.
        producer = confluent_producer(cluster.bootstrap)
        for n in range(10):
            sent = confluent_produce(cluster.bootstrap, topic,
                                     [Rec(0, None, VALUE) for _ in range(100)], timeout=30,
                                     producer=producer)
            assert [r.offset for r in sent] == list(range(n * 100, n * 100 + 100))
        for b in cluster.brokers:
            for side in ("leader", "follower"):
                assert metric(b, f"kafka_server_{side}replication_byte_rate") == 0, (b.port, side)
        assert partition_state(a, topic)[2] == [1, 2, 3]
    finally:
        cluster.stop()


def test_bad_throttle_values_are_refused(cluster):
    a = admin(cluster.bootstrap)
    topic = "throttle-bad-" + uuid.uuid4().hex[:6]
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]
                    )[topic].result(timeout=30)
    for value in ["0-1", "*,0:1", "0:"]:
        with pytest.raises(KafkaException) as e:
            alter(a, ResourceType.TOPIC, topic,
                  ("leader.replication.throttled.replicas", value, AlterConfigOpType.SET))
        err = e.value.args[0]
        assert err.name() == "INVALID_CONFIG", err
        assert "must be the literal '*' or a list of replicas" in err.str(), err
    # A bad broker value is INVALID_REQUEST, as in Kafka (KAFKA-13609).
    for key, value, why in [("follower.replication.throttled.rate", "-5", "at least 0"),
                            ("leader.replication.throttled.rate", "fast", "Not a number"),
                            ("replica.alter.log.dirs.io.max.bytes.per.second", "-1",
                             "at least 0")]:
        with pytest.raises(KafkaException) as e:
            alter(a, ResourceType.BROKER, "1", (key, value, AlterConfigOpType.SET))
        err = e.value.args[0]
        assert err.name() == "INVALID_REQUEST" and why in err.str(), err
    # The CLI: --clear-throttle needs the topics; --throttle is not a number.
    out = reassign(cluster.bootstrap, "--clear-throttle")
    assert out.returncode != 0 and "--topic or --plan" in out.stderr, out.stderr
    out = reassign(cluster.bootstrap, "--topic", topic, "--partition", "0", "--replicas", "1",
                   "--throttle", "lots")
    assert out.returncode != 0 and "invalid value 'lots'" in out.stderr, out.stderr
    # A move of a partition that does not exist sets no throttle.
    out = reassign(cluster.bootstrap, "--topic", topic, "--partition", "5", "--replicas", "1",
                   "--throttle", "1000")
    assert out.returncode != 0 and f"{topic}-5 does not exist" in out.stderr, out.stderr
