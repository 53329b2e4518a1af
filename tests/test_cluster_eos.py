"""Exactly-once on a three-node cluster, where leaders and coordinators sit on different brokers.

1. A transactional librdkafka producer sending one message per batch (`batch.num.messages=1`,
   `linger.ms=0`) keeps up to five Produce requests in flight on each connection: the brokers
   must append them in request order, or the producer hits a fatal OUT_OF_ORDER_SEQUENCE_NUMBER.
2. Consume-transform-produce with two transactional producers in one consumer group, every third
   transaction aborted, with the group's coordinator on another broker than both transaction
   coordinators: TxnOffsetCommit reaches a group coordinator that must ask the remote
   transaction coordinator, and the COMMIT/ABORT markers for the group's offsets partition go
   to another broker. The output holds each committed result exactly once.
"""
import threading
import time
import uuid
from collections import Counter

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from conftest import Cluster, wait_until
from kafka_helpers import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    Rec,
    admin,
    committed_offsets,
    confluent_produce,
    read_isolated,
    transactional_producer,
)
from test_cluster import txn_partition

PARTITIONS = 3


def start_cluster(data_root):
    cluster = Cluster(data_root, extra={"replica.lag.time.max.ms": "10000"})
    a = admin(cluster.brokers[0].bootstrap)

    def internal_topics_replicated():
        md = a.list_topics(timeout=10)
        if len(md.brokers) != 3:
            return None
        for name in ("__consumer_offsets", "__transaction_state"):
            t = a.list_topics(topic=name, timeout=10).topics.get(name)
            if t is None or t.error is not None or not t.partitions:
                return None
            if any(p.leader < 0 or len(p.isrs) != 3 for p in t.partitions.values()):
                return None
        return True

    wait_until(internal_topics_replicated, timeout=90,
               what="three brokers and fully replicated internal topics")
    return cluster, a


def create_replicated_topic(a, prefix):
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    a.create_topics([NewTopic(name, PARTITIONS, 3)])[name].result(timeout=30)

    def full_isr():
        t = a.list_topics(topic=name, timeout=10).topics.get(name)
        parts = [] if t is None or t.error is not None else list(t.partitions.values())
        return len(parts) == PARTITIONS and all(len(p.isrs) == 3 for p in parts)

    wait_until(full_isr, timeout=30, what=f"{name} with a full ISR")
    return name


def leader_of(a, topic, key):
    """The broker leading the internal `topic` partition that Kafka's hash maps `key` to."""
    parts = a.list_topics(topic=topic, timeout=10).topics[topic].partitions
    return parts[txn_partition(key, len(parts))].leader


def test_transactional_producer_with_one_message_per_batch_on_three_nodes(data_root):
    cluster, a = start_cluster(data_root)
    try:
        topic = create_replicated_topic(a, "txn-order")
        leaders = {p.id: p.leader for p in
                   a.list_topics(topic=topic, timeout=10).topics[topic].partitions.values()}
        assert sorted(leaders.values()) == [1, 2, 3], leaders
        producer = transactional_producer(
            cluster.bootstrap, "txn-order-" + uuid.uuid4().hex[:6],
            **{"batch.num.messages": 1, "linger.ms": 0, "acks": "all"})
        errors = []

        def report(err, msg):
            if err is not None:
                errors.append(err)

        expected = {p: [] for p in range(PARTITIONS)}
        for txn in range(20):
            producer.begin_transaction()
            values = [f"t{txn}-r{i}".encode() for i in range(500)]
            for i, value in enumerate(values):
                while True:
                    try:
                        producer.produce(topic, value=value, partition=i % PARTITIONS,
                                         on_delivery=report)
                        break
                    except BufferError:
                        producer.poll(0.01)
                producer.poll(0)
            if txn % 3 == 2:
                producer.abort_transaction(60)
            else:
                producer.commit_transaction(60)
                for i, value in enumerate(values):
                    expected[i % PARTITIONS].append(value)
            # A fatal error (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID) raises above; a
            # delivery error of a committed transaction would be a lost record.
            assert not [e for e in errors if not e.code() == e._PURGE_QUEUE], errors[:5]
            errors.clear()
        got, _ = read_isolated(cluster.bootstrap, topic, PARTITIONS, READ_COMMITTED)
        by_partition = {p: [r.value for r in got if r.partition == p] for p in range(PARTITIONS)}
        assert by_partition == expected
    finally:
        cluster.stop()


def result_of(partition, offset, value):
    return b"%d:%d:" % (partition, offset) + value


def eos_member(bootstrap, group, transactional_id, source, sink, stop, report):
    """A consume-transform-produce loop: one transaction per consumed batch, the consumer's
    positions sent as the group's offsets; every third transaction is aborted, after which the
    consumer goes back to the group's committed offsets and processes the records again."""
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id,
                         "linger.ms": 2, "transaction.timeout.ms": 60_000})
    producer.init_transactions(60)
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "isolation.level": READ_COMMITTED,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 50, "session.timeout.ms": 10_000, "heartbeat.interval.ms": 500,
    })
    def on_assign(c, partitions):
        report["assigned"] = len(partitions)

    consumer.subscribe([source], on_assign=on_assign)
    transactions = 0
    try:
        while not stop.is_set():
            batch = consumer.consume(num_messages=40, timeout=0.1)
            for m in batch:
                if m.error():
                    raise KafkaException(m.error())
            if not batch:
                continue
            transactions += 1
            producer.begin_transaction()
            for m in batch:
                while True:
                    try:
                        producer.produce(sink, key=m.key(), partition=m.partition(),
                                         value=result_of(m.partition(), m.offset(), m.value()))
                        break
                    except BufferError:
                        producer.poll(0.01)
            offsets = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
            producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 60)
            if transactions % 3 == 0:
                producer.abort_transaction(60)
                report["aborted"] += 1
                for tp in consumer.committed(consumer.assignment(), 30):
                    if tp.error is not None:
                        raise KafkaException(tp.error)
                    consumer.seek(TopicPartition(tp.topic, tp.partition,
                                                 tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))
            else:
                producer.commit_transaction(60)
                report["committed"] += 1
    except Exception as e:  # reported to the test thread, which fails with it
        report["error"] = repr(e)
    finally:
        consumer.close()


def test_exactly_once_across_brokers_with_aborts(data_root):
    cluster, a = start_cluster(data_root)
    try:
        source = create_replicated_topic(a, "eos-in")
        sink = create_replicated_topic(a, "eos-out")
        ends = {p: 400 for p in range(PARTITIONS)}

        # A group and two transactional ids whose coordinators are not the group's.
        group = next(g for g in ("eos-group-" + uuid.uuid4().hex[:6] for _ in range(1000))
                     if leader_of(a, "__consumer_offsets", g) is not None)
        group_coordinator = leader_of(a, "__consumer_offsets", group)
        tids = []
        while len(tids) < 2:
            tid = "eos-txn-" + uuid.uuid4().hex[:6]
            if leader_of(a, "__transaction_state", tid) != group_coordinator:
                tids.append(tid)

        stop = threading.Event()
        reports = [Counter(), Counter()]
        members = [threading.Thread(target=eos_member,
                                    args=(cluster.bootstrap, group, tid, source, sink, stop, r),
                                    daemon=True)
                   for tid, r in zip(tids, reports)]
        for m in members:
            m.start()
        try:
            # Both members hold partitions before there is input, so both transform some.
            wait_until(lambda: all(r["assigned"] > 0 or "error" in r for r in reports),
                       timeout=60, what="both members to be assigned partitions")
            inputs = confluent_produce(
                cluster.bootstrap, source,
                [Rec(p, f"k{p}-{i}".encode(), f"v{p}-{i}".encode(), (), None, None)
                 for p in range(PARTITIONS) for i in range(ends[p])])

            def done():
                for r in reports:
                    assert "error" not in r, r["error"]
                return committed_offsets(cluster.bootstrap, group, source, PARTITIONS) == ends

            wait_until(done, timeout=180, interval=0.5,
                       what="the group's committed offsets at the input's ends")
        finally:
            stop.set()
            for m in members:
                m.join(timeout=60)
        for r in reports:
            assert "error" not in r, r["error"]
        assert sum(r["aborted"] for r in reports) > 0, reports
        assert all(r["committed"] > 0 for r in reports), f"both members worked: {reports}"

        out, _ = read_isolated(cluster.bootstrap, sink, PARTITIONS, READ_COMMITTED)
        expected = Counter((r.partition, result_of(r.partition, r.offset, r.value))
                           for r in inputs)
        seen = Counter((r.partition, r.value) for r in out)
        assert seen == expected, (
            f"missing {sorted(set(expected) - set(seen))[:5]}, "
            f"twice {sorted(v for v, n in seen.items() if n > 1)[:5]}, "
            f"stray {sorted(set(seen) - set(expected))[:5]}")
        # Aborted results are in the log, below what read_committed returns.
        everything, _ = read_isolated(cluster.bootstrap, sink, PARTITIONS, READ_UNCOMMITTED)
        assert len(everything) > len(out)
    finally:
        cluster.stop()
