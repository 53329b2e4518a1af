"""Partition reassignment (KIP-455) on a four-node cluster, with real clients.

A topic lives on brokers {1, 2, 3} with min.insync.replicas=2 while a librdkafka producer
(acks=all, idempotence on) writes without pause; `sluice partition reassign --wait` moves it to
{2, 3, 4}: broker 4 copies the log, joins the ISR, broker 1 (the leader) hands over and drops
its copy. Every acknowledged record is then in the log exactly once, in order. A second test
holds a reassignment open (its new replica is down), lists it, cancels it, and checks the
refusals: an unregistered broker, a partition that does not exist, nothing to cancel.
"""

import json
import os
import subprocess
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.admin import NewTopic

from conftest import SLUICE_BIN, Cluster, wait_until
from kafka_helpers import OracleProducer, admin

FAST = {
    "broker.session.timeout.ms": "1500",
    "broker.heartbeat.interval.ms": "200",
    "replica.lag.time.max.ms": "3000",
    "replica.fetch.backoff.ms": "100",
}


def sluice(bootstrap, *args, timeout=180):
    return subprocess.run([SLUICE_BIN, "partition", "-b", bootstrap, "reassign", *args],
                          capture_output=True, text=True, timeout=timeout)


def partition_state(a, topic):
    md = a.list_topics(topic=topic, timeout=10)
    p = md.topics[topic].partitions[0]
    return p.leader, list(p.replicas), sorted(p.isrs)


def create(a, topic, replicas):
    a.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[replicas],
                              config={"min.insync.replicas": "2"})])[topic].result(timeout=30)
    wait_until(lambda: partition_state(a, topic)[2] == sorted(replicas), timeout=30,
               what="the full ISR")


def read_all(bootstrap, topic, last_offset):
    consumer = Consumer({"bootstrap.servers": bootstrap,
                         "group.id": "check-" + uuid.uuid4().hex[:6],
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    log = []
    deadline = time.monotonic() + 120
    try:
        while not log or log[-1][1] < last_offset:
            assert time.monotonic() < deadline, \
                f"read {len(log)} records, up to offset {log[-1][1] if log else None}"
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                log.append((int(msg.value()), msg.offset()))
    finally:
        consumer.close()
    return log


def test_reassignment_under_load_loses_nothing(data_root):
    cluster = Cluster(data_root, n=4, extra=FAST)
    try:
        a = admin(cluster.bootstrap)
        topic = "moving-" + uuid.uuid4().hex[:6]
        create(a, topic, [1, 2, 3])
        oracle = OracleProducer(cluster.bootstrap, topic)
        oracle.thread.start()
        # Enough data that the new replica has a log to copy while writes go on.
        wait_until(lambda: len(oracle.acked) > 50000, timeout=60, what="first acks")

        out = sluice(cluster.bootstrap, "--topic", topic, "--partition", "0",
                     "--replicas", "2,3,4", "--wait", "--wait-timeout", "120")
        assert out.returncode == 0, out.stderr
        assert "accepted" in out.stdout and "complete" in out.stdout, out.stdout

        leader, replicas, isr = partition_state(a, topic)
        assert replicas == [2, 3, 4]
        assert leader in (2, 3, 4)
        wait_until(lambda: partition_state(a, topic)[2] == [2, 3, 4], timeout=30,
                   what="the ISR of the new replicas")
        # Broker 1 deleted its copy; broker 4 has one.
        old_dir = os.path.join(cluster.brokers[0].data_dir, f"{topic}-0")
        wait_until(lambda: not os.path.exists(old_dir), timeout=30,
                   what="broker 1 to delete its replica")
        assert os.path.isdir(os.path.join(cluster.brokers[3].data_dir, f"{topic}-0"))
        listed = sluice(cluster.bootstrap, "--list")
        assert listed.returncode == 0, listed.stderr
        assert "No reassignment is in progress." in listed.stdout

        before = len(oracle.acked)
        wait_until(lambda: len(oracle.acked) > before + 1000, timeout=60,
                   what="acks after the move")
        oracle.finish()
        assert not oracle.failed, f"failed deliveries: {oracle.failed[:5]}"

        log = read_all(cluster.bootstrap, topic, max(o for _, o in oracle.acked))
        values = [v for v, _ in log]
        assert len(values) == len(set(values)), "a record is in the log twice"
        assert values == sorted(values), "records are out of order"
        in_log = dict(log)
        for n, offset in oracle.acked:
            assert in_log.get(n) == offset, f"acknowledged record {n} at {offset} is missing"
    finally:
        cluster.stop()


def test_reassignment_in_progress_is_listed_cancelled_and_checked(data_root, tmp_path):
    cluster = Cluster(data_root, n=4, extra=FAST)
    try:
        a = admin(cluster.bootstrap)
        topic = "held-" + uuid.uuid4().hex[:6]
        create(a, topic, [1, 2, 3])
        # Broker 4 is registered but down: a move to it cannot complete.
        cluster.brokers[3].kill()
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"version": 1, "partitions": [
            {"topic": topic, "partition": 0, "replicas": [1, 2, 4]}]}))
        out = sluice(cluster.bootstrap, "--plan", str(plan))
        assert out.returncode == 0, out.stderr
        # The broker answering Metadata applies the controller's record a moment later.
        wait_until(lambda: partition_state(a, topic)[1] == [1, 2, 4, 3], timeout=30,
                   what="Metadata to name the adding replica")

        listed = sluice(cluster.bootstrap, "--list", "--topic", topic)
        assert listed.returncode == 0, listed.stderr
        assert f"{topic}-0" in listed.stdout and "1,2,4,3" in listed.stdout, listed.stdout

        waited = sluice(cluster.bootstrap, "--plan", str(plan), "--wait", "--wait-timeout", "2")
        assert waited.returncode != 0
        assert "still in progress" in waited.stderr, waited.stderr

        out = sluice(cluster.bootstrap, "--cancel", "--topic", topic, "--partition", "0")
        assert out.returncode == 0, out.stderr
        assert "cancelled" in out.stdout, out.stdout
        wait_until(lambda: partition_state(a, topic)[1] == [1, 2, 3], timeout=30,
                   what="Metadata to drop the cancelled replica")
        leader, replicas, isr = partition_state(a, topic)
        assert (leader, sorted(replicas), isr) == (1, [1, 2, 3], [1, 2, 3])

        # Refusals: one clear line each, non-zero exit.
        again = sluice(cluster.bootstrap, "--cancel", "--topic", topic, "--partition", "0")
        assert again.returncode != 0 and "NO_REASSIGNMENT_IN_PROGRESS" in again.stdout, \
            again.stdout
        unknown_broker = sluice(cluster.bootstrap, "--topic", topic, "--partition", "0",
                                "--replicas", "1,2,9")
        assert unknown_broker.returncode != 0
        assert "INVALID_REPLICA_ASSIGNMENT" in unknown_broker.stdout, unknown_broker.stdout
        assert "refused 1 of 1" in unknown_broker.stderr, unknown_broker.stderr
        no_partition = sluice(cluster.bootstrap, "--topic", topic, "--partition", "7",
                              "--replicas", "1,2,3")
        assert "UNKNOWN_TOPIC_OR_PARTITION" in no_partition.stdout, no_partition.stdout
        duplicate = sluice(cluster.bootstrap, "--topic", topic, "--partition", "0",
                           "--replicas", "1,1,2")
        assert "INVALID_REPLICA_ASSIGNMENT" in duplicate.stdout, duplicate.stdout
        bad_plan = tmp_path / "bad.json"
        bad_plan.write_text("{\"version\": 1}")
        out = sluice(cluster.bootstrap, "--plan", str(bad_plan))
        assert out.returncode != 0 and "invalid reassignment plan" in out.stderr, out.stderr
        assert partition_state(a, topic)[1] == [1, 2, 3]
    finally:
        cluster.stop()
