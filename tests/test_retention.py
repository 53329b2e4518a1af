"""Retention and DeleteRecords: the log start offset moves, old segment files leave the partition
directory, the start offset survives a restart, and consumers below it are reset (or told
OFFSET_OUT_OF_RANGE when they asked for no reset)."""
import glob
import os
import time

import kafka
import pytest
from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource
from kafka.errors import OffsetOutOfRangeError

from conftest import wait_until
from kafka_helpers import (
    Rec,
    admin,
    assert_no_panic,
    assert_same_records,
    confluent_consume,
    confluent_produce,
    confluent_producer,
    create_topic,
    kafka_error_code,
    unique_topic,
    wait_for_topic,
    wait_state,
    watermarks,
)

SMALL_SEGMENTS = {"log.segment.bytes": "2048", "log.retention.check.interval.ms": "200"}


def segment_bases(broker, topic, partition=0):
    """Base offsets of the partition's live segments (`*.log`; `*.log.deleted` do not count)."""
    paths = glob.glob(os.path.join(broker.data_dir, f"{topic}-{partition}", "*.log"))
    return sorted(int(os.path.basename(p)[:-len(".log")]) for p in paths)


def produce_in_batches(boot, topic, count, timestamp=None, first=0, per_flush=10):
    """Produces `count` ~150-byte records, flushing every `per_flush` so batches stay small and
    2 KiB segments roll every few batches."""
    p = confluent_producer(boot)
    out = []
    for start in range(0, count, per_flush):
        recs = [Rec(0, b"k%d" % (first + i), b"v%05d-" % (first + i) + b"x" * 140, (),
                    timestamp) for i in range(start, min(count, start + per_flush))]
        out += confluent_produce(boot, topic, recs, producer=p)
    return out


def set_topic_config(boot, topic, **values):
    res = ConfigResource("topic", topic, incremental_configs=[
        ConfigEntry(k.replace("_", "."), v, incremental_operation=AlterConfigOpType.SET)
        for k, v in values.items()])
    a = admin(boot)  # must outlive the futures
    for f in a.incremental_alter_configs([res]).values():
        f.result(timeout=30)


def read_from(boot, topic, offset, reset, max_records, timeout=30.0):
    """Assigns partition 0 at `offset` with auto.offset.reset=`reset`; returns (records, error)
    once `max_records` arrived or the first consumer error."""
    c = Consumer({"bootstrap.servers": boot, "group.id": "retention-tests",
                  "enable.auto.commit": False, "auto.offset.reset": reset, "check.crcs": True})
    try:
        c.assign([TopicPartition(topic, 0, offset)])
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < max_records:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(got)} of {max_records} records")
            for m in c.consume(num_messages=max_records - len(got), timeout=0.5):
                if m.error():
                    return got, m.error()
                got.append(m)
        return got, None
    finally:
        c.close()


def test_closed_segments_expire_and_files_go(broker_factory):
    broker = broker_factory(SMALL_SEGMENTS)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("expire"), 1, {"retention.ms": "1000"})
    produce_in_batches(boot, topic, 200)

    low = wait_until(lambda: watermarks(boot, topic, 0)[0], timeout=30,
                     what="the log start offset to move past 0")
    assert 0 < low <= 200
    bases = wait_until(lambda: (b := segment_bases(broker, topic)) and b[0] >= low and b,
                       timeout=30, what=f"segment files below the start offset {low} to go")
    assert all(b >= low for b in bases), bases
    assert_no_panic(broker)


def test_expired_active_segment_is_deleted_too(broker_factory):
    """Kafka also deletes the active segment once every record in it is past retention.ms (it rolls
    a new empty one first), so an idle topic's data does expire: start offset == end offset."""
    broker = broker_factory(SMALL_SEGMENTS)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("idle"), 1, {"retention.ms": "1000"})
    produce_in_batches(boot, topic, 200)
    wait_state(lambda: watermarks(boot, topic, 0), (200, 200), "every record to expire",
               timeout=15)
    # The files of deleted segments go after the start offset moved (as in Kafka).
    wait_until(lambda: all(b >= 200 for b in segment_bases(broker, topic)), timeout=15,
               what="the expired segments' files to go")

    broker.restart()
    assert watermarks(boot, topic, 0) == (200, 200)
    set_topic_config(boot, topic, retention_ms="-1")
    (r,) = confluent_produce(boot, topic, [Rec(0, b"k", b"after")])
    assert r.offset == 200
    assert_no_panic(broker)


def test_time_retention_start_offset_consumers_and_restart(broker_factory):
    """Records 0..149 are two hours old, 150..249 new. With retention.ms = 1 h exactly the segments
    holding only old records go, so the start offset becomes the base of the segment holding
    offset 150 - and stays there."""
    broker = broker_factory(SMALL_SEGMENTS)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("backdated"), 1, {"retention.ms": "-1"})
    now = int(time.time() * 1000)
    produced = produce_in_batches(boot, topic, 150, timestamp=now - 7_200_000)
    produced += produce_in_batches(boot, topic, 100, timestamp=now, first=150)
    assert [r.offset for r in produced] == list(range(250))
    bases = segment_bases(broker, topic)
    assert len([b for b in bases if b < 150]) >= 3, f"too few segments to test with: {bases}"
    start = max(b for b in bases if b <= 150)

    set_topic_config(boot, topic, retention_ms=str(3_600_000))
    wait_state(lambda: watermarks(boot, topic, 0), (start, 250), "the start offset to move")
    wait_state(lambda: segment_bases(broker, topic), [b for b in bases if b >= start],
               "the segments below the start offset to go")

    def check_consumers():
        assert watermarks(boot, topic, 0) == (start, 250)
        # Below the start offset with earliest: continue from the start offset.
        got, err = read_from(boot, topic, 0, "earliest", 250 - start)
        assert err is None, err
        assert [m.offset() for m in got] == list(range(start, 250))
        assert [m.value() for m in got] == [r.value for r in produced[start:]]
        # With no reset policy: the consumer is told.
        got, err = read_from(boot, topic, 0, "error", 1)
        assert got == [] and err is not None, (got, err)
        assert err.code() == KafkaError._AUTO_OFFSET_RESET, err
        assert "out of range" in err.str().lower(), err
        # kafka-python: earliest reset, and OffsetOutOfRangeError without a policy.
        tp = kafka.TopicPartition(topic, 0)
        for policy in ("earliest", "none"):
            c = kafka.KafkaConsumer(bootstrap_servers=boot, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset=policy)
            try:
                c.assign([tp])
                c.seek(tp, 0)
                if policy == "none":
                    with pytest.raises(OffsetOutOfRangeError):
                        wait_until(lambda: c.poll(timeout_ms=200), timeout=30,
                                   what="OffsetOutOfRangeError")
                else:
                    batch = wait_until(lambda: c.poll(timeout_ms=200), timeout=30,
                                       what="records after the reset")
                    assert batch[tp][0].offset == start
            finally:
                c.close()

    check_consumers()
    broker.restart()
    assert segment_bases(broker, topic) == [b for b in bases if b >= start]
    check_consumers()
    assert_no_panic(broker)


def test_size_retention(broker_factory):
    """retention.bytes: the oldest segments go while the log stays at least retention.bytes
    without them (Kafka's rule), computed here from the segment files before it is switched on."""
    broker = broker_factory(SMALL_SEGMENTS)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("bytes"), 1, {"retention.bytes": "-1"})
    produced = produce_in_batches(boot, topic, 200)
    part_dir = os.path.join(broker.data_dir, f"{topic}-0")
    bases = segment_bases(broker, topic)
    sizes = [os.path.getsize(os.path.join(part_dir, "%020d.log" % b)) for b in bases]
    limit = 5000
    excess, keep_from = sum(sizes) - limit, 0
    while keep_from < len(sizes) - 1 and excess - sizes[keep_from] >= 0:
        excess -= sizes[keep_from]
        keep_from += 1
    assert keep_from >= 2, f"too few segments to test with: {list(zip(bases, sizes))}"

    set_topic_config(boot, topic, retention_bytes=str(limit))
    wait_state(lambda: watermarks(boot, topic, 0), (bases[keep_from], 200),
               "the start offset to move")
    wait_state(lambda: segment_bases(broker, topic), bases[keep_from:],
               "the oldest segments to go")
    assert_same_records(produced[bases[keep_from]:], confluent_consume(boot, topic, 1))
    assert_no_panic(broker)


def test_delete_records(broker_factory):
    broker = broker_factory(SMALL_SEGMENTS)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("delrec"), 2)
    produced = produce_in_batches(boot, topic, 100)  # partition 0
    confluent_produce(boot, topic, [Rec(1, None, b"p1-%d" % i) for i in range(10)])
    bases = segment_bases(broker, topic)

    def delete(partition, offset):
        # A fresh client each time: one kept across a broker restart may still be reconnecting
        # when it looks up the partition leader and fail with _NOENT ("No leaders found").
        a = admin(boot)
        wait_for_topic(boot, topic, 2, client=a)
        tp = TopicPartition(topic, partition, offset)
        fs = a.delete_records([tp], request_timeout=30, operation_timeout=30)
        return list(fs.values())[0].result(timeout=30)

    assert delete(0, 43).low_watermark == 43
    assert watermarks(boot, topic, 0) == (43, 100)
    assert watermarks(boot, topic, 1) == (0, 10), "another partition was touched"
    # Kafka deletes segments wholly below the log start offset at the next retention check.
    wait_state(lambda: segment_bases(broker, topic)[0], max(b for b in bases if b <= 43),
               "the segments wholly below offset 43 to go")
    # Lower than the start offset: nothing changes.
    assert delete(0, 10).low_watermark == 43
    assert_same_records(produced[43:], confluent_consume(boot, topic, 1))

    broker.restart()
    assert watermarks(boot, topic, 0) == (43, 100)
    assert_same_records(produced[43:], confluent_consume(boot, topic, 1))

    # Past the high watermark: OFFSET_OUT_OF_RANGE.
    with pytest.raises(Exception) as e:
        delete(0, 500)
    assert kafka_error_code(e.value) == KafkaError.OFFSET_OUT_OF_RANGE, e.value
    # OFFSET_END (-1) means the high watermark: everything goes.
    assert delete(0, OFFSET_END).low_watermark == 100
    assert watermarks(boot, topic, 0) == (100, 100)
    broker.restart()
    assert watermarks(boot, topic, 0) == (100, 100)
    (r,) = confluent_produce(boot, topic, [Rec(0, b"k", b"after")])
    assert r.offset == 100
    assert_no_panic(broker)
