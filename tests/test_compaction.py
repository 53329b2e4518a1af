"""Log compaction end to end: a compacted topic with many overwrites and tombstones, cleaned by
the broker's background cleaner, read back from the beginning by a real client."""
from confluent_kafka import KafkaError

from conftest import wait_until
from kafka_helpers import (
    Rec,
    assert_no_panic,
    confluent_consume,
    confluent_produce,
    confluent_producer,
    create_topic,
    unique_topic,
)

KEYS = 8
ROUNDS = 60


def test_compacted_topic_keeps_the_latest_value_per_key(broker_factory):
    broker = broker_factory({"log.cleaner.backoff.ms": "200"})
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("compact"), 1, {
        "cleanup.policy": "compact",
        "segment.bytes": "2048",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "86400000",
    })
    # One produce + flush per round keeps batches small, so segments roll and the cleaner has
    # closed segments to work on.
    producer = confluent_producer(boot, **{"linger.ms": 0})
    produced = []
    for rnd in range(ROUNDS):
        batch = []
        for k in range(KEYS):
            # Key 0 ends deleted: its last write is a tombstone.
            value = None if (k == 0 and rnd == ROUNDS - 1) else b"v%d-%d" % (k, rnd) * 4
            batch.append(Rec(0, b"key-%d" % k, value))
        produced += confluent_produce(boot, topic, batch, producer=producer)
    end = produced[-1].offset + 1
    latest = {}
    for r in produced:
        latest[r.key] = r

    def compacted():
        got = confluent_consume(boot, topic, 1)
        return got if len(got) < len(produced) // 2 else None

    got = wait_until(compacted, timeout=60, interval=0.3, what="the cleaner to compact the topic")
    # Every kept record is one that was produced, at its original offset.
    by_offset = {r.offset: r for r in produced}
    for r in got:
        orig = by_offset[r.offset]
        assert (r.key, r.value) == (orig.key, orig.value), (r.brief(), orig.brief())
    # The latest value of every key is still there, tombstone included (delete.retention.ms
    # has not passed).
    kept = {r.offset for r in got}
    for key, r in latest.items():
        assert r.offset in kept, f"latest record of {key} at {r.offset} missing"
    # Offsets only increase and stay below the end; older duplicates were removed.
    offsets = [r.offset for r in got]
    assert offsets == sorted(offsets) and offsets[-1] == end - 1
    assert_no_panic(broker)

    # The compacted state survives a restart (the cleaner may go on removing older duplicates
    # after it, so compare what must hold rather than the exact records).
    broker.restart()
    again = confluent_consume(boot, topic, 1)
    again_offsets = {r.offset for r in again}
    assert again_offsets <= kept, sorted(again_offsets - kept)[:5]
    for r in again:
        orig = by_offset[r.offset]
        assert (r.key, r.value) == (orig.key, orig.value), (r.brief(), orig.brief())
    for key, r in latest.items():
        assert r.offset in again_offsets, f"after restart: latest record of {key} missing"


def test_kill_during_cleaning_loses_nothing(broker_factory):
    """kill -9 at random moments while the cleaner works on a topic with many small segments;
    after every restart the log holds, at its original offset, the latest value of every key
    that was acknowledged, and no half-written cleaner file survives recovery."""
    import glob
    import os
    import random
    import time

    rng = random.Random(7)
    broker = broker_factory({"log.cleaner.backoff.ms": "20"})
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("compact-kill"), 1, {
        "cleanup.policy": "compact",
        "segment.bytes": "4096",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "86400000",
    })
    keys = 150
    produced = []
    for cycle in range(8):
        producer = confluent_producer(boot, **{"linger.ms": 0})
        for rnd in range(4):
            batch = [Rec(0, b"key-%d" % k, b"c%d-r%d-k%d" % (cycle, rnd, k) * 8)
                     for k in range(keys)]
            produced += confluent_produce(boot, topic, batch, producer=producer)
        # The cleaner runs every 20 ms over a few hundred small segments: a kill at a random
        # moment lands inside a pass more often than not.
        time.sleep(rng.uniform(0.0, 0.25))
        broker.kill()
        broker.start()
        assert_no_panic(broker)
    latest = {}
    for r in produced:
        latest[r.key] = r
    by_offset = {r.offset: r for r in produced}

    def compacted():
        got = confluent_consume(boot, topic, 1)
        return got if len(got) <= 2 * keys else None

    got = wait_until(compacted, timeout=90, interval=0.5, what="the cleaner to compact the topic")
    for r in got:
        orig = by_offset[r.offset]
        assert (r.key, r.value) == (orig.key, orig.value), (r.brief(), orig.brief())
    kept = {r.offset for r in got}
    for key, r in latest.items():
        assert r.offset in kept, f"latest record of {key} at {r.offset} missing"
    offsets = [r.offset for r in got]
    assert offsets == sorted(offsets)
    broker.stop()
    leftovers = [f for f in glob.glob(os.path.join(broker.data_dir, "**", "*"), recursive=True)
                 if f.endswith((".cleaned", ".swap"))]
    assert leftovers == [], leftovers


def _keyless_refused(boot, topic, conf):
    """Produces one batch mixing keyed and keyless records with librdkafka, then keyed records
    alone; returns the delivery results (index -> error or offset)."""
    # A long linger keeps the six in one batch on a busy machine too; flush() sends at once.
    producer = confluent_producer(boot, **{"linger.ms": 5000, "retries": 0, **conf})
    results = {}

    def report(i):
        def cb(err, msg):
            results[i] = err if err is not None else msg.offset()
        return cb

    # One batch: the linger lets librdkafka gather all six into one Produce request.
    mixed = [b"k0", None, b"k2", None, None, b"k5"]
    for i, key in enumerate(mixed):
        producer.produce(topic, key=key, value=b"v%d" % i, partition=0, on_delivery=report(i))
    assert producer.flush(30) == 0
    for i in range(6, 9):
        producer.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
                         on_delivery=report(i))
    assert producer.flush(30) == 0
    return mixed, results


def test_compacted_topic_refuses_keyless_records(broker_factory):
    """KIP-467: a compacted topic refuses a batch holding a record without a key with
    INVALID_RECORD, naming the keyless records (record_errors); librdkafka fails exactly those
    with INVALID_RECORD and the batch's other records as 'a different record was invalid'.
    Keyed records produced after it are appended; no keyless record ever reaches the log."""
    broker = broker_factory()
    boot = broker.bootstrap
    for codec in ["none", "lz4"]:
        topic = create_topic(boot, unique_topic("compact-keyless"), 1, {"cleanup.policy": "compact"})
        mixed, results = _keyless_refused(boot, topic, {"compression.type": codec})
        for i, key in enumerate(mixed):
            err = results[i]
            assert isinstance(err, KafkaError), (codec, i, err)
            if key is None:
                assert err.code() == KafkaError.INVALID_RECORD, (codec, i, err)
            else:
                assert err.code() in (KafkaError.INVALID_RECORD,
                                      KafkaError._INVALID_DIFFERENT_RECORD), (codec, i, err)
        assert [results[i] for i in range(6, 9)] == [0, 1, 2], (codec, results)
        got = confluent_consume(boot, topic, 1)
        assert [(r.key, r.value) for r in got] == [(b"k6", b"v6"), (b"k7", b"v7"), (b"k8", b"v8")]
    # A topic that is not compacted takes keyless records.
    topic = create_topic(boot, unique_topic("delete-keyless"), 1)
    _, results = _keyless_refused(boot, topic, {})
    assert sorted(results.values()) == list(range(9)), results
    assert_no_panic(broker)
