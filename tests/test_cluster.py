"""A three-node Sluice cluster (one controller quorum, three brokers) with real clients:
metadata lists every broker, partitions are spread over them, librdkafka and kafka-python
produce to and consume from the leaders, and a consumer group spread over brokers commits
offsets to whichever broker coordinates it. A broker stopped gracefully hands its leaderships
back on return; a stopped broker's topics come back with their data."""

import subprocess
import time
import uuid

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from conftest import SLUICE_BIN, Cluster, wait_until
from kafka_helpers import (
    Rec,
    admin,
    confluent_consume,
    confluent_produce,
    create_topic,
    group_offsets,
    kafka_python_consume,
)


def test_three_nodes_serve_clients_and_a_group_across_brokers(data_root):
    cluster = Cluster(data_root)
    try:
        a = admin(cluster.brokers[0].bootstrap)
        wait_until(lambda: len(a.list_topics(timeout=10).brokers) == 3, timeout=30,
                   what="three brokers in metadata")
        md = a.list_topics(timeout=10)
        assert sorted(md.brokers) == [1, 2, 3]
        assert md.controller_id in (1, 2, 3)

        topic = create_topic(cluster.bootstrap, "orders-" + uuid.uuid4().hex[:6], partitions=6)
        md = a.list_topics(topic=topic, timeout=10)
        leaders = sorted(p.leader for p in md.topics[topic].partitions.values())
        assert leaders == [1, 1, 2, 2, 3, 3], leaders

        # librdkafka produces to every leader; kafka-python reads everything back.
        records = [Rec(None, f"k{i}".encode(), f"v{i}".encode(), (), None, None)
                   for i in range(3000)]
        acked = confluent_produce(cluster.bootstrap, topic, records)
        assert {r.partition for r in acked} == set(range(6))
        got = kafka_python_consume(cluster.brokers[1].bootstrap, topic, 6)
        assert sorted((r.partition, r.offset, r.value) for r in got) == \
            sorted((r.partition, r.offset, r.value) for r in acked)

        # A consumer group of two members: its coordinator is the leader of its
        # __consumer_offsets partition, whichever broker that is.
        group = "readers-" + uuid.uuid4().hex[:6]
        members = [Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group,
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "session.timeout.ms": 6000})
                   for _ in range(2)]
        for m in members:
            m.subscribe([topic])
        seen = set()
        deadline = time.monotonic() + 60
        while len(seen) < len(acked):
            assert time.monotonic() < deadline, f"group read {len(seen)} of {len(acked)}"
            for m in members:
                for msg in m.consume(num_messages=500, timeout=0.2):
                    assert msg.error() is None, msg.error()
                    seen.add((msg.partition(), msg.offset()))
        for m in members:
            m.commit(asynchronous=False) if m.assignment() else None
        committed = group_offsets(cluster.bootstrap, group)
        ends = {}
        for r in acked:
            ends[r.partition] = max(ends.get(r.partition, -1), r.offset + 1)
        assert {p: committed[(topic, p)].offset for p in range(6)} == ends
        for m in members:
            m.close()

        # A broker stopped gracefully leaves; on return it leads its partitions again and
        # every record is still there.
        cluster.brokers[2].stop()
        wait_until(lambda: 3 not in a.list_topics(timeout=10).brokers, timeout=30,
                   what="broker 3 out of the metadata")
        cluster.brokers[2].start(timeout=90)
        wait_until(lambda: sorted(p.leader for p in
                                  a.list_topics(topic=topic, timeout=10)
                                  .topics[topic].partitions.values()) == [1, 1, 2, 2, 3, 3],
                   timeout=60, what="broker 3 leading its partitions again")
        again = confluent_consume(cluster.bootstrap, topic, 6)
        assert sorted((r.partition, r.offset, r.value) for r in again) == \
            sorted((r.partition, r.offset, r.value) for r in acked)
        # The group's offsets survived too, wherever its coordinator is.
        committed = group_offsets(cluster.bootstrap, group)
        assert {p: committed[(topic, p)].offset for p in range(6)} == ends
        probe = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group,
                          "enable.auto.commit": False})
        try:
            positions = probe.committed([TopicPartition(topic, p) for p in range(6)],
                                        timeout=30)
            assert {tp.partition: tp.offset for tp in positions} == ends
        finally:
            probe.close()
    finally:
        cluster.stop()


def test_transactions_span_partitions_led_by_every_broker(data_root):
    """The transaction coordinator writes COMMIT/ABORT markers to partitions other brokers
    lead (WriteTxnMarkers): read_committed consumers see committed data on every partition,
    never aborted data, and the last stable offset moves past each marker."""
    from confluent_kafka import OFFSET_BEGINNING
    from kafka_helpers import isolated_consumer, transactional_producer

    cluster = Cluster(data_root, extra={"replica.lag.time.max.ms": "10000"})
    try:
        a = admin(cluster.brokers[0].bootstrap)
        wait_until(lambda: len(a.list_topics(timeout=10).brokers) == 3, timeout=30,
                   what="three brokers in metadata")
        topic = create_topic(cluster.bootstrap, "txn-" + uuid.uuid4().hex[:6], partitions=3)
        leaders = {p.id: p.leader for p in
                   a.list_topics(topic=topic, timeout=10).topics[topic].partitions.values()}
        assert sorted(leaders.values()) == [1, 2, 3], leaders

        p = transactional_producer(cluster.bootstrap, "tx-" + uuid.uuid4().hex[:6])
        p.begin_transaction()
        for part in range(3):
            p.produce(topic, value=f"aborted-{part}".encode(), partition=part)
        p.flush(30)
        p.abort_transaction(30)
        p.begin_transaction()
        for part in range(3):
            p.produce(topic, value=f"committed-{part}".encode(), partition=part)
        p.commit_transaction(30)

        c = isolated_consumer(cluster.bootstrap, "read_committed")
        try:
            c.assign([TopicPartition(topic, part, OFFSET_BEGINNING) for part in range(3)])
            got = {}
            deadline = time.monotonic() + 60
            while len(got) < 3:
                assert time.monotonic() < deadline, f"read_committed saw only {got}"
                for msg in c.consume(num_messages=100, timeout=0.5):
                    assert msg.error() is None, msg.error()
                    got[msg.partition()] = msg.value().decode()
        finally:
            c.close()
        assert got == {part: f"committed-{part}" for part in range(3)}
    finally:
        cluster.stop()


def txn_partition(transactional_id, partitions):
    """Kafka's __transaction_state partition of an (ASCII) transactional id."""
    h = 0
    for ch in transactional_id:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def marker_coordinator_epochs(bootstrap, topic):
    """The coordinator epochs DescribeProducers shows on partition 0 of `topic`."""
    out = subprocess.run([SLUICE_BIN, "producers", "describe", "-b", bootstrap, topic,
                          "--partition", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[1:] if line.strip()]
    return {int(r[5]) for r in rows if r[5] != "-"}


def test_groups_and_transactions_survive_the_coordinators_broker_being_killed(data_root):
    """The internal topics are replicated (RF 3 once three brokers are live): killing the
    broker that coordinates a group moves the coordinator with the partition's leadership,
    the committed offsets are still there, and a transactional producer goes on."""
    from confluent_kafka import OFFSET_BEGINNING
    from kafka_helpers import describe_group, isolated_consumer, transactional_producer

    cluster = Cluster(data_root, extra={"replica.lag.time.max.ms": "10000"})
    try:
        a = admin(cluster.brokers[0].bootstrap)

        def offsets_topic_replicas():
            t = a.list_topics(topic="__consumer_offsets", timeout=10).topics.get(
                "__consumer_offsets")
            if t is None or t.error is not None or not t.partitions:
                return None
            return {len(p.replicas) for p in t.partitions.values()}

        wait_until(lambda: offsets_topic_replicas() == {3}, timeout=60,
                   what="__consumer_offsets with three replicas")
        # Replicated too, so that losing one broker loses no partition of the data either.
        topic = "events-" + uuid.uuid4().hex[:6]
        a.create_topics([NewTopic(topic, 3, 3)])[topic].result(timeout=30)
        def full_isr():
            t = a.list_topics(topic=topic, timeout=10).topics.get(topic)
            parts = [] if t is None or t.error is not None else list(t.partitions.values())
            return len(parts) == 3 and all(len(p.isrs) == 3 for p in parts)

        wait_until(full_isr, timeout=30, what="the data topic's full ISR")
        acked = confluent_produce(
            cluster.bootstrap, topic,
            [Rec(None, f"k{i}".encode(), f"v{i}".encode(), (), None, None) for i in range(300)])
        group = "survivors-" + uuid.uuid4().hex[:6]
        member = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group,
                           "auto.offset.reset": "earliest", "enable.auto.commit": False})
        member.subscribe([topic])
        seen = 0
        deadline = time.monotonic() + 60
        while seen < len(acked):
            assert time.monotonic() < deadline, f"read {seen} of {len(acked)}"
            for msg in member.consume(num_messages=500, timeout=0.2):
                assert msg.error() is None, msg.error()
                seen += 1
        member.commit(asynchronous=False)
        member.close()
        ends = {}
        for r in acked:
            ends[r.partition] = max(ends.get(r.partition, -1), r.offset + 1)
        assert {p: tp.offset for (t, p), tp in group_offsets(cluster.bootstrap, group).items()
                if t == topic} == ends

        coordinator = describe_group(cluster.bootstrap, group).coordinator.id
        # A transactional id whose __transaction_state partition the same broker leads, so the
        # kill moves both coordinators.
        state = a.list_topics(topic="__transaction_state", timeout=10).topics[
            "__transaction_state"].partitions
        tid = next(t for t in ("tx-" + uuid.uuid4().hex[:6] for _ in range(1000))
                   if state[txn_partition(t, len(state))].leader == coordinator)
        p = transactional_producer(cluster.bootstrap, tid)
        p.begin_transaction()
        p.produce(topic, value=b"txn-1", partition=0)
        p.commit_transaction(30)
        # One producer writes to partition 0: its last marker's coordinator epoch.
        (epoch_before,) = marker_coordinator_epochs(cluster.bootstrap, topic)

        cluster.brokers[coordinator - 1].kill()
        survivors = ",".join(b.bootstrap for i, b in enumerate(cluster.brokers)
                             if i != coordinator - 1)

        # The group's offsets are served by the new coordinator.
        def offsets_again():
            try:
                got = group_offsets(survivors, group, timeout=10)
            except Exception:
                return None
            return {p: tp.offset for (t, p), tp in got.items() if t == topic}

        wait_until(lambda: offsets_again() == ends, timeout=60,
                   what="the committed offsets from the new coordinator")
        assert describe_group(survivors, group).coordinator.id != coordinator

        # The transactional producer commits again, wherever its coordinator went.
        p.begin_transaction()
        p.produce(topic, value=b"txn-2", partition=0)
        p.commit_transaction(60)
        c = isolated_consumer(survivors, "read_committed")
        try:
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            values = []
            deadline = time.monotonic() + 60
            while b"txn-2" not in values:
                assert time.monotonic() < deadline, f"read_committed saw {values[-5:]}"
                for msg in c.consume(num_messages=500, timeout=0.5):
                    assert msg.error() is None, msg.error()
                    values.append(msg.value())
        finally:
            c.close()
        assert values.count(b"txn-1") == 1 and values.count(b"txn-2") == 1
        # The new coordinator's markers carry its partition's newer leader epoch, so a marker
        # from the old one would be refused (TRANSACTION_COORDINATOR_FENCED).
        (epoch_after,) = marker_coordinator_epochs(survivors, topic)
        assert epoch_after > epoch_before
        cluster.brokers[coordinator - 1].start(timeout=90)
    finally:
        cluster.stop()


def test_admin_client_made_as_the_active_controller_dies_creates_a_topic(data_root):
    """kill -9 of the quorum leader, then at once a new librdkafka AdminClient creates a topic.
    Clients are told a live broker as controller (the one they asked), and any broker forwards
    controller-bound requests through the quorum, so nothing waits on the dead node: the
    request completes within its own 10 s timeout (Kafka's KRaft brokers do the same)."""
    from confluent_kafka.admin import AdminClient
    from kafka import KafkaAdminClient

    from kafka_helpers import quorum_leader_of

    cluster = Cluster(data_root)
    try:
        a = admin(cluster.brokers[0].bootstrap)
        wait_until(lambda: len(a.list_topics(timeout=10).brokers) == 3, timeout=30,
                   what="three brokers in metadata")
        leader = wait_until(lambda: quorum_leader_of(cluster.brokers[0].bootstrap), timeout=30,
                            what="a quorum leader")
        # kafka-python's own DescribeQuorum call agrees (kafka-metadata-quorum's request).
        kp = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
        try:
            quorum = kp.describe_metadata_quorum()
        finally:
            kp.close()
        (part,) = quorum["topics"][0]["partitions"]
        assert part["error"] is None and part["leader_id"] == leader, quorum
        assert sorted(v["replica_id"] for v in part["current_voters"]) == [1, 2, 3], quorum

        cluster.brokers[leader - 1].kill()
        fresh = AdminClient({"bootstrap.servers": cluster.bootstrap})
        topic = "after-" + uuid.uuid4().hex[:6]
        futures = fresh.create_topics([NewTopic(topic, 3, 1)], request_timeout=10)
        futures[topic].result(timeout=30)
        survivor = next(b for b in cluster.brokers if b.proc.poll() is None)
        md = admin(survivor.bootstrap).list_topics(topic=topic, timeout=10)
        assert len(md.topics[topic].partitions) == 3
        assert md.controller_id != leader
    finally:
        cluster.stop()
