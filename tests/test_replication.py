"""Replication under faults, with real clients and an oracle of acknowledged writes.

A three-node cluster holds a topic with replication factor 3 and min.insync.replicas=2. A
librdkafka producer (acks=all, idempotence on) writes numbered records without pause while the
test, cycle after cycle, kills the partition leader with SIGKILL and restarts it, kills another
broker and restarts it, and freezes one with SIGSTOP past its session timeout before letting it
go on. Afterwards every acknowledged record is in the log exactly once and in the order it was
sent, nothing at all is duplicated, and a group consumer reads everything.
"""

import os
import signal
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import NewTopic

from conftest import Cluster, wait_until
from kafka_helpers import OracleProducer, admin
from tls_helpers import Ca

# 10 cycles (30 faults) in the suite; SLUICE_CHAOS_CYCLES=100 for a soak run.
CYCLES = int(os.environ.get("SLUICE_CHAOS_CYCLES", "10"))

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="broker" password="broker-secret" user_broker="broker-secret";')


def security(mode, data_root):
    """Broker settings and client settings of a security mode: plaintext, or SASL_SSL (PLAIN)
    for clients, for the brokers' own replication traffic and for the controller listener
    (Raft between controllers, registrations and heartbeats) alike."""
    if mode == "plaintext":
        return {}, {}
    tls_dir = os.path.join(data_root, "tls")
    os.makedirs(tls_dir, exist_ok=True)
    ca = Ca(tls_dir)
    broker = {
        "listener.security.protocol.map": "PLAINTEXT:SASL_SSL,CONTROLLER:SASL_SSL",
        "ssl.keystore.location": ca.issue("broker", "broker"),
        "ssl.truststore.location": ca.pem_path,
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "listener.name.controller.plain.sasl.jaas.config": PLAIN_JAAS,
    }
    client = {"security.protocol": "SASL_SSL", "ssl.ca.location": ca.pem_path,
              "sasl.mechanism": "PLAIN", "sasl.username": "broker",
              "sasl.password": "broker-secret"}
    return broker, client


def leader_and_isr(a, topic):
    """(leader, sorted ISR), or (-1, []) while the client cannot get metadata (its request
    timed out on a node just killed): callers poll it with a deadline."""
    try:
        md = a.list_topics(topic=topic, timeout=10)
    except KafkaException:
        return -1, []
    p = md.topics[topic].partitions[0]
    return p.leader, sorted(p.isrs)


def current_leader(a, topic):
    return wait_until(lambda: max(leader_and_isr(a, topic)[0], 0), timeout=60,
                      what="a leader")


@pytest.mark.parametrize("mode", ["plaintext", "sasl_ssl"])
def test_acknowledged_writes_survive_kills_and_pauses(data_root, mode):
    broker_security, client = security(mode, data_root)
    # Over SASL_SSL the same faults, fewer cycles: what differs is how brokers connect.
    cycles = CYCLES if mode == "plaintext" else max(2, CYCLES // 10)
    cluster = Cluster(data_root, extra={
        "broker.session.timeout.ms": "1500",
        "broker.heartbeat.interval.ms": "200",
        "replica.lag.time.max.ms": "3000",
        "replica.fetch.backoff.ms": "100",
        **broker_security,
    })
    paused = None
    try:
        a = admin(cluster.bootstrap, **client)
        topic = "chaos-" + uuid.uuid4().hex[:6]
        a.create_topics([NewTopic(topic, 1, 3, config={"min.insync.replicas": "2"})])[topic] \
            .result(timeout=30)
        wait_until(lambda: leader_and_isr(a, topic)[1] == [1, 2, 3], timeout=30,
                   what="the full ISR")
        oracle = OracleProducer(cluster.bootstrap, topic, **client)
        oracle.thread.start()
        wait_until(lambda: len(oracle.acked) > 100, timeout=30, what="first acks")

        def node(broker_id):
            return cluster.brokers[broker_id - 1]

        def settle():
            wait_until(lambda: leader_and_isr(a, topic)[1] == [1, 2, 3], timeout=90,
                       what="the ISR to heal")

        for cycle in range(cycles):
            leader = current_leader(a, topic)
            node(leader).kill()
            wait_until(lambda: leader_and_isr(a, topic)[0] not in (-1, leader), timeout=60,
                       what=f"cycle {cycle}: a new leader")
            node(leader).start(timeout=90)
            settle()

            current = current_leader(a, topic)
            other = next(b for b in (1, 2, 3) if b != current)
            node(other).kill()
            time.sleep(0.5)
            node(other).start(timeout=90)
            settle()

            victim = (cycle % 3) + 1
            paused = node(victim)
            os.kill(paused.proc.pid, signal.SIGSTOP)
            time.sleep(2.0)
            os.kill(paused.proc.pid, signal.SIGCONT)
            paused = None
            settle()

        before = len(oracle.acked)
        wait_until(lambda: len(oracle.acked) > before + 100, timeout=60,
                   what="acks after the last cycle")
        oracle.finish()
        assert not oracle.failed, f"failed deliveries: {oracle.failed[:5]}"

        # Everything in the log, read by a group consumer.
        consumer = Consumer({"bootstrap.servers": cluster.bootstrap,
                             "group.id": "oracle-" + uuid.uuid4().hex[:6],
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             **client})
        consumer.subscribe([topic])
        log = []
        acked_offsets = {offset for _, offset in oracle.acked}
        last_acked = max(acked_offsets)
        deadline = time.monotonic() + 120
        while not log or log[-1][1] < last_acked:
            assert time.monotonic() < deadline, \
                f"read {len(log)} records, up to offset {log[-1][1] if log else None}"
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                log.append((int(msg.value()), msg.offset()))
        consumer.close()

        values = [v for v, _ in log]
        assert len(values) == len(set(values)), "a record is in the log twice"
        assert values == sorted(values), "records are out of order"
        in_log = dict(log)
        for n, offset in oracle.acked:
            assert in_log.get(n) == offset, f"acknowledged record {n} at {offset} is missing"
        print(f"{mode}: {cycles} cycles, {len(oracle.acked)} acknowledged records, "
              f"{len(log)} in the log")
    finally:
        if paused is not None:
            os.kill(paused.proc.pid, signal.SIGCONT)
        cluster.stop()
