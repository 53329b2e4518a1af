"""A graceful restart keeps every record: 100k records over 3 topics x 4 partitions are read back
after SIGTERM + start with identical offsets, timestamps, keys, values and headers."""
import random
import time

from kafka_helpers import (
    Rec,
    assert_no_panic,
    assert_same_records,
    by_position,
    confluent_consume,
    confluent_produce,
    confluent_producer,
    create_topic,
    kafka_python_consume,
    probe_offsets,
    unique_topic,
    watermarks,
)

TOTAL = 100_000
PARTITIONS = 4
CODEC_BY_TOPIC = ["none", "lz4", "zstd"]


def varied_records(topic_index, count, seed):
    rnd = random.Random(seed)
    now = int(time.time() * 1000)
    out = []
    for i in range(count):
        n = topic_index + 3 * i
        key = None if n % 7 == 0 else f"key-{n % 1000}".encode()
        value = None if n % 11 == 0 else rnd.randbytes(rnd.randint(0, 300))
        h = n % 5
        headers = (
            () if h == 0 else
            (("seq", str(n).encode()),) if h == 1 else
            (("seq", str(n).encode()), ("seq", b"again"), ("nil", None)) if h == 2 else
            (("trace", rnd.randbytes(16)),) if h == 3 else
            (("empty", b""),)
        )
        # Within a day back, so default retention (7 days) never touches them.
        timestamp = now - rnd.randint(0, 86_400_000)
        out.append(Rec(n % PARTITIONS, key, value, headers, timestamp))
    return out


def test_graceful_restart_keeps_everything(broker):
    boot = broker.bootstrap
    topics = [create_topic(boot, unique_topic(f"restart{t}"), PARTITIONS) for t in range(3)]
    per_topic = TOTAL // 3 + 1
    produced = {}
    for t, topic in enumerate(topics):
        p = confluent_producer(boot, **{"compression.type": CODEC_BY_TOPIC[t], "linger.ms": 20})
        produced[topic] = confluent_produce(boot, topic, varied_records(t, per_topic, seed=t),
                                            producer=p, timeout=120)
    assert sum(len(v) for v in produced.values()) >= TOTAL
    ends_before = {(topic, p): watermarks(boot, topic, p) for topic in topics
                   for p in range(PARTITIONS)}

    assert broker.stop() == 0, f"graceful stop did not exit 0:\n{broker.log_text()[-3000:]}"
    broker.start()

    for topic in topics:
        for p in range(PARTITIONS):
            assert watermarks(boot, topic, p) == ends_before[(topic, p)], (topic, p)
        consumed = confluent_consume(boot, topic, PARTITIONS, timeout=120)
        assert_same_records(produced[topic], consumed)
        # Random access after the restart goes through reloaded (or rebuilt) offset indexes.
        rnd = random.Random(topic)
        positions = [(p, rnd.randrange(ends_before[(topic, p)][1])) for p in range(PARTITIONS)
                     for _ in range(4)]
        by_pos = by_position(produced[topic])
        for pos, rec in probe_offsets(boot, topic, positions).items():
            assert rec == by_pos[pos], (pos, rec.brief(), by_pos[pos].brief())
    # kafka-python (with its incremental fetch sessions) reads one topic too.
    assert_same_records(produced[topics[1]],
                        kafka_python_consume(boot, topics[1], PARTITIONS, timeout=120))

    # The logs keep appending where they left off.
    topic = topics[0]
    more = confluent_produce(boot, topic, [Rec(p, b"after", b"restart") for p in
                                           range(PARTITIONS)])
    for r in more:
        assert r.offset == ends_before[(topic, r.partition)][1], r
    assert_no_panic(broker)
