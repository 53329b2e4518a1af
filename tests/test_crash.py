"""kill -9 under acks=all load: after restart every acknowledged record is present exactly once at
its acknowledged offset, offsets are contiguous from 0 and every batch passes its CRC check.

The producer runs with retries off (and without idempotence), so a record is sent at most once:
a record the broker wrote but could not acknowledge before dying may be in the log, but no value
can be in it twice. Every value is unique, so the log can be checked against the delivery
reports exactly.
"""
import threading

from confluent_kafka import Producer

from conftest import wait_until
from kafka_helpers import (
    assert_no_panic,
    confluent_consume,
    create_topic,
    probe_offsets,
    unique_topic,
    watermarks,
)

PARTITIONS = 3
KILLS = 3
PAD = b"p" * 100


def test_kill_9_loses_no_acknowledged_record(broker_factory):
    # Small segments, so recovery has rolled segments and indexes to deal with as well.
    broker = broker_factory({"log.segment.bytes": str(256 * 1024)})
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("crash"), PARTITIONS)

    acked = []  # (partition, offset, value), appended from the producer thread's poll()
    failed = []  # (value, error)
    produce_errors = []
    stop = threading.Event()
    producer = Producer({
        "bootstrap.servers": boot, "acks": "all", "enable.idempotence": False, "retries": 0,
        "linger.ms": 2, "message.timeout.ms": 120_000, "reconnect.backoff.ms": 20,
        "reconnect.backoff.max.ms": 200, "queue.buffering.max.messages": 20_000,
    })

    def on_delivery(err, msg):
        if err is None:
            acked.append((msg.partition(), msg.offset(), msg.value()))
        else:
            failed.append((msg.value(), err))

    def run():
        try:
            i = 0
            while not stop.is_set():
                value = b"%09d" % i + PAD
                try:
                    producer.produce(topic, value, partition=i % PARTITIONS,
                                     on_delivery=on_delivery)
                    i += 1
                except BufferError:
                    producer.poll(0.02)
                producer.poll(0)
            producer.flush(120)
        except Exception as e:  # surfaced by the main thread
            produce_errors.append(e)

    thread = threading.Thread(target=run, name="producer", daemon=True)
    thread.start()
    try:
        for cycle in range(KILLS):
            target = len(acked) + 15_000
            wait_until(lambda: len(acked) >= target or produce_errors, timeout=120,
                       what=f"15k acks before kill {cycle + 1}")
            broker.kill()
            broker.start()
            if cycle == 1:
                # Crash again as soon as it listens: the recovered log is recovered once more,
                # maybe with the producer's first requests half-written.
                broker.kill()
                broker.start()
        target = len(acked) + 10_000
        wait_until(lambda: len(acked) >= target or produce_errors, timeout=120,
                   what="10k acks after the last restart")
    finally:
        stop.set()
        thread.join(timeout=150)
    assert not thread.is_alive(), "producer thread did not finish"
    assert not produce_errors, produce_errors
    assert len(producer) == 0, f"{len(producer)} records still queued"

    log = {}
    for r in confluent_consume(boot, topic, PARTITIONS, timeout=120):
        log[(r.partition, r.offset)] = r.value
    for p in range(PARTITIONS):
        low, high = watermarks(boot, topic, p)
        offsets = sorted(o for (q, o) in log if q == p)
        assert low == 0, (p, low)
        assert offsets == list(range(high)), f"partition {p}: offsets not contiguous 0..{high}"

    wrong = [(p, o, v[:9], log.get((p, o), b"<missing>")[:9]) for p, o, v in acked
             if log.get((p, o)) != v]
    assert not wrong, (f"{len(wrong)} of {len(acked)} acknowledged records are not at their "
                       f"acknowledged offsets (partition, offset, acked, found): {wrong[:10]}")

    # Random access through the recovered offset indexes.
    for p in range(PARTITIONS):
        high = watermarks(boot, topic, p)[1]
        positions = [(p, o) for o in {0, 1, high // 3, high // 2, high - 2, high - 1}]
        for (q, o), rec in probe_offsets(boot, topic, positions).items():
            assert (rec.partition, rec.offset, rec.value) == (q, o, log[(q, o)])

    values = list(log.values())
    assert len(set(values)) == len(values), "a value is in the log more than once"
    attempted = {v for _, _, v in acked} | {v for v, _ in failed}
    stray = [v[:9] for v in values if v not in attempted]
    assert not stray, f"records in the log that were never produced: {stray[:10]}"
    # More than one cycle's worth was acknowledged, and some sends failed at the kills (or
    # every in-flight request happened to be answered, which is fine too).
    assert len(acked) >= KILLS * 15_000 + 10_000
    assert_no_panic(broker)
