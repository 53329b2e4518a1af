"""Client-side helpers shared by the end-to-end tests: topic creation, producing with delivery
reports, and reading whole partitions back with confluent-kafka, kafka-python and kcat.

Every record that goes through a helper is a `Rec`, so tests compare what was produced with what
was consumed field by field. Every wait is bounded by a deadline; a timeout raises with what was
seen so far.
"""
import json
import struct
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

import kafka

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
MIB = 1024 * 1024


@dataclass(frozen=True)
class Rec:
    """One record as a client saw it. `offset` is None before it is produced."""

    partition: int
    key: bytes | None
    value: bytes | None
    headers: tuple = ()
    timestamp: int | None = None
    offset: int | None = None

    def brief(self):
        """A short form for assertion messages (1 MiB values stay out of the report)."""

        def short(b):
            if b is None or len(b) <= 40:
                return b
            return b[:20] + b"...(%d bytes)" % len(b)

        return (self.partition, self.offset, short(self.key), short(self.value), self.timestamp,
                tuple((k, short(v)) for k, v in self.headers))


def unique_topic(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_no_panic(broker):
    text = broker.log_text()
    assert "panicked" not in text, f"broker panicked:\n{text[-5000:]}"


def wait_state(observe, expected, what, timeout=30.0):
    """Polls `observe()` until it equals `expected`; on timeout says what it was last."""
    deadline = time.monotonic() + timeout
    while True:
        seen = observe()
        if seen == expected:
            return seen
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}: expected {expected!r}, "
                               f"still {seen!r}")
        time.sleep(0.05)


def admin(bootstrap, **conf):
    return AdminClient({"bootstrap.servers": bootstrap, **conf})


def create_topic(bootstrap, name, partitions=1, config=None, timeout=30.0):
    """Creates a topic with confluent-kafka's AdminClient and waits until metadata shows every
    partition with a leader."""
    a = admin(bootstrap)
    futures = a.create_topics([NewTopic(name, partitions, 1, config=dict(config or {}))],
                              operation_timeout=timeout, request_timeout=timeout)
    futures[name].result(timeout=timeout)
    wait_for_topic(bootstrap, name, partitions, timeout=timeout, client=a)
    return name


def wait_for_topic(bootstrap, name, partitions, timeout=30.0, client=None):
    a = client or admin(bootstrap)

    def ready():
        md = a.list_topics(topic=name, timeout=10)
        t = md.topics.get(name)
        if t is None or t.error is not None or len(t.partitions) != partitions:
            return False
        return all(p.leader >= 0 and p.error is None for p in t.partitions.values())

    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {name} did not get {partitions} partitions with leaders")
        time.sleep(0.05)


def watermarks(bootstrap, topic, partition, timeout=10.0):
    """(log start offset, high watermark) straight from the broker (ListOffsets)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks",
                  "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout,
                                       cached=False)
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# confluent-kafka


def confluent_producer(bootstrap, **conf):
    base = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5}
    base.update(conf)
    return Producer(base)


def confluent_produce(bootstrap, topic, records, timeout=60.0, producer=None, **conf):
    """Produces `records` (a Rec's partition None lets the partitioner choose) and returns them
    with the partitions, offsets and timestamps the broker acknowledged, in the order given.
    Fails on any delivery error."""
    p = producer or confluent_producer(bootstrap, **conf)
    results = [None] * len(records)
    errors = []

    def report(i):
        def cb(err, msg):
            if err is not None:
                errors.append((i, err))
            else:
                results[i] = (msg.partition(), msg.offset(), msg.timestamp())

        return cb

    for i, r in enumerate(records):
        kwargs = {"value": r.value, "key": r.key, "on_delivery": report(i)}
        if r.partition is not None:
            kwargs["partition"] = r.partition
        if r.headers:
            kwargs["headers"] = list(r.headers)
        if r.timestamp is not None:
            kwargs["timestamp"] = r.timestamp
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    remaining = p.flush(timeout)
    assert not errors, f"delivery errors: {errors[:5]}"
    assert remaining == 0, f"{remaining} messages not delivered within {timeout}s"
    out = []
    for r, (partition, offset, (ts_type, ts)) in zip(records, results):
        assert r.partition is None or partition == r.partition
        out.append(Rec(partition, r.key, r.value, r.headers,
                       r.timestamp if r.timestamp is not None else ts, offset))
    return out


def _confluent_rec(msg):
    ts_type, ts = msg.timestamp()
    assert ts_type == TIMESTAMP_CREATE_TIME, f"timestamp type {ts_type} at {msg.offset()}"
    return Rec(msg.partition(), msg.key(), msg.value(), tuple(msg.headers() or ()), ts,
               msg.offset())


def confluent_consume(bootstrap, topic, partitions, timeout=60.0, **conf):
    """Reads partitions 0..partitions-1 of `topic` from the log start up to the high watermark
    each had when the read began, with CRC checks on. Any consumer error fails."""
    base = {"bootstrap.servers": bootstrap, "group.id": "sluice-tests-" + uuid.uuid4().hex[:6],
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "check.crcs": True,
            "max.partition.fetch.bytes": 4 * MIB, "fetch.max.bytes": 64 * MIB}
    base.update(conf)
    c = Consumer(base)
    try:
        lows, ends = {}, {}
        for p in range(partitions):
            lows[p], ends[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10,
                                                       cached=False)
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        got = {p: [] for p in range(partitions)}

        def done():
            return all(
                (got[p] and got[p][-1].offset >= ends[p] - 1) or lows[p] >= ends[p]
                for p in range(partitions))

        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"confluent consumer did not reach {ends} in {timeout}s; last offsets "
                    f"{ {p: (got[p][-1].offset if got[p] else None) for p in got} }")
            for msg in c.consume(num_messages=1000, timeout=0.5):
                if msg.error():
                    raise KafkaException(msg.error())
                if msg.offset() < ends[msg.partition()]:
                    got[msg.partition()].append(_confluent_rec(msg))
        return [r for p in range(partitions) for r in got[p]]
    finally:
        c.close()


def probe_offsets(bootstrap, topic, positions, timeout=30.0):
    """Starts a fetch at each (partition, offset) in `positions` and returns {position: the
    first record fetched}: random access through the offset index rather than a scan from 0."""
    # A short fetch.wait.max.ms: the next probe's fetch waits behind the previous long poll.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe", "enable.auto.commit": False,
                  "auto.offset.reset": "error", "check.crcs": True, "fetch.wait.max.ms": 10})
    out = {}
    try:
        for partition, offset in positions:
            c.assign([TopicPartition(topic, partition, offset)])
            deadline = time.monotonic() + timeout
            while (partition, offset) not in out:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nothing fetched at {topic}/{partition}@{offset}")
                msg = c.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    raise KafkaException(msg.error())
                out[(partition, offset)] = _confluent_rec(msg)
            c.unassign()
        return out
    finally:
        c.close()


class OracleProducer:
    """Sends 0, 1, 2, ... as fast as the producer takes them and records what was acked.

    librdkafka with acks=all and idempotence on, retrying for as long as `message.timeout.ms`:
    `acked` holds (value, offset) of every acknowledged record, in acknowledgement order, and
    `failed` every delivery that failed. `conf` overrides or adds producer settings."""

    def __init__(self, bootstrap, topic, **conf):
        settings = {
            "bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
            "linger.ms": 5, "message.timeout.ms": 300000, "retry.backoff.ms": 50,
            "topic.metadata.refresh.interval.ms": 1000,
        }
        settings.update(conf)
        self.producer = Producer(settings)
        self.topic = topic
        self.acked = []
        self.failed = []
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_delivery(self, err, msg):
        n = int(msg.value())
        if err is None:
            self.acked.append((n, msg.offset()))
        else:
            self.failed.append((n, str(err)))

    def run(self):
        while not self.stop.is_set():
            try:
                self.producer.produce(self.topic, value=str(self.sent).encode(),
                                      on_delivery=self.on_delivery)
                self.sent += 1
            except BufferError:
                self.producer.poll(0.05)
                continue
            self.producer.poll(0)
            if self.sent % 200 == 0:
                time.sleep(0.01)

    def finish(self, timeout=300.0):
        """Stops sending and waits (up to `timeout`) until every record sent is delivered."""
        self.stop.set()
        self.thread.join(timeout=30)
        left = self.producer.flush(timeout)
        assert left == 0, f"{left} records still unacknowledged"


# ---------------------------------------------------------------------------------------------
# kafka-python


def kafka_python_produce(bootstrap, topic, records, timeout=60.0, **conf):
    base = {"bootstrap_servers": bootstrap, "acks": "all", "linger_ms": 5}
    base.update(conf)
    p = kafka.KafkaProducer(**base)
    try:
        futures = [
            p.send(topic, value=r.value, key=r.key, partition=r.partition,
                   headers=list(r.headers) or None, timestamp_ms=r.timestamp)
            for r in records
        ]
        p.flush(timeout=timeout)
        out = []
        for r, f in zip(records, futures):
            md = f.get(timeout=timeout)
            assert r.partition is None or md.partition == r.partition
            out.append(Rec(md.partition, r.key, r.value, r.headers,
                           r.timestamp if r.timestamp is not None else md.timestamp, md.offset))
        return out
    finally:
        p.close(timeout=10)


def kafka_python_consume(bootstrap, topic, partitions, timeout=60.0, **conf):
    """Reads partitions 0..partitions-1 of `topic` from the beginning up to the end offsets they
    had when the read began (assign + seek, no group)."""
    base = {"bootstrap_servers": bootstrap, "group_id": None, "enable_auto_commit": False,
            "auto_offset_reset": "earliest", "check_crcs": True,
            "max_partition_fetch_bytes": 4 * MIB, "fetch_max_bytes": 64 * MIB}
    base.update(conf)
    c = kafka.KafkaConsumer(**base)
    try:
        tps = [kafka.TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        # Progress is tracked from the records themselves: kafka-python 2.2's position() spins
        # without driving the network while a seek_to_beginning reset is pending.
        next_offset = c.beginning_offsets(tps)
        ends = c.end_offsets(tps)
        c.seek_to_beginning(*tps)
        got = {tp.partition: [] for tp in tps}
        deadline = time.monotonic() + timeout
        while any(next_offset[tp] < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"kafka-python consumer did not reach {ends}; at {next_offset}")
            for tp, msgs in c.poll(timeout_ms=500).items():
                for m in msgs:
                    assert m.timestamp_type == 0, f"timestamp type {m.timestamp_type}"
                    if m.offset < ends[tp]:
                        got[tp.partition].append(
                            Rec(m.partition, m.key, m.value, tuple(m.headers or ()),
                                m.timestamp, m.offset))
                    next_offset[tp] = m.offset + 1
        return [r for p in range(partitions) for r in got[p]]
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# kcat


def kcat(*args, input=None, timeout=60.0):
    """Runs kcat; returns stdout (bytes). Fails with kcat's stderr on a non-zero exit."""
    proc = subprocess.run(["kcat", *args], input=input, capture_output=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"kcat {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}")
    return proc.stdout


def by_position(records):
    return {(r.partition, r.offset): r for r in records}


def assert_same_records(expected, actual):
    """Every expected record is present at its offset with identical fields, and nothing else."""
    exp = by_position(expected)
    act = by_position(actual)
    assert len(act) == len(actual), "a (partition, offset) was returned twice"
    missing = sorted(set(exp) - set(act))
    extra = sorted(set(act) - set(exp))
    assert not missing, f"{len(missing)} records missing, first {missing[:5]}"
    assert not extra, f"{len(extra)} unexpected records, first {extra[:5]}"
    for pos, e in exp.items():
        a = act[pos]
        assert a == e, f"record at {pos} differs:\n expected {e.brief()}\n actual   {a.brief()}"


def kafka_error_code(exc):
    """The KafkaError code carried by a confluent-kafka exception."""
    assert isinstance(exc, KafkaException), repr(exc)
    return exc.args[0].code()


# ---------------------------------------------------------------------------------------------
# Consumer groups: members that report what they own, consume and commit


class EventLog:
    """What group members report, in arrival order: dicts with "event", "member" and "t" (the
    member's time.monotonic() when it happened: CLOCK_MONOTONIC is one clock for every process on
    the machine, so events from threads and subprocesses can be ordered together). One member's
    events arrive in the order it emitted them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events = []

    def emit(self, event):
        with self._lock:
            self._events.append(event)

    def snapshot(self):
        with self._lock:
            return list(self._events)


def group_generation(consumer):
    """(generation id, member id) of a confluent-kafka group member, read from its serialized
    consumer group metadata. librdkafka's layout: b"CGMDv2:", int32 generation id in host byte
    order, then the group id and the member id, each NUL-terminated, then the instance id."""
    raw = consumer.consumer_group_metadata()
    magic = b"CGMDv2:"
    assert raw[:len(magic)] == magic, f"unknown consumer group metadata layout: {raw[:24]!r}"
    (generation,) = struct.unpack_from("=i", raw, len(magic))
    group_end = raw.index(b"\0", len(magic) + 4)
    member_end = raw.index(b"\0", group_end + 1)
    return generation, raw[group_end + 1:member_end].decode()


def run_group_member(name, conf, topic, emit, should_stop, hold_header=None):
    """Runs one confluent-kafka group member (config `conf`, subscribed to `topic`) until
    `should_stop()`, then closes it. Reports through `emit`:
      started; assign / revoke / lost with the partitions; records with [partition, offset, key]
      per record; commit with the [partition, offset] pairs the broker accepted, or commit_error;
      consume_error; generation (id and member id) whenever it changes; closed.
    It commits synchronously after every batch and in on_revoke, so the next owner of a partition
    starts exactly after the last record this member reported.

    With `hold_header`, the member stops committing (in batches and on revoke) once it consumes
    a record carrying that header: from then on it is a process that processes records but dies
    before committing them."""
    holding = False

    def report(event, **fields):
        emit({"event": event, "member": name, "t": time.monotonic(), **fields})

    def commit(consumer, why):
        if holding:
            return
        try:
            tps = consumer.commit(asynchronous=False)
        except KafkaException as e:
            err = e.args[0]
            if err.code() != KafkaError._NO_OFFSET:
                report("commit_error", why=why, code=err.code(), error=str(err))
            return
        report("commit", why=why,
               offsets=[[tp.partition, tp.offset] for tp in tps
                        if tp.error is None and tp.offset >= 0],
               errors=[[tp.partition, str(tp.error)] for tp in tps if tp.error is not None])

    def partitions(tps):
        return sorted(tp.partition for tp in tps)

    def on_assign(consumer, tps):
        report("assign", partitions=partitions(tps))

    def on_revoke(consumer, tps):
        # Before the partitions go: their next owner starts at what is committed now.
        commit(consumer, "revoke")
        report("revoke", partitions=partitions(tps))

    def on_lost(consumer, tps):
        report("lost", partitions=partitions(tps))

    c = Consumer(conf)
    try:
        c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
        report("started")
        generation = None
        while not should_stop():
            batch = []
            for m in c.consume(num_messages=500, timeout=0.1):
                if m.error():
                    report("consume_error", code=m.error().code(), error=str(m.error()))
                    continue
                if hold_header is not None and any(k == hold_header for k, _ in
                                                   (m.headers() or ())):
                    holding = True
                key = m.key()
                batch.append([m.partition(), m.offset(), None if key is None else key.decode()])
            if batch:
                report("records", records=batch)
                commit(c, "batch")
            seen = group_generation(c)
            if seen != generation:
                generation = seen
                report("generation", generation=seen[0], member_id=seen[1])
    finally:
        c.close()
        report("closed")


class MemberThread:
    """A group member (run_group_member) on a thread of the test process."""

    def __init__(self, name, conf, topic, log):
        self.name = name
        self._stop = threading.Event()
        self._log = log

        def run():
            try:
                run_group_member(name, conf, topic, log.emit, self._stop.is_set)
            except BaseException as e:  # reported, so that the test fails with it
                log.emit({"event": "crash", "member": name, "t": time.monotonic(),
                          "error": repr(e)})

        self._thread = threading.Thread(target=run, name=f"member-{name}", daemon=True)
        self._thread.start()

    def stop(self, timeout=30.0):
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"member {self.name} did not close in {timeout}s"


class MemberProcess:
    """A group member (run_group_member) in a child process that prints its events as JSON
    lines; a reader thread moves them into `log`. It closes cleanly on close() (a line on its
    stdin), dies on kill() (SIGKILL: no commit, no LeaveGroup), and closes by itself if the test
    process goes away (EOF on stdin) or after `lifetime_s`."""

    def __init__(self, name, conf, topic, log, hold_header=None, lifetime_s=180):
        self.name = name
        spec = {"name": name, "conf": conf, "topic": topic, "hold_header": hold_header,
                "lifetime_s": lifetime_s}
        self.proc = subprocess.Popen(
            [sys.executable, "-u", __file__, "group-member", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

        def read():
            for line in self.proc.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    event = {"event": "stdout", "member": name, "t": time.monotonic(),
                             "text": line.decode(errors="replace")}
                log.emit(event)

        self._reader = threading.Thread(target=read, name=f"reader-{name}", daemon=True)
        self._reader.start()

    def kill(self):
        """SIGKILL; returns the monotonic time by which the process was certainly dead."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._reader.join(10)
        return time.monotonic()

    def close(self, timeout=30.0):
        """Asks the member to close (consumer.close()) and waits for the process to exit."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"close\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(10)
        return code

    def ensure_dead(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(10)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _group_member_main(spec_json):
    """Entry point of a MemberProcess child."""
    spec = json.loads(spec_json)
    stop = threading.Event()
    out = threading.Lock()

    def emit(event):
        with out:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()

    def control():
        for line in sys.stdin:
            if line.strip() == "close":
                break
        stop.set()

    threading.Thread(target=control, daemon=True).start()
    deadline = time.monotonic() + spec["lifetime_s"]
    run_group_member(spec["name"], spec["conf"], spec["topic"], emit,
                     lambda: stop.is_set() or time.monotonic() > deadline, spec["hold_header"])


def group_offsets(bootstrap, group, timeout=30.0):
    """The group's committed offsets as the broker lists them (OffsetFetch through
    AdminClient.list_consumer_group_offsets): {(topic, partition): TopicPartition}."""
    a = admin(bootstrap)
    (future,) = a.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)], request_timeout=timeout).values()
    result = future.result(timeout=timeout)
    out = {}
    for tp in result.topic_partitions:
        assert tp.error is None, f"{group} {tp.topic}/{tp.partition}: {tp.error}"
        out[(tp.topic, tp.partition)] = tp
    return out


def describe_group(bootstrap, group, timeout=30.0):
    """AdminClient.describe_consumer_groups for one group: its ConsumerGroupDescription."""
    a = admin(bootstrap)
    (future,) = a.describe_consumer_groups([group], request_timeout=timeout).values()
    return future.result(timeout=timeout)


if __name__ == "__main__":
    if sys.argv[1:2] == ["group-member"]:
        _group_member_main(sys.argv[2])
    else:
        sys.exit(f"usage: {sys.argv[0]} group-member SPEC_JSON")


# ---------------------------------------------------------------------------------------------
# Transactions: transactional producers, reads by isolation level, raw protocol requests

import socket  # noqa: E402  (this section's own needs; the sections above do not use it)

from kafka.protocol.admin.cluster import (  # noqa: E402
    DescribeQuorumRequest,
    DescribeQuorumResponse,
)
from kafka.protocol.metadata.api_versions import (  # noqa: E402
    ApiVersionsRequest,
    ApiVersionsResponse,
)

READ_COMMITTED = "read_committed"
READ_UNCOMMITTED = "read_uncommitted"


def transactional_producer(bootstrap, transactional_id, init=True, timeout=30.0, **conf):
    """A confluent-kafka transactional producer; with `init`, init_transactions has run."""
    base = {"bootstrap.servers": bootstrap, "transactional.id": transactional_id,
            "linger.ms": 5}
    base.update(conf)
    p = Producer(base)
    if init:
        p.init_transactions(timeout)
    return p


def isolated_watermarks(bootstrap, topic, partition, isolation, timeout=10.0):
    """(log start offset, end offset) by ListOffsets at `isolation`: the end is the last stable
    offset for read_committed and the high watermark for read_uncommitted."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks",
                  "enable.auto.commit": False, "isolation.level": isolation})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout,
                                       cached=False)
    finally:
        c.close()


def isolated_consumer(bootstrap, isolation, **conf):
    """An assign-only confluent-kafka consumer (no group joins) at `isolation`."""
    base = {"bootstrap.servers": bootstrap, "group.id": "isolated-" + uuid.uuid4().hex[:6],
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "check.crcs": True,
            "isolation.level": isolation, "fetch.wait.max.ms": 100}
    base.update(conf)
    return Consumer(base)


def positions(consumer, topic, partitions):
    """{partition: the consumer's next offset} (negative while it has none)."""
    tps = consumer.position([TopicPartition(topic, p) for p in range(partitions)])
    return {tp.partition: tp.offset for tp in tps}


def consume_into(consumer, got, timeout=0.2):
    """One consume() call; appends each record as a Rec to `got`. Any consumer error fails."""
    for msg in consumer.consume(num_messages=1000, timeout=timeout):
        if msg.error():
            raise KafkaException(msg.error())
        got.append(_confluent_rec(msg))


def read_isolated(bootstrap, topic, partitions, isolation, timeout=60.0, **conf):
    """Reads partitions 0..partitions-1 of `topic` from the beginning at `isolation` until the
    consumer's position in each reaches the end offset that isolation level had when the read
    began (see isolated_watermarks). Progress is the consumer's position, not the last record:
    a read_committed reader skips aborted records and control batches, so the last offsets
    below the end may hold nothing it returns. Returns (records in partition and offset order,
    {partition: end offset})."""
    ends = {p: isolated_watermarks(bootstrap, topic, p, isolation)[1] for p in range(partitions)}
    c = isolated_consumer(bootstrap, isolation, **conf)
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        got = []
        deadline = time.monotonic() + timeout
        while True:
            at = positions(c, topic, partitions)
            if all(ends[p] == 0 or at[p] >= ends[p] for p in range(partitions)):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{isolation} consumer of {topic} did not reach {ends} in "
                                   f"{timeout}s; positions {at}, {len(got)} records")
            consume_into(c, got)
        got = [r for r in got if r.offset < ends[r.partition]]
        got.sort(key=lambda r: (r.partition, r.offset))
        return got, ends
    finally:
        c.close()


def committed_offsets(bootstrap, group, topic, partitions, timeout=30.0):
    """{partition: offset} that `group` has committed for `topic` (OffsetFetch; negative when
    there is none). The consumer asks without joining the group."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=timeout)
        for tp in tps:
            assert tp.error is None, f"{group} {topic}/{tp.partition}: {tp.error}"
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


class KafkaWire:
    """One plain TCP connection to a broker for requests that no client library sends on
    purpose (wrong producer ids, stale epochs, requests out of order). Requests and responses
    are kafka-python's generated protocol classes (kafka.protocol.*), framed and decoded by
    them; this class only numbers, sends and reads frames. Every read is bounded by the socket
    timeout."""

    def __init__(self, bootstrap, timeout=30.0, client_id="sluice-tests-wire", ssl_context=None):
        """`ssl_context`: speak TLS (an `ssl.SSLContext` trusting the broker's CA)."""
        host, port = bootstrap.rsplit(":", 1)
        self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        if ssl_context is not None:
            self._sock = ssl_context.wrap_socket(self._sock, server_hostname=host)
        self._client_id = client_id
        self._correlation_id = 0
        response = self.send(ApiVersionsRequest(client_software_name="sluice-tests",
                                                client_software_version="1"),
                             ApiVersionsResponse, 3)
        assert response.error_code == 0, f"ApiVersions failed: {response}"
        self.api_versions = {k.api_key: (k.min_version, k.max_version)
                             for k in response.api_keys}

    def versions(self, request_class):
        """The versions of `request_class` that both the broker and kafka-python know."""
        low, high = self.api_versions[request_class.API_KEY]
        return list(range(max(low, request_class.min_version),
                          min(high, request_class.max_version) + 1))

    def send(self, request, response_class, version):
        """Sends `request` at `version` and returns the decoded response (which must answer
        this request: the correlation id is checked)."""
        self._correlation_id += 1
        request.API_VERSION = version
        request.with_header(correlation_id=self._correlation_id, client_id=self._client_id)
        self._sock.sendall(request.encode(header=True, framed=True))
        (size,) = struct.unpack(">i", self._read(4))
        response = response_class.decode(self._read(size), version=version, header=True)
        assert response.header.correlation_id == self._correlation_id, (
            f"response to {response.header.correlation_id}, expected {self._correlation_id}")
        return response

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"broker closed the connection ({len(buf)} of {n} bytes)")
            buf += chunk
        return bytes(buf)

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def quorum_leader_of(address):
    """The metadata quorum's leader as the broker at `address` reports it (DescribeQuorum),
    None if none yet."""
    topic = DescribeQuorumRequest.TopicData
    request = DescribeQuorumRequest(topics=[topic(
        topic_name="__cluster_metadata", partitions=[topic.PartitionData(partition_index=0)])])
    try:
        with KafkaWire(address, timeout=5) as wire:
            response = wire.send(request, DescribeQuorumResponse,
                                 wire.versions(DescribeQuorumRequest)[-1])
    except (OSError, ConnectionError):
        return None
    (p,) = response.topics[0].partitions
    return p.leader_id if p.error_code == 0 and p.leader_id > 0 else None


def api_versions_answered(port, source_ip, timeout=10.0):
    """Whether a new connection from `source_ip` (a loopback address) gets an ApiVersions v0
    answer; False when the broker closes it unanswered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source_ip, 0)) as s:
        header = struct.pack(">hhih", 18, 0, 1, 4) + b"test"
        try:
            s.sendall(struct.pack(">i", len(header)) + header)
            return len(s.recv(4)) == 4
        except (ConnectionResetError, BrokenPipeError):
            return False
