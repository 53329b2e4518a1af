"""ListOffsets (earliest, latest, by timestamp, max timestamp) through confluent-kafka and
kafka-python, and fetches outside the log: OFFSET_OUT_OF_RANGE and the consumers' reset
policies."""
import json
import time

import kafka
import pytest
from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import OffsetSpec
from kafka.errors import OffsetOutOfRangeError

from conftest import wait_until
from kafka_helpers import (
    Rec,
    admin,
    assert_no_panic,
    confluent_produce,
    create_topic,
    unique_topic,
    watermarks,
)


def timestamped_topic(boot):
    """Partition 0: offsets 0..9 at t0 + i s (one batch each), then offset 10 at t0 + 50 s and
    offset 11 at t0 + 5.5 s. Partition 1: empty."""
    topic = create_topic(boot, unique_topic("times"), 2)
    t0 = int(time.time() * 1000) - 100_000
    stamps = [t0 + i * 1000 for i in range(10)] + [t0 + 50_000, t0 + 5_500]
    for i, ts in enumerate(stamps):
        confluent_produce(boot, topic, [Rec(0, b"k%d" % i, b"v%d" % i, (), ts)])
    return topic, t0


# Expected offset for a timestamp: the first offset whose timestamp is >= it (-1: none).
def lookups(t0):
    return [
        (t0 - 1, 0), (t0, 0), (t0 + 1, 1), (t0 + 2500, 3), (t0 + 9000, 9),
        (t0 + 9001, 10), (t0 + 50_000, 10), (t0 + 50_001, -1),
    ]


def test_list_offsets_confluent(broker):
    boot = broker.bootstrap
    topic, t0 = timestamped_topic(boot)
    assert watermarks(boot, topic, 0) == (0, 12)
    assert watermarks(boot, topic, 1) == (0, 0)

    c = Consumer({"bootstrap.servers": boot, "group.id": "offsets", "enable.auto.commit": False})
    try:
        for ts, expected in lookups(t0):
            (tp,) = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert tp.error is None, tp.error
            assert tp.offset == expected, (ts - t0, tp.offset, expected)
        (tp,) = c.offsets_for_times([TopicPartition(topic, 1, t0)], timeout=10)
        assert tp.error is None and tp.offset == OFFSET_END, tp
    finally:
        c.close()

    a = admin(boot)

    def list_offsets(partition, spec):
        fs = a.list_offsets({TopicPartition(topic, partition): spec}, request_timeout=30)
        return list(fs.values())[0].result(timeout=30)

    assert list_offsets(0, OffsetSpec.earliest()).offset == 0
    assert list_offsets(0, OffsetSpec.latest()).offset == 12
    assert list_offsets(1, OffsetSpec.latest()).offset == 0
    r = list_offsets(0, OffsetSpec.for_timestamp(t0 + 2500))
    assert (r.offset, r.timestamp) == (3, t0 + 3000)
    r = list_offsets(0, OffsetSpec.max_timestamp())
    assert (r.offset, r.timestamp) == (10, t0 + 50_000)
    # A partition that does not exist, asked directly (librdkafka would not send it).
    # The time index is rebuilt or reloaded on restart: same answers.
    broker.restart()
    c = Consumer({"bootstrap.servers": boot, "group.id": "offsets", "enable.auto.commit": False})
    try:
        for ts, expected in lookups(t0):
            (tp,) = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert tp.offset == expected, (ts - t0, tp.offset, expected)
    finally:
        c.close()
    assert_no_panic(broker)


def test_list_offsets_kafka_python(broker):
    boot = broker.bootstrap
    topic, t0 = timestamped_topic(boot)
    c = kafka.KafkaConsumer(bootstrap_servers=boot, group_id=None, enable_auto_commit=False)
    try:
        tp0, tp1 = kafka.TopicPartition(topic, 0), kafka.TopicPartition(topic, 1)
        assert c.beginning_offsets([tp0, tp1]) == {tp0: 0, tp1: 0}
        assert c.end_offsets([tp0, tp1]) == {tp0: 12, tp1: 0}
        for ts, expected in lookups(t0):
            got = c.offsets_for_times({tp0: ts})[tp0]
            if expected == -1:
                assert got is None, (ts - t0, got)
            else:
                assert got is not None and got.offset == expected, (ts - t0, got)
        assert c.offsets_for_times({tp0: t0 + 4000})[tp0].timestamp == t0 + 4000
        assert c.offsets_for_times({tp1: t0})[tp1] is None
    finally:
        c.close()
    assert_no_panic(broker)


class WatchedConsumer:
    """A confluent consumer of partition 0 whose librdkafka statistics say where its fetcher is,
    so a test can wait for "fetching at offset N" instead of sleeping."""

    def __init__(self, boot, topic, offset, reset):
        self.topic = topic
        self.stats = {}
        self.events = []
        self.c = Consumer({
            "bootstrap.servers": boot, "group.id": "offsets", "enable.auto.commit": False,
            "auto.offset.reset": reset, "check.crcs": True, "fetch.wait.max.ms": 100,
            "statistics.interval.ms": 50, "stats_cb": self._on_stats})
        self.c.assign([TopicPartition(topic, 0, offset)])

    def _on_stats(self, text):
        self.stats = json.loads(text)

    def fetcher(self):
        """(fetch_state, next_offset, Fetch requests sent to the leader)."""
        part = self.stats.get("topics", {}).get(self.topic, {}).get("partitions", {}).get("0")
        if not part:
            return None
        fetches = sum(b.get("req", {}).get("Fetch", 0) for b in self.stats["brokers"].values())
        return part["fetch_state"], part["next_offset"], fetches

    def wait_fetching_at(self, offset, fetches=3, timeout=30.0):
        """Polls (keeping anything that arrives) until the fetcher is active at `offset` and has
        sent `fetches` Fetch requests since, i.e. fetches there were answered."""
        deadline = time.monotonic() + timeout
        first = None
        while True:
            m = self.c.poll(0.05)
            if m is not None:
                self.events.append(m)
            f = self.fetcher()
            if f and f[0] == "active" and f[1] == offset:
                first = f[2] if first is None else first
                if f[2] >= first + fetches:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"fetcher not at offset {offset}: {f}")

    def first_event(self, timeout=30.0):
        if self.events:
            return self.events.pop(0)
        return first_event(self.c, timeout)

    def close(self):
        self.c.close()


def confluent_at(boot, topic, offset, reset):
    return WatchedConsumer(boot, topic, offset, reset)


def first_event(c, timeout=30.0):
    """The first message or error the consumer gets."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None:
            return m
    raise TimeoutError("no message or error from the consumer")


def test_fetch_outside_the_log(broker):
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("oor"), 1)
    confluent_produce(boot, topic, [Rec(0, b"k", b"v%d" % i) for i in range(5)])

    # Past the end, no reset policy: OFFSET_OUT_OF_RANGE reaches the application.
    c = confluent_at(boot, topic, 10, "error")
    try:
        m = c.first_event()
        assert m.error() is not None, (m.offset(), m.value())
        assert m.error().code() == KafkaError._AUTO_OFFSET_RESET, m.error()
        assert "out of range" in m.error().str().lower(), m.error()
    finally:
        c.close()

    # Past the end with earliest: from offset 0.
    c = confluent_at(boot, topic, 10, "earliest")
    try:
        m = c.first_event()
        assert m.error() is None and (m.offset(), m.value()) == (0, b"v0"), m.error()
    finally:
        c.close()

    # Past the end with latest: from the end, and the next record produced arrives.
    c = confluent_at(boot, topic, 10, "latest")
    try:
        c.wait_fetching_at(5)
        assert [(e.error(), e.offset()) for e in c.events] == []
        confluent_produce(boot, topic, [Rec(0, b"k", b"v5")])
        m = c.first_event()
        assert m.error() is None and (m.offset(), m.value()) == (5, b"v5"), m.error()
    finally:
        c.close()

    # Exactly at the end is not out of range: the fetch waits, then gets the new record.
    c = confluent_at(boot, topic, 6, "error")
    try:
        c.wait_fetching_at(6)
        assert [(e.error(), e.offset()) for e in c.events] == []
        confluent_produce(boot, topic, [Rec(0, b"k", b"v6")])
        m = c.first_event()
        assert m.error() is None and (m.offset(), m.value()) == (6, b"v6"), m.error()
    finally:
        c.close()

    # kafka-python without a reset policy raises OffsetOutOfRangeError; with earliest it resets.
    tp = kafka.TopicPartition(topic, 0)
    kc = kafka.KafkaConsumer(bootstrap_servers=boot, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="none")
    try:
        kc.assign([tp])
        kc.seek(tp, 100)
        with pytest.raises(OffsetOutOfRangeError):
            wait_until(lambda: kc.poll(timeout_ms=200), timeout=30, what="OffsetOutOfRangeError")
    finally:
        kc.close()
    kc = kafka.KafkaConsumer(bootstrap_servers=boot, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        kc.assign([tp])
        kc.seek(tp, 100)
        batch = wait_until(lambda: kc.poll(timeout_ms=200), timeout=30, what="records")
        assert batch[tp][0].offset == 0
    finally:
        kc.close()
    assert_no_panic(broker)
