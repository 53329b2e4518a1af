"""A network partition isolating a partition leader, with real clients and an oracle.

Three sluice nodes talk to each other, and clients talk to them, only through the proxies of a
`FaultNetwork` (fault_proxy.py): each node binds its real client and controller ports, advertises
its client proxy port (`advertised.listeners`) and the quorum names the controller proxy ports
(`controller.quorum.voters`), so controller RPC (Raft, forwarded proposals, broker heartbeats)
and replica fetches all cross a proxy that knows which node opened each connection.

A topic with one partition, replication factor 3 and min.insync.replicas=2 takes records from a
librdkafka producer (acks=all, idempotence on) that runs on the majority side throughout. The
test then blackholes every connection between the partition leader L and the other two nodes,
both ways, and from clients to L. On L's side of the partition a raw client writes to L's real
port, bypassing the proxies: L still believes it leads, so it acknowledges acks=1 writes (an
unreplicated tail) and cannot complete acks=all ones (its ISR cannot shrink without the
controller). Meanwhile the majority fences L, elects a new leader at a higher leader epoch, and
the producer moves there and goes on getting acknowledgements.

After the partition heals, L comes back as a follower, truncates its tail where its log diverged
from the new leader's and rejoins the ISR. Then every acknowledged record is in the log exactly
once and in order, nothing L took alone is anywhere, L refuses requests at its old leader
epoch, and the three replicas' log segments are byte for byte the same, all of it below the
high watermark.

Set SLUICE_TEST_LOGS=<dir> to keep the three nodes' logs there after the test.
"""

import os
import shutil
import struct
import time
import uuid
from collections import namedtuple

import crc32c
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import NewTopic
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

from conftest import Broker, free_port, wait_until
from fault_proxy import CLIENT, FaultNetwork
from kafka_helpers import KafkaWire, OracleProducer, admin, assert_no_panic, quorum_leader_of

# The fault proxy tells sources apart by the port they reach: run alone (scripts/test).
pytestmark = pytest.mark.serial

NODES = (1, 2, 3)
CLUSTER_ID = "cGFydGl0aW9uLXRlc3QtaWQ"
# Fast failure detection, as in test_replication.py.
FAST = {
    "broker.session.timeout.ms": "1500",
    "broker.heartbeat.interval.ms": "200",
    "replica.lag.time.max.ms": "3000",
    "replica.fetch.backoff.ms": "100",
    "controller.quorum.election.timeout.ms": "500",
    "group.initial.rebalance.delay.ms": "0",
    "offsets.topic.num.partitions": "3",
    "transaction.state.log.num.partitions": "3",
}
NONE = 0
NOT_LEADER_OR_FOLLOWER = 6
FENCED_LEADER_EPOCH = 74
LATEST = -1


class ProxiedCluster:
    """Three sluice nodes whose every connection, between nodes and from clients, crosses a
    proxy of `self.network`."""

    def __init__(self, root, extra):
        self.network = FaultNetwork(self.node_pids)
        self.brokers = {}
        self.client_proxy = {}
        real_client = {n: free_port() for n in NODES}
        real_controller = {n: free_port() for n in NODES}
        controller_proxy = {}
        for n in NODES:
            self.client_proxy[n] = self.network.route(f"client-{n}", n, real_client[n])
            controller_proxy[n] = self.network.route(f"controller-{n}", n, real_controller[n])
        voters = ",".join(f"{n}@127.0.0.1:{controller_proxy[n]}" for n in NODES)
        for n in NODES:
            settings = {
                "node.id": str(n),
                "listeners": f"PLAINTEXT://127.0.0.1:{real_client[n]},"
                             f"CONTROLLER://127.0.0.1:{real_controller[n]}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.client_proxy[n]}",
                "controller.quorum.voters": voters,
                "cluster.id": CLUSTER_ID,
                **extra,
            }
            self.brokers[n] = Broker(os.path.join(root, f"node-{n}"), extra=settings,
                                     port=real_client[n])
        self.network.start()
        try:
            # Every node first: none serves before a quorum of controllers is up.
            for b in self.brokers.values():
                b.launch()
            for b in self.brokers.values():
                b.wait_listening(timeout=90)
        except BaseException:
            self.stop()
            raise

    def node_pids(self):
        """Called by the proxy thread on every accept."""
        return {n: b.proc.pid for n, b in self.brokers.items() if b.proc is not None}

    def bootstrap(self, nodes=NODES):
        """Bootstrap servers through the proxies of `nodes`."""
        return ",".join(f"127.0.0.1:{self.client_proxy[n]}" for n in nodes)

    def real_address(self, node):
        """The node's own client port, reached without crossing any proxy."""
        return self.brokers[node].bootstrap

    def partition_dir(self, node, topic):
        return os.path.join(self.brokers[node].data_dir, f"{topic}-0")

    def stop(self):
        """Teardown: kill -9 every node (a graceful stop of the last ones would wait for a
        quorum that is gone), then close the proxies."""
        try:
            for b in self.brokers.values():
                b.kill()
        finally:
            self.network.close()


# --- raw protocol: metadata with leader epochs, and produce requests built by hand ---------------


# `brokers`: the unfenced brokers (Metadata leaves fenced ones out, but for the one answering).
PartitionState = namedtuple("PartitionState", "leader epoch isr controller brokers")


def partition_state(address, topic):
    """Partition 0 of `topic` as the broker at `address` sees it (Metadata v7+, the first with
    leader epochs), with the quorum leader it names; None if it does not answer."""
    try:
        with KafkaWire(address, timeout=5) as wire:
            versions = [v for v in wire.versions(MetadataRequest) if 7 <= v <= 12]
            assert versions, f"no Metadata version with leader epochs: {wire.api_versions}"
            response = wire.send(
                MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=topic)],
                                allow_auto_topic_creation=False),
                MetadataResponse, versions[-1])
    except (OSError, ConnectionError):
        return None
    (t,) = response.topics
    if t.error_code != NONE or not t.partitions:
        return None
    (p,) = t.partitions
    return PartitionState(p.leader_id, p.leader_epoch, sorted(p.isr_nodes),
                          response.controller_id, sorted(b.node_id for b in response.brokers))


def raw_list_offsets(wire, topic, current_leader_epoch=-1):
    """ListOffsets (latest: the high watermark) for partition 0 at `current_leader_epoch` (-1:
    any); (error code, offset)."""
    version = [v for v in wire.versions(ListOffsetsRequest) if 4 <= v <= 7][-1]
    t = ListOffsetsRequest.ListOffsetsTopic
    request = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[t(
        name=topic, partitions=[t.ListOffsetsPartition(
            partition_index=0, current_leader_epoch=current_leader_epoch, timestamp=LATEST)])])
    response = wire.send(request, ListOffsetsResponse, version)
    ((p,),) = [t.partitions for t in response.topics]
    return p.error_code, p.offset


def varint(n):
    """Kafka's zigzag varint (record fields in a v2 batch)."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def record_batch(values):
    """One uncompressed v2 record batch of `values` (no key, no headers), without producer id.

    Layout: baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8 (2), crc u32
    (CRC-32C of everything after it), attributes i16, lastOffsetDelta i32, baseTimestamp i64,
    maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32, record count i32,
    then each record: length varint, attributes i8, timestampDelta varint, offsetDelta varint,
    key length varint (-1: null), value length varint, value, header count varint.
    """
    now_ms = int(time.time() * 1000)
    records = bytearray()
    for i, value in enumerate(values):
        body = (b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(value)) + value
                + varint(0))
        records += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, now_ms, now_ms, -1, -1, -1,
                            len(values)) + bytes(records)
    after_length = struct.pack(">ibI", 0, 2, crc32c.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def raw_produce(wire, topic, values, acks, timeout_ms):
    """Produces `values` as one batch to partition 0; (error code, base offset)."""
    version = [v for v in wire.versions(ProduceRequest) if 3 <= v <= 12][-1]
    data = ProduceRequest.TopicProduceData
    request = ProduceRequest(
        transactional_id=None, acks=acks, timeout_ms=timeout_ms,
        topic_data=[data(name=topic, partition_data=[
            data.PartitionProduceData(index=0, records=record_batch(values))])])
    response = wire.send(request, ProduceResponse, version)
    (t,) = response.responses
    (p,) = t.partition_responses
    return p.error_code, p.base_offset


# --- the log files ------------------------------------------------------------------------------


def segment_bytes(directory):
    """Every .log segment of the partition in `directory`, concatenated in offset order."""
    names = sorted(n for n in os.listdir(directory) if n.endswith(".log"))
    out = bytearray()
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            out += f.read()
    return bytes(out)


def log_end_offset(log_bytes):
    """The offset after the last batch of a concatenation of v2 batches (0 if empty)."""
    end = 0
    position = 0
    while position + 12 <= len(log_bytes):
        base_offset, batch_length = struct.unpack_from(">qi", log_bytes, position)
        (last_offset_delta,) = struct.unpack_from(">i", log_bytes, position + 23)
        end = base_offset + last_offset_delta + 1
        position += 12 + batch_length
    assert position == len(log_bytes), "a partial batch at the end of the log"
    return end


def first_offset_after_epoch(log_bytes, epoch):
    """The base offset of the first batch with a partition leader epoch above `epoch`."""
    position = 0
    while position + 16 <= len(log_bytes):
        base_offset, batch_length, leader_epoch = struct.unpack_from(">qii", log_bytes, position)
        if leader_epoch > epoch:
            return base_offset
        position += 12 + batch_length
    return None


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.parametrize("leader_role", ["quorum-leader", "quorum-follower"])
def test_partitioned_leader_is_replaced_fenced_and_truncated(data_root, leader_role):
    """`leader_role`: whether the isolated partition leader also leads the controller quorum
    (then the majority elects a quorum leader before it can fence the old one) or not."""
    cluster = ProxiedCluster(data_root, FAST)
    net = cluster.network
    oracle = a = None
    try:
        topic = "partition-" + uuid.uuid4().hex[:6]
        quorum_leader = wait_until(lambda: quorum_leader_of(cluster.bootstrap([1])), timeout=30,
                                   what="a quorum leader")
        others = [n for n in NODES if n != quorum_leader]
        # The first replica is the preferred leader, elected when the topic is created.
        replicas = [quorum_leader, *others] if leader_role == "quorum-leader" else \
            [others[0], quorum_leader, others[1]]
        a = admin(cluster.bootstrap())
        a.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[replicas],
                                  config={"min.insync.replicas": "2"})])[topic].result(timeout=30)
        state = wait_until(
            lambda: (s := partition_state(cluster.bootstrap([1]), topic))
            and s.isr == [1, 2, 3] and s, timeout=30, what="a leader and the full ISR")
        old_leader, old_epoch = state.leader, state.epoch
        majority = [n for n in NODES if n != old_leader]
        print(f"leader {old_leader} at epoch {old_epoch}, quorum leader {quorum_leader}")
        assert old_leader == replicas[0], (replicas, state)
        assert quorum_leader_of(cluster.bootstrap([1])) == quorum_leader, quorum_leader

        oracle = OracleProducer(cluster.bootstrap(), topic, **{
            # Requests blackholed by the partition are given up on in seconds, not a minute
            # (librdkafka bounds an in-flight Produce by socket.timeout.ms; an idempotent
            # producer only moves to the new leader once those are answered or timed out).
            "socket.timeout.ms": 3000, "request.timeout.ms": 3000,
            "socket.connection.setup.timeout.ms": 3000,
        })
        oracle.thread.start()
        wait_until(lambda: len(oracle.acked) > 200, timeout=30, what="first acks")

        # The proxies saw who connected: controllers reach each other only through controller
        # proxies (and nothing else does), followers fetch from the leader through its proxy.
        for n in NODES:
            assert CLIENT not in net.sources(f"controller-{n}"), net.accepted
        assert {src for n in NODES for src in net.sources(f"controller-{n}")} == set(NODES)
        assert set(majority) <= net.sources(f"client-{old_leader}"), net.accepted

        # --- the partition -----------------------------------------------------------------
        net.isolate(old_leader, NODES)
        isolated_at = time.monotonic()
        acked_before = len(oracle.acked)
        highest_before = max(offset for _, offset in oracle.acked)

        # A client on the isolated side, at L's real port: L takes acks=1 writes as the leader
        # it still believes it is, and cannot complete acks=all ones.
        marker = f"isolated-{uuid.uuid4().hex[:8]}-".encode()
        tail_offsets = []
        with KafkaWire(cluster.real_address(old_leader), timeout=30) as wire:
            for i in range(5):
                values = [marker + b"acks1-%d-%d" % (i, j) for j in range(3)]
                code, base = raw_produce(wire, topic, values, acks=1, timeout_ms=5000)
                assert code == NONE, f"the isolated leader refused an acks=1 write: {code}"
                tail_offsets.append(base)
            code, _ = raw_produce(wire, topic, [marker + b"acks-all"], acks=-1,
                                  timeout_ms=1000)
            assert code != NONE, "the isolated leader acknowledged an acks=all write"
        old_leader_log = segment_bytes(cluster.partition_dir(old_leader, topic))
        assert marker in old_leader_log, "the isolated leader's tail is not in its log"

        # The majority elects a new leader at a higher epoch, without L in the ISR.
        def new_leadership():
            s = partition_state(cluster.bootstrap([majority[0]]), topic)
            return s if s and s.leader in majority and s.epoch > old_epoch else None

        state = wait_until(new_leadership, timeout=20, what="a new leader on the majority side")
        new_leader, new_epoch = state.leader, state.epoch
        print(f"new leader {new_leader} at epoch {new_epoch} after "
              f"{time.monotonic() - isolated_at:.1f}s: {state}")
        assert old_leader not in state.isr, state
        # Fenced: its session expired, the majority's metadata no longer lists it.
        wait_until(lambda: (s := partition_state(cluster.bootstrap([majority[0]]), topic))
                   and old_leader not in s.brokers, timeout=10, what="the old leader fenced")
        # The producer moved there: acknowledgements go on, at offsets past the old ones.
        wait_until(lambda: len(oracle.acked) > acked_before + 300 and
                   max(o for _, o in oracle.acked[acked_before:]) > highest_before,
                   timeout=30, what="acks from the new leader")
        print(f"producer acked again {time.monotonic() - isolated_at:.1f}s after the cut")
        assert not oracle.failed, oracle.failed[:5]

        # --- healing -----------------------------------------------------------------------
        net.heal()
        healed_at = time.monotonic()
        healed = wait_until(
            lambda: (s := partition_state(cluster.bootstrap([majority[0]]), topic))
            and s.isr == [1, 2, 3] and s, timeout=30, what="the old leader back in the ISR")
        print(f"ISR full again {time.monotonic() - healed_at:.1f}s after healing: {healed}")
        assert healed.epoch >= new_epoch
        wait_until(lambda: (s := partition_state(cluster.bootstrap([majority[0]]), topic))
                   and s.brokers == list(NODES), timeout=10, what="the old leader unfenced")
        # The old leader knows its term is over: a request at its old leader epoch is refused
        # (read-only, so that nothing reaches the log if leadership came back to it since).
        with KafkaWire(cluster.real_address(old_leader), timeout=30) as wire:
            code, _ = raw_list_offsets(wire, topic, old_epoch)
            assert code in (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH), code

        acked_at_heal = len(oracle.acked)
        wait_until(lambda: len(oracle.acked) > acked_at_heal + 200, timeout=30,
                   what="acks after healing")
        oracle.finish(timeout=60)
        assert not oracle.failed, oracle.failed[:5]
        last_acked = max(offset for _, offset in oracle.acked)

        # --- the replicas agree byte for byte ------------------------------------------------
        def replicas_identical():
            logs = {n: segment_bytes(cluster.partition_dir(n, topic)) for n in NODES}
            end = log_end_offset(logs[new_leader])
            if end <= last_acked or any(logs[n] != logs[new_leader] for n in NODES):
                return None
            # The leader's high watermark has reached the end of every log: all of it is
            # committed (the followers' own high watermarks are not visible from outside).
            s = partition_state(cluster.bootstrap([majority[0]]), topic)
            if s is None or s.leader < 0:
                return None
            with KafkaWire(cluster.bootstrap([s.leader]), timeout=10) as wire:
                code, high_watermark = raw_list_offsets(wire, topic)
            return code == NONE and high_watermark == end and logs

        logs = wait_until(replicas_identical, timeout=30, interval=0.1,
                          what="identical segments on every replica, all committed")
        leo = {n: log_end_offset(logs[n]) for n in NODES}
        assert leo[old_leader] == leo[new_leader], leo
        for n in NODES:
            assert marker not in logs[n], f"node {n} kept records of the isolated leader's tail"
        # The offsets L gave its tail are past the end of its term as the new leader's log
        # records it: the new term wrote other records there.
        term_start = first_offset_after_epoch(logs[new_leader], old_epoch)
        assert term_start is not None and min(tail_offsets) >= term_start, (
            tail_offsets, term_start)
        print(f"log end offset {leo[new_leader]}, tail written at {tail_offsets} on node "
              f"{old_leader} and truncated")

        # --- every acknowledged record, once, in order -----------------------------------------
        consumer = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "oracle",
                             "enable.auto.commit": False, "check.crcs": True})
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        log, foreign = [], []
        deadline = time.monotonic() + 30
        while not log or log[-1][1] < last_acked:
            assert time.monotonic() < deadline, \
                f"read {len(log)} records, up to offset {log[-1][1] if log else None}"
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                value = msg.value()
                if value.isdigit():
                    log.append((int(value), msg.offset()))
                else:
                    foreign.append((value, msg.offset()))
        consumer.close()
        assert not foreign, f"records of the isolated leader's tail were read: {foreign[:5]}"
        values = [v for v, _ in log]
        assert len(values) == len(set(values)), "a record is in the log twice"
        assert values == sorted(values), "records are out of order"
        in_log = dict(log)
        for n, offset in oracle.acked:
            assert in_log.get(n) == offset, f"acknowledged record {n} at {offset} is missing"
        print(f"{len(oracle.acked)} acknowledged records, {len(log)} in the log, "
              f"{len(net.accepted)} proxied connections")
        for b in cluster.brokers.values():
            assert_no_panic(b)
        assert net.error is None, net.error
    except BaseException:
        # What each node said last, and what the proxies held: a failure here is rare and
        # needs both to be understood.
        for n, b in cluster.brokers.items():
            print(f"===== node {n} (last lines)")
            print("\n".join(b.log_text().splitlines()[-40:]))
        print(f"proxied connections: {len(net.accepted)} accepted, {len(net._links)} open; "
              f"rules {sorted(map(str, net.rules()))}")
        raise
    finally:
        if oracle is not None and not oracle.stop.is_set():
            oracle.stop.set()
            oracle.thread.join(timeout=10)
        # Clients go before the cluster, so that they do not retry against closed proxies.
        oracle = a = None
        if net.error is not None:
            print(f"the fault network failed: {net.error!r}")
        cluster.stop()
        keep = os.environ.get("SLUICE_TEST_LOGS")
        if keep:
            os.makedirs(keep, exist_ok=True)
            for n, b in cluster.brokers.items():
                shutil.copy(b.log_path, os.path.join(keep, f"node-{n}.log"))
