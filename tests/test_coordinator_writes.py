"""Coordinator state changes only once its records are committed (issue 11).

On a three-node cluster the internal topics have three replicas. With
`min.insync.replicas=3` set on them (IncrementalAlterConfigs) and one broker killed, the
coordinators' partitions cannot take a write: a coordinator write is refused as an acks=all
produce is (NOT_ENOUGH_REPLICAS, answered COORDINATOR_NOT_AVAILABLE as Kafka does) and changes
nothing.

- Groups: an OffsetCommit gets an error (confluent-kafka's commit), and OffsetFetch still returns
  the offset committed before.
- Transactions (raw requests, to name the exact producer id and epoch): AddPartitionsToTxn and
  EndTxn get an error and DescribeTransactions still shows the transaction as it was (Ongoing,
  with its old partitions), and the next request sees that state too (a second EndTxn is still
  allowed).
- Once the ISR is enough again (min.insync.replicas lowered), the same requests succeed.

Waits poll with deadlines.
"""
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic
from kafka.protocol.admin.configs import DescribeConfigsRequest, DescribeConfigsResponse
from kafka.protocol.admin.transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
)
from kafka.protocol.producer.transaction import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
)

from conftest import Cluster, wait_until
from kafka_helpers import KafkaWire, admin, assert_no_panic

NONE = 0
COORDINATOR_NOT_AVAILABLE = 15
OFFSETS = "__consumer_offsets"
TXN_STATE = "__transaction_state"


def java_partition(key, partitions):
    """Kafka's partition of an (ASCII) group or transactional id in an internal topic."""
    h = 0
    for ch in key:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def partitions_of(a, topic):
    """{partition: PartitionMetadata} of `topic`, {} while it is not known."""
    t = a.list_topics(topic=topic, timeout=10).topics.get(topic)
    return {} if t is None or t.error is not None else dict(t.partitions)


def set_min_insync(a, wire, topic, value):
    """Sets `min.insync.replicas` on `topic` and waits until the broker behind `wire` (the
    coordinator) applies it: it answers DescribeConfigs from the configs it writes with."""
    res = ConfigResource("topic", topic, incremental_configs=[
        ConfigEntry("min.insync.replicas", str(value),
                    incremental_operation=AlterConfigOpType.SET)])
    (f,) = a.incremental_alter_configs([res]).values()
    f.result(timeout=30)
    req = DescribeConfigsRequest(resources=[DescribeConfigsRequest.DescribeConfigsResource(
        resource_type=2, resource_name=topic, configuration_keys=["min.insync.replicas"])])

    def applied():
        (result,) = wire.send(req, DescribeConfigsResponse, 1).results
        return result.error_code == NONE and [c.value for c in result.configs] == [str(value)]

    wait_until(applied, timeout=30, what=f"min.insync.replicas={value} on {topic}")


def commit(consumer, topic, offset):
    """A synchronous OffsetCommit of `offset` for `topic`-0: the error code (NONE on success),
    whether librdkafka reports it for the request or for the partition."""
    try:
        (tp,) = consumer.commit(offsets=[TopicPartition(topic, 0, offset)],
                                asynchronous=False)
    except KafkaException as e:
        return e.args[0].code()
    return NONE if tp.error is None else tp.error.code()


def committed(consumer, topic):
    """The offset OffsetFetch returns for `topic`-0."""
    (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=30)
    assert tp.error is None, tp.error
    return tp.offset


def init_producer_id(wire, tid):
    r = wire.send(InitProducerIdRequest(transactional_id=tid, transaction_timeout_ms=300_000,
                                        producer_id=-1, producer_epoch=-1),
                  InitProducerIdResponse, 1)
    assert r.error_code == NONE, r
    return r.producer_id, r.producer_epoch


def add_partitions(wire, tid, pid, epoch, topic, partitions):
    """AddPartitionsToTxn (v3): the codes of the partitions."""
    req = AddPartitionsToTxnRequest
    r = wire.send(req(v3_and_below_transactional_id=tid, v3_and_below_producer_id=pid,
                      v3_and_below_producer_epoch=epoch,
                      v3_and_below_topics=[req.AddPartitionsToTxnTopic(
                          name=topic, partitions=partitions)]),
                  AddPartitionsToTxnResponse, 3)
    return {p.partition_error_code for t in r.results_by_topic_v3_and_below
            for p in t.results_by_partition}


def end_txn(wire, tid, pid, epoch, commit):
    return wire.send(EndTxnRequest(transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                                   committed=commit),
                     EndTxnResponse, 3).error_code


def describe_txn(wire, tid):
    """(state, sorted [(topic, partition)]) that DescribeTransactions shows."""
    r = wire.send(DescribeTransactionsRequest(transactional_ids=[tid]),
                  DescribeTransactionsResponse, 0)
    (s,) = r.transaction_states
    assert s.error_code == NONE, s
    return s.transaction_state, sorted((t.topic, p) for t in s.topics for p in t.partitions)


def test_a_coordinator_write_that_cannot_meet_min_insync_changes_nothing(data_root):
    cluster = Cluster(data_root, extra={"replica.lag.time.max.ms": "2000"})
    try:
        a = admin(cluster.brokers[0].bootstrap)

        def internal_topics_replicated():
            parts = [p for t in (OFFSETS, TXN_STATE) for p in partitions_of(a, t).values()]
            return parts and all(len(p.replicas) == 3 and len(p.isrs) == 3 for p in parts)

        wait_until(internal_topics_replicated, timeout=90,
                   what="the internal topics with three in-sync replicas")
        topic = "data-" + uuid.uuid4().hex[:6]
        a.create_topics([NewTopic(topic, 2, 3)])[topic].result(timeout=30)
        wait_until(lambda: len(partitions_of(a, topic)) == 2, timeout=30, what=topic)

        # A group and a transactional id coordinated by the same broker, and a broker to kill.
        offsets = partitions_of(a, OFFSETS)
        group = "g-" + uuid.uuid4().hex[:6]
        group_partition = java_partition(group, len(offsets))
        coordinator = offsets[group_partition].leader
        state = partitions_of(a, TXN_STATE)
        tid = next(t for t in ("tx-" + uuid.uuid4().hex[:6] for _ in range(1000))
                   if state[java_partition(t, len(state))].leader == coordinator)
        txn_partition = java_partition(tid, len(state))
        victim = next(i for i in (1, 2, 3) if i != coordinator)
        address = cluster.brokers[coordinator - 1].bootstrap

        # Before: an offset committed, a transaction open over one partition.
        consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group,
                             "enable.auto.commit": False})
        wire = KafkaWire(address)
        try:
            assert commit(consumer, topic, 5) == NONE
            assert committed(consumer, topic) == 5
            pid, epoch = init_producer_id(wire, tid)
            assert add_partitions(wire, tid, pid, epoch, topic, [0]) == {NONE}
            assert describe_txn(wire, tid) == ("Ongoing", [(topic, 0)])

            # The internal topics' partitions can no longer meet min.insync.replicas.
            for t in (OFFSETS, TXN_STATE):
                set_min_insync(a, wire, t, 3)
            cluster.brokers[victim - 1].kill()

            def shrunk():
                return (len(partitions_of(a, OFFSETS)[group_partition].isrs) == 2
                        and len(partitions_of(a, TXN_STATE)[txn_partition].isrs) == 2)

            wait_until(shrunk, timeout=60, what="the coordinators' partitions' ISR to shrink")

            # Groups: the commit fails and the old offset stays.
            assert commit(consumer, topic, 6) == COORDINATOR_NOT_AVAILABLE
            assert committed(consumer, topic) == 5

            # Transactions: neither adding a partition nor ending the transaction takes.
            assert add_partitions(wire, tid, pid, epoch, topic, [1]) == {
                COORDINATOR_NOT_AVAILABLE}
            assert describe_txn(wire, tid) == ("Ongoing", [(topic, 0)])
            assert end_txn(wire, tid, pid, epoch, commit=True) == COORDINATOR_NOT_AVAILABLE
            assert describe_txn(wire, tid) == ("Ongoing", [(topic, 0)])
            # The next request sees the old state: an abort is still possible, and fails the
            # same way (it is not a retry of a commit in progress).
            assert end_txn(wire, tid, pid, epoch, commit=False) == COORDINATOR_NOT_AVAILABLE
            assert describe_txn(wire, tid) == ("Ongoing", [(topic, 0)])

            # Enough replicas again: the same requests take.
            for t in (OFFSETS, TXN_STATE):
                set_min_insync(a, wire, t, 2)
            assert commit(consumer, topic, 7) == NONE
            assert committed(consumer, topic) == 7
            assert end_txn(wire, tid, pid, epoch, commit=True) == NONE
            assert describe_txn(wire, tid) == ("CompleteCommit", [])
        finally:
            wire.close()
            consumer.close()
        for i, b in enumerate(cluster.brokers):
            if i != victim - 1:
                assert_no_panic(b)
    finally:
        cluster.stop()
