"""Transactions end to end, with real clients against a real broker process.

1. Exactly-once consume-transform-produce with confluent-kafka's transactional API: a worker
   process reads a 3-partition input in a group (read_committed, no auto commit) and, per batch,
   produces one result per input record and commits the input offsets in the same transaction
   (send_offsets_to_transaction). It is killed with SIGKILL at random moments ten times and
   restarted with the same transactional.id, then runs to the end. The output read with
   read_committed holds each input record's result exactly once, and the group's committed
   offsets are the input's end offsets.
2. Aborted transactions are invisible to read_committed consumers (confluent-kafka and
   kafka-python) and visible to read_uncommitted ones; an open transaction holds the last stable
   offset at its first offset until it commits.
3. A hung transaction (its producer killed, or closed without aborting) is aborted by the broker
   after transaction.timeout.ms; a read_committed consumer blocked behind it then gets what
   another producer committed after it, and never the hung records.
4. A second producer with the same transactional.id fences the first: the first one's next
   transactional operation fails with a fatal fencing error.
5. Transaction state survives a graceful restart and a kill -9: the transactional id keeps its
   producer id and its epoch goes on from where it was, committed data stays visible to
   read_committed, a transaction left open at the restart is aborted after its timeout and stays
   invisible, also after one more restart.
6. Bad requests sent raw (kafka-python's protocol classes over a socket) get Kafka's error codes:
   EndTxn without a transaction, a wrong producer id, a stale epoch (PRODUCER_FENCED from the
   versions that know it, INVALID_PRODUCER_EPOCH below), unknown topics, a transaction timeout
   above transaction.max.timeout.ms.

Processes that are killed (the worker, hung producers) are children that print JSON lines; this
file is also their entry point (`python test_transactions.py ROLE SPEC_JSON`). Waits poll with
deadlines; the random delays before kills only choose when the fault lands.
"""
import gc
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from kafka.protocol.producer.transaction import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
)

from conftest import wait_until
from kafka_helpers import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    KafkaWire,
    Rec,
    admin,
    assert_no_panic,
    committed_offsets,
    confluent_produce,
    confluent_producer,
    consume_into,
    create_topic,
    isolated_consumer,
    isolated_watermarks,
    kafka_python_consume,
    positions,
    read_isolated,
    transactional_producer,
    unique_topic,
)

# Timed-out transactions are looked for every 500 ms (Kafka: every 10 s); no initial rebalance
# delay for the worker's group; the largest transaction timeout a client may ask for.
MAX_TXN_TIMEOUT_MS = 60_000
BROKER_CONFIG = {
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "500",
    "transaction.max.timeout.ms": str(MAX_TXN_TIMEOUT_MS),
    "group.initial.rebalance.delay.ms": "0",
}
# Kafka's error codes.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
OPERATION_NOT_ATTEMPTED = 55
PRODUCER_FENCED = 90
# COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
# CONCURRENT_TRANSACTIONS: a client retries these.
RETRIABLE = (14, 15, 16, 51)
# librdkafka reports a fenced producer as a fatal error with one of these codes.
FENCED_CODES = (KafkaError._FENCED, KafkaError.PRODUCER_FENCED)


def keyed(prefix, partitions, per_partition):
    """Records with unique keys and values, `per_partition` in each of 0..partitions-1."""
    return [Rec(p, f"{prefix}-{p}-{i}".encode(), f"{prefix} value {p}/{i}".encode())
            for p in range(partitions) for i in range(per_partition)]


def in_transaction(producer, bootstrap, topic, records, commit=True, timeout=30.0):
    """One transaction of `producer` holding `records` (all acknowledged before it ends);
    commit=None leaves it open. Returns the records with their offsets."""
    producer.begin_transaction()
    written = confluent_produce(bootstrap, topic, records, producer=producer, timeout=timeout)
    if commit is True:
        producer.commit_transaction(timeout)
    elif commit is False:
        producer.abort_transaction(timeout)
    return written


def brief(records):
    return [(r.partition, r.offset, r.key) for r in records]


def assert_records(actual, expected, what):
    """The same records (partition, offset, key, value), each once."""
    a = sorted((r.partition, r.offset, r.key, r.value) for r in actual)
    e = sorted((r.partition, r.offset, r.key, r.value) for r in expected)
    if a != e:
        missing = sorted(set(e) - set(a))
        extra = sorted(set(a) - set(e))
        raise AssertionError(
            f"{what}: {len(a)} records, expected {len(e)}; missing {[m[:3] for m in missing[:6]]}"
            f", unexpected {[x[:3] for x in extra[:6]]}")


def ends_of(bootstrap, topic, partitions, isolation):
    return {p: isolated_watermarks(bootstrap, topic, p, isolation)[1] for p in range(partitions)}


def first_offsets(records):
    """{partition: the lowest offset among `records`}."""
    out = {}
    for r in records:
        out[r.partition] = min(out.get(r.partition, r.offset), r.offset)
    return out


# ---------------------------------------------------------------------------------------------
# Child processes: they print one JSON object per line and are killed or told to stop


class Child:
    """A child process running one of this file's roles; its JSON lines land in `events`."""

    def __init__(self, role, spec):
        self.role = role
        self.events = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.abspath(__file__), role, json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._stderr = []

        def read_stdout():
            for line in self.proc.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    event = {"event": "stdout", "text": line.decode(errors="replace")}
                with self._lock:
                    self.events.append(event)

        def read_stderr():
            for line in self.proc.stderr:
                self._stderr.append(line.decode(errors="replace"))

        self._readers = [threading.Thread(target=read_stdout, daemon=True),
                         threading.Thread(target=read_stderr, daemon=True)]
        for t in self._readers:
            t.start()

    def snapshot(self):
        with self._lock:
            return list(self.events)

    def count(self, event):
        return sum(1 for e in self.snapshot() if e["event"] == event)

    def stderr(self):
        return "".join(self._stderr[-40:])

    def wait_for(self, event, count=1, timeout=60.0):
        """Waits until `event` was reported `count` times; fails early if the child exits or
        reports an error."""
        def seen():
            events = self.snapshot()
            errors = [e for e in events if e["event"] == "error"]
            if errors:
                raise AssertionError(f"{self.role} reported {errors[0]}\n{self.stderr()}")
            if sum(1 for e in events if e["event"] == event) >= count:
                return True
            if self.proc.poll() is not None:
                for t in self._readers:
                    t.join(5)
                if sum(1 for e in self.snapshot() if e["event"] == event) >= count:
                    return True
                raise AssertionError(f"{self.role} exited {self.proc.returncode} before "
                                     f"{count}x {event}; events {events[-5:]}\n{self.stderr()}")
            return False

        try:
            wait_until(seen, timeout=timeout, interval=0.005,
                       what=f"{self.role}: {count}x {event}")
        except TimeoutError as e:
            raise TimeoutError(f"{e}; last events {self.snapshot()[-5:]}\n{self.stderr()}") \
                from None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for t in self._readers:
            t.join(10)

    def wait(self, timeout):
        code = self.proc.wait(timeout=timeout)
        for t in self._readers:
            t.join(10)
        return code

    def ensure_dead(self):
        self.kill()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture
def children(broker_factory):
    """Starts children; every one is killed at the end (before the brokers stop)."""
    started = []

    def start(role, spec):
        c = Child(role, spec)
        started.append(c)
        return c

    yield start
    for c in started:
        c.ensure_dead()


def _emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


def eos_result(partition, offset, value):
    """What the worker writes for the input record at (partition, offset) with `value`."""
    return b"%d:%d:" % (partition, offset) + value


def eos_worker(spec):
    """Consume-transform-produce: per batch one transaction with a result per input record and
    the consumer's positions as the group's offsets. Reports "initialised", "committed" after
    each transaction, and "done" once the group's offsets are the input's end offsets `ends`."""
    rnd = random.Random(spec["seed"])
    producer = Producer({
        "bootstrap.servers": spec["bootstrap"], "transactional.id": spec["transactional_id"],
        "linger.ms": 2, "transaction.timeout.ms": 30_000,
    })
    producer.init_transactions(60)
    _emit("initialised")
    consumer = Consumer({
        "bootstrap.servers": spec["bootstrap"], "group.id": spec["group"],
        # A dynamic member: the next incarnation gets the partitions once the killed one's
        # session has expired, hence a short one.
        "session.timeout.ms": EOS_SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 300,
        "isolation.level": READ_COMMITTED,
        "enable.auto.commit": False, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50,
        **spec.get("consumer_conf", {}),
    })
    consumer.subscribe([spec["input"]])
    ends = {int(p): o for p, o in spec["ends"].items()}
    deadline = time.monotonic() + spec["lifetime_s"]
    transactions = 0
    while time.monotonic() < deadline:
        batch = consumer.consume(num_messages=rnd.randint(1, spec["max_batch"]), timeout=0.1)
        for m in batch:
            if m.error():
                raise KafkaException(m.error())
        if batch:
            producer.begin_transaction()
            for m in batch:
                while True:
                    try:
                        producer.produce(spec["output"], key=m.key(), partition=m.partition(),
                                         value=eos_result(m.partition(), m.offset(), m.value()))
                        break
                    except BufferError:
                        producer.poll(0.01)
            # The results are written, then the batch's "work" takes a few milliseconds more
            # before the commit: a kill then often leaves written results in an open
            # transaction, which the next incarnation's init_transactions must abort.
            producer.flush(30)
            time.sleep(rnd.uniform(0, spec["pause_ms"]) / 1000)
            offsets = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
            producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
            producer.commit_transaction(30)
            transactions += 1
            _emit("committed", records=len(batch), transactions=transactions,
                  offsets={tp.partition: tp.offset for tp in offsets})
        elif len(consumer.assignment()) == len(ends):
            # Nothing to read: done if the group's offsets are at the ends. (position() knows
            # only partitions this incarnation has consumed from.)
            at = {tp.partition: tp.offset for tp in consumer.committed(consumer.assignment(), 30)}
            if all(at.get(p, -1) >= end for p, end in ends.items()):
                _emit("done", committed=at)
                break
    else:
        _emit("error", error=f"not done within {spec['lifetime_s']}s")
    consumer.close()


def hung_producer(spec):
    """Begins a transaction, writes `count` records to partition 0 and flushes them, reports
    "open", then waits: until killed, or until a line on stdin, on which it closes the producer
    without committing or aborting (and exits)."""
    producer = Producer({
        "bootstrap.servers": spec["bootstrap"], "transactional.id": spec["transactional_id"],
        "transaction.timeout.ms": spec["timeout_ms"], "linger.ms": 2,
    })
    producer.init_transactions(30)
    producer.begin_transaction()
    acked = []

    def report(err, msg):
        if err is None:
            acked.append([msg.partition(), msg.offset(), msg.key().decode()])
        else:
            _emit("error", error=str(err))

    for i in range(spec["count"]):
        producer.produce(spec["topic"], key=f"hung-{i}".encode(), value=b"never committed",
                         partition=0, on_delivery=report)
    remaining = producer.flush(30)
    if remaining:
        _emit("error", error=f"{remaining} records not acknowledged")
        return
    _emit("open", records=acked)
    sys.stdin.readline()
    # Producer.close() would abort the transaction; destroying the client does not.
    del producer
    gc.collect()
    _emit("closed")


def _child_main(role, spec_json):
    spec = json.loads(spec_json)
    try:
        {"eos-worker": eos_worker, "hung-producer": hung_producer}[role](spec)
    except BaseException as e:  # reported, so that the test fails with it
        _emit("error", error=repr(e))
        raise


# ---------------------------------------------------------------------------------------------
# 1. Exactly-once consume-transform-produce under kill -9

EOS_PARTITIONS = 3
EOS_PER_PARTITION = 1000
EOS_KILLS = 10
EOS_MAX_BATCH = 25
EOS_PAUSE_MS = 10
EOS_SESSION_TIMEOUT_MS = 1500
EOS_BROKER_CONFIG = {**BROKER_CONFIG, "group.min.session.timeout.ms": "500"}


def eos_diagnostics(broker, group, topic):
    """What the group and the broker looked like, for a failure message."""
    lines = []
    try:
        (future,) = admin(broker.bootstrap).describe_consumer_groups(
            [group], request_timeout=10).values()
        g = future.result(timeout=10)
        lines.append(f"group {group}: {g.state}, members " + "; ".join(
            f"{m.member_id} {sorted(tp.partition for tp in m.assignment.topic_partitions)}"
            for m in g.members))
        lines.append(f"committed {committed_offsets(broker.bootstrap, group, topic, 3, 10)}")
    except Exception as e:  # a diagnosis must not hide the failure
        lines.append(f"(group not described: {e!r})")
    log = [ln for ln in broker.log_text().splitlines() if " WARN " in ln or " ERROR " in ln]
    lines.append("broker warnings and errors (last 15):")
    lines += log[-15:]
    return "\n".join(lines)


def test_exactly_once_consume_transform_produce_survives_kill_9(broker_factory, children):
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    broker = broker_factory(EOS_BROKER_CONFIG)
    boot = broker.bootstrap
    source = create_topic(boot, unique_topic("eos-in"), EOS_PARTITIONS)
    sink = create_topic(boot, unique_topic("eos-out"), EOS_PARTITIONS)
    inputs = confluent_produce(boot, source, keyed("in", EOS_PARTITIONS, EOS_PER_PARTITION))
    ends = ends_of(boot, source, EOS_PARTITIONS, READ_UNCOMMITTED)
    assert ends == {p: EOS_PER_PARTITION for p in range(EOS_PARTITIONS)}
    group = unique_topic("eos-group")
    spec = {"bootstrap": boot, "input": source, "output": sink, "group": group,
            "transactional_id": unique_topic("eos-txn"),
            "ends": ends, "max_batch": EOS_MAX_BATCH, "pause_ms": EOS_PAUSE_MS,
            "lifetime_s": 120}

    # Two kills land soon after init_transactions (joining the group, the first fetch, the
    # first transaction); the others after a few transactions, a few milliseconds later, in
    # the middle of the next one (producing, adding offsets, committing).
    early = set(rnd.sample(range(EOS_KILLS), 2))
    progress = []
    try:
        for run in range(EOS_KILLS):
            w = children("eos-worker", {**spec, "seed": rnd.randrange(1 << 30)})
            if run in early:
                w.wait_for("initialised")
                time.sleep(rnd.uniform(0, 0.3))
            else:
                w.wait_for("committed", count=rnd.randint(1, 6))
                time.sleep(rnd.uniform(0, 0.04))
            w.kill()
            assert w.count("done") == 0, (
                f"the job finished before kill {run + 1} (seed {seed}); more input is needed")
            progress.append(sum(e["records"] for e in w.snapshot() if e["event"] == "committed"))

        last = children("eos-worker", {**spec, "seed": rnd.randrange(1 << 30)})
        last.wait_for("done", timeout=120)
        assert last.wait(timeout=30) == 0, last.stderr()
    except (AssertionError, TimeoutError) as e:
        raise AssertionError(f"run {len(progress) + 1}: {e}\n"
                             f"{eos_diagnostics(broker, group, source)}") from None

    out, out_ends = read_isolated(boot, sink, EOS_PARTITIONS, READ_COMMITTED, timeout=60)
    expected = Counter((r.partition, eos_result(r.partition, r.offset, r.value)) for r in inputs)
    seen = Counter((r.partition, r.value) for r in out)
    missing = sorted(set(expected) - set(seen))
    twice = sorted(v for v, n in seen.items() if n > 1)
    stray = sorted(set(seen) - set(expected))
    uncommitted, _ = read_isolated(boot, sink, EOS_PARTITIONS, READ_UNCOMMITTED, timeout=60)
    summary = (f"seed {seed}; records committed per killed run {progress}; output: "
               f"{len(out)} read_committed, {len(uncommitted)} read_uncommitted, "
               f"ends {out_ends}")
    print(summary)  # shown with -s: how much the kills left aborted
    assert not missing, f"{len(missing)} results missing, first {missing[:5]}; {summary}"
    assert not twice, f"{len(twice)} results more than once, first {twice[:5]}; {summary}"
    assert not stray, f"{len(stray)} unexpected output records, first {stray[:5]}; {summary}"
    assert len(out) == len(inputs), summary
    # Every transaction ended: nothing holds the last stable offset back.
    assert out_ends == ends_of(boot, sink, EOS_PARTITIONS, READ_UNCOMMITTED), summary
    assert committed_offsets(boot, group, source, EOS_PARTITIONS) == ends, summary
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 2. Aborted transactions by isolation level; an open transaction holds the LSO


def test_aborted_transactions_by_isolation_level(broker_factory):
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("txn-iso"), 2)
    plain = confluent_producer(boot)
    txn = transactional_producer(boot, unique_topic("iso-txn"))

    before = confluent_produce(boot, topic, keyed("before", 2, 3), producer=plain)
    aborted = in_transaction(txn, boot, topic, keyed("aborted", 2, 5), commit=False)
    committed = in_transaction(txn, boot, topic, keyed("committed", 2, 5), commit=True)
    aborted += in_transaction(txn, boot, topic, keyed("aborted-again", 2, 2), commit=False)
    after = confluent_produce(boot, topic, keyed("after", 2, 2), producer=plain)
    visible = before + committed + after

    high = ends_of(boot, topic, 2, READ_UNCOMMITTED)
    assert high == {p: max(r.offset for r in after if r.partition == p) + 1 for p in range(2)}
    # No transaction is open: the last stable offset is the high watermark.
    assert ends_of(boot, topic, 2, READ_COMMITTED) == high

    got, ends = read_isolated(boot, topic, 2, READ_UNCOMMITTED)
    assert_records(got, visible + aborted, "read_uncommitted")
    got, ends = read_isolated(boot, topic, 2, READ_COMMITTED)
    assert ends == high
    assert_records(got, visible, "read_committed")
    # kafka-python filters aborted transactions by itself from the fetch's aborted list.
    assert_records(kafka_python_consume(boot, topic, 2, isolation_level=READ_COMMITTED),
                   visible, "kafka-python read_committed")
    assert_records(kafka_python_consume(boot, topic, 2, isolation_level=READ_UNCOMMITTED),
                   visible + aborted, "kafka-python read_uncommitted")

    # An open transaction: read_committed ends at its first offset, read_uncommitted goes on.
    reader = isolated_consumer(boot, READ_COMMITTED)
    try:
        reader.assign([TopicPartition(topic, p, 0) for p in range(2)])
        seen = []
        opened = in_transaction(txn, boot, topic, keyed("open", 2, 4), commit=None)
        late = confluent_produce(boot, topic, keyed("late", 2, 1), producer=plain)
        lso = first_offsets(opened)
        high = ends_of(boot, topic, 2, READ_UNCOMMITTED)
        assert ends_of(boot, topic, 2, READ_COMMITTED) == lso
        assert all(high[p] > lso[p] for p in range(2)), (high, lso)
        got, _ = read_isolated(boot, topic, 2, READ_COMMITTED)
        assert_records(got, visible, "read_committed with a transaction open")
        got, _ = read_isolated(boot, topic, 2, READ_UNCOMMITTED)
        assert_records(got, visible + aborted + opened + late,
                       "read_uncommitted with a transaction open")
        # A consumer reading along stops at the last stable offset.
        wait_until(lambda: consume_into(reader, seen) or positions(reader, topic, 2) == lso,
                   timeout=30, what=f"the read_committed reader to reach the LSO {lso}")
        assert_records(seen, visible, "reader before the commit")

        txn.commit_transaction(30)
        high = ends_of(boot, topic, 2, READ_UNCOMMITTED)
        assert ends_of(boot, topic, 2, READ_COMMITTED) == high
        wait_until(lambda: consume_into(reader, seen) or positions(reader, topic, 2) == high,
                   timeout=30, what=f"the read_committed reader to reach {high}")
        assert_records(seen, visible + opened + late, "reader after the commit")
    finally:
        reader.close()
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 3. A hung transaction is aborted after its timeout and unblocks read_committed readers

HUNG_TIMEOUT_MS = 3000


@pytest.mark.parametrize("how", ["killed", "closed"])
def test_hung_transaction_is_aborted_after_its_timeout(broker_factory, children, how):
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("txn-hung"), 1)
    plain = confluent_producer(boot)
    first = confluent_produce(boot, topic, keyed("first", 1, 2), producer=plain)

    began = time.monotonic()
    hung = children("hung-producer", {"bootstrap": boot, "topic": topic, "count": 5,
                                      "transactional_id": unique_topic("hung"),
                                      "timeout_ms": HUNG_TIMEOUT_MS})
    hung.wait_for("open", timeout=30)
    (opened,) = [e for e in hung.snapshot() if e["event"] == "open"]
    hung_offsets = sorted(o for _, o, _ in opened["records"])
    if how == "killed":
        hung.kill()
    else:
        hung.proc.stdin.write(b"close\n")
        hung.proc.stdin.flush()
        hung.wait_for("closed", timeout=30)

    other = transactional_producer(boot, unique_topic("other"))
    committed = in_transaction(other, boot, topic, keyed("committed", 1, 4), commit=True)
    last = confluent_produce(boot, topic, keyed("last", 1, 1), producer=plain)
    assert hung_offsets[0] == len(first), (hung_offsets, brief(first))
    assert min(r.offset for r in committed) > hung_offsets[-1]

    lso = isolated_watermarks(boot, topic, 0, READ_COMMITTED)[1]
    open_for = time.monotonic() - began
    if open_for < HUNG_TIMEOUT_MS / 1000:
        assert lso == hung_offsets[0], (
            f"the last stable offset is {lso}, not the open transaction's first offset "
            f"{hung_offsets[0]} (open for at most {open_for:.1f}s of its {HUNG_TIMEOUT_MS} ms; "
            f"high watermark {ends_of(boot, topic, 1, READ_UNCOMMITTED)[0]})")

    reader = isolated_consumer(boot, READ_COMMITTED)
    try:
        reader.assign([TopicPartition(topic, 0, 0)])
        seen = []
        # While the transaction is open, the reader gets what lies before its first offset and
        # nothing more. Each check brackets a consume between two looks at the LSO: when both
        # show it still at the hung transaction, everything fetched in between was below it.
        blocked_checks = 0
        aborted_at = None
        deadline = time.monotonic() + HUNG_TIMEOUT_MS / 1000 + 30
        while aborted_at is None:
            assert time.monotonic() < deadline, (
                f"the hung transaction was not aborted {HUNG_TIMEOUT_MS} ms after it began "
                f"(+30 s); log end {ends_of(boot, topic, 1, READ_UNCOMMITTED)}, LSO "
                f"{ends_of(boot, topic, 1, READ_COMMITTED)}")
            lso_before = isolated_watermarks(boot, topic, 0, READ_COMMITTED)[1]
            fetched = []
            consume_into(reader, fetched, timeout=0.1)
            lso_after = isolated_watermarks(boot, topic, 0, READ_COMMITTED)[1]
            seen += fetched
            if lso_after == hung_offsets[0]:
                assert lso_before == hung_offsets[0]
                past = [r for r in fetched if r.offset >= hung_offsets[0]]
                assert not past, f"read past the open transaction's first offset: {brief(past)}"
                blocked_checks += 1
            else:
                aborted_at = time.monotonic()
        assert blocked_checks > 0, "the transaction was aborted before it could be observed open"
        # The broker kept it open for its whole timeout (measured from before it began).
        assert aborted_at - began >= HUNG_TIMEOUT_MS / 1000, aborted_at - began
        high = ends_of(boot, topic, 1, READ_UNCOMMITTED)
        assert ends_of(boot, topic, 1, READ_COMMITTED) == high
        wait_until(lambda: consume_into(reader, seen) or positions(reader, topic, 1) == high,
                   timeout=30, what=f"the read_committed reader to reach {high}")
        assert_records(seen, first + committed + last, "read_committed after the abort")
    finally:
        reader.close()
    got, _ = read_isolated(boot, topic, 1, READ_UNCOMMITTED)
    assert [r.offset for r in got if r.key.startswith(b"hung-")] == hung_offsets
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 4. Fencing


@pytest.mark.parametrize("state", ["open", "idle"])
def test_second_producer_fences_the_first(broker_factory, state):
    """`open`: the first producer has written in an open transaction when the second one
    initialises (which aborts it); `idle`: it is between transactions and begins another."""
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("txn-fence"), 1)
    transactional_id = unique_topic("fenced")
    first = transactional_producer(boot, transactional_id)
    zombie = []
    if state == "open":
        zombie = in_transaction(first, boot, topic, keyed("zombie", 1, 3), commit=None)
    else:
        in_transaction(first, boot, topic, [], commit=True)

    second = transactional_producer(boot, transactional_id)

    errors = []
    if state == "idle":
        first.begin_transaction()
        first.produce(topic, key=b"zombie", value=b"fenced", partition=0)
        try:
            # confluent-kafka raises a fatal error from flush() as soon as it is known.
            first.flush(30)
        except KafkaException as e:
            errors.append(e.args[0])
    with pytest.raises(KafkaException) as raised:
        first.commit_transaction(30)
    errors.append(raised.value.args[0])
    for error in errors:
        assert error.fatal(), f"fencing should be fatal, got {error!r}"
        assert error.code() in FENCED_CODES, f"expected a fencing error, got {error!r}"
    # A fenced producer stays fenced.
    with pytest.raises(KafkaException) as raised:
        first.abort_transaction(10)
    assert raised.value.args[0].fatal(), raised.value.args[0]
    # (close() would try to abort once more and warn about it; the client is just dropped.)
    del first

    mine = in_transaction(second, boot, topic, keyed("second", 1, 3), commit=True)
    got, _ = read_isolated(boot, topic, 1, READ_COMMITTED)
    assert_records(got, mine, "read_committed after fencing")
    got, _ = read_isolated(boot, topic, 1, READ_UNCOMMITTED)
    assert_records(got, zombie + mine, "read_uncommitted after fencing")
    second.close()
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 5. Transaction state across a restart and a kill -9

RESTART_OPEN_TIMEOUT_MS = 8000


def raw_init_producer_id(wire, transactional_id, timeout_ms=10_000, producer_id=-1, epoch=-1,
                         version=None):
    """InitProducerId sent raw: (error code, producer id, epoch)."""
    version = wire.versions(InitProducerIdRequest)[-1] if version is None else version
    r = wire.send(InitProducerIdRequest(transactional_id=transactional_id,
                                        transaction_timeout_ms=timeout_ms,
                                        producer_id=producer_id, producer_epoch=epoch),
                  InitProducerIdResponse, version)
    return r.error_code, r.producer_id, r.producer_epoch


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_transaction_state_survives_restart(broker_factory, children, how):
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("txn-restart"), 2)

    def restart():
        if how == "stop":
            assert broker.stop() == 0, broker.log_text()[-3000:]
        else:
            broker.kill()
        broker.start()

    done_id = unique_topic("done")
    p = transactional_producer(boot, done_id)
    committed, aborted = [], []
    for i in range(3):
        committed += in_transaction(p, boot, topic, keyed(f"c{i}", 2, 4), commit=True)
        aborted += in_transaction(p, boot, topic, keyed(f"a{i}", 2, 2), commit=False)
    p.close()
    with KafkaWire(boot) as wire:
        code, producer_id, epoch = raw_init_producer_id(wire, done_id)
    assert code == NONE

    open_id = unique_topic("open")
    began = time.monotonic()
    hung = children("hung-producer", {"bootstrap": boot, "topic": topic, "count": 4,
                                      "transactional_id": open_id,
                                      "timeout_ms": RESTART_OPEN_TIMEOUT_MS})
    hung.wait_for("open", timeout=30)
    hung.kill()
    (opened,) = [e for e in hung.snapshot() if e["event"] == "open"]
    open_offsets = sorted(o for _, o, _ in opened["records"])
    high_before = ends_of(boot, topic, 2, READ_UNCOMMITTED)
    assert ends_of(boot, topic, 2, READ_COMMITTED) == {0: open_offsets[0], 1: high_before[1]}

    restart()

    assert ends_of(boot, topic, 2, READ_UNCOMMITTED) == high_before
    elapsed = time.monotonic() - began
    assert elapsed < RESTART_OPEN_TIMEOUT_MS / 1000, (
        f"the restart took too long ({elapsed:.1f}s) to see the transaction still open")
    # The open transaction still holds the last stable offset, rebuilt from the log.
    assert ends_of(boot, topic, 2, READ_COMMITTED) == {0: open_offsets[0], 1: high_before[1]}
    got, _ = read_isolated(boot, topic, 2, READ_COMMITTED)
    assert_records(got, committed, "read_committed after the restart, a transaction open")

    # The transactional id kept its producer id; its epoch goes on from where it was.
    with KafkaWire(boot) as wire:
        def answered():
            result = raw_init_producer_id(wire, done_id)
            return result[0] not in RETRIABLE and result

        assert wait_until(answered, timeout=30, what="InitProducerId after the restart") == (
            NONE, producer_id, epoch + 1)

    # The transaction left open is aborted after its timeout, counted from before the restart.
    wait_until(lambda: ends_of(boot, topic, 2, READ_COMMITTED) ==
               ends_of(boot, topic, 2, READ_UNCOMMITTED),
               timeout=RESTART_OPEN_TIMEOUT_MS / 1000 + 30, interval=0.2,
               what="the open transaction to be aborted after the restart")
    assert time.monotonic() - began >= RESTART_OPEN_TIMEOUT_MS / 1000

    again = transactional_producer(boot, open_id)
    committed += in_transaction(again, boot, topic, keyed("again", 2, 3), commit=True)
    again.close()
    got, _ = read_isolated(boot, topic, 2, READ_COMMITTED)
    assert_records(got, committed, "read_committed after the abort")

    # The aborted transactions stay aborted across one more restart.
    restart()
    got, _ = read_isolated(boot, topic, 2, READ_COMMITTED)
    assert_records(got, committed, "read_committed after a second restart")
    got, _ = read_isolated(boot, topic, 2, READ_UNCOMMITTED)
    hung_keys = {f"hung-{i}".encode() for i in range(4)}
    assert sorted(r.offset for r in got if r.key in hung_keys) == open_offsets
    assert_records([r for r in got if r.key not in hung_keys], committed + aborted,
                   "read_uncommitted after a second restart")
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 6. Bad requests, raw


def end_txn(wire, version, transactional_id, producer_id, epoch, commit=True):
    return wire.send(EndTxnRequest(transactional_id=transactional_id, producer_id=producer_id,
                                   producer_epoch=epoch, committed=commit),
                     EndTxnResponse, version).error_code


def add_partitions(wire, version, transactional_id, producer_id, epoch, topics):
    """AddPartitionsToTxn in its client form (v0-v3): {(topic, partition): error code}."""
    req = AddPartitionsToTxnRequest
    r = wire.send(req(v3_and_below_transactional_id=transactional_id,
                      v3_and_below_producer_id=producer_id,
                      v3_and_below_producer_epoch=epoch,
                      v3_and_below_topics=[req.AddPartitionsToTxnTopic(name=t, partitions=ps)
                                           for t, ps in topics.items()]),
                  AddPartitionsToTxnResponse, version)
    return {(t.name, p.partition_index): p.partition_error_code
            for t in r.results_by_topic_v3_and_below for p in t.results_by_partition}


def add_offsets(wire, version, transactional_id, producer_id, epoch, group):
    return wire.send(AddOffsetsToTxnRequest(transactional_id=transactional_id,
                                            producer_id=producer_id, producer_epoch=epoch,
                                            group_id=group),
                     AddOffsetsToTxnResponse, version).error_code


def fenced_code(version, since):
    """A stale epoch's code: PRODUCER_FENCED from version `since` (KIP-588), before it
    INVALID_PRODUCER_EPOCH."""
    return PRODUCER_FENCED if version >= since else INVALID_PRODUCER_EPOCH


def test_bad_transactional_requests_get_kafka_error_codes(broker_factory):
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("txn-bad"), 2)
    missing_topic = unique_topic("no-such-topic")
    tid = unique_topic("bad")
    problems = []

    def check(what, got, expected):
        if got != expected:
            problems.append(f"{what}: got {got}, expected {expected}")

    with KafkaWire(boot) as wire:
        init_versions = wire.versions(InitProducerIdRequest)
        end_versions = wire.versions(EndTxnRequest)
        add_versions = [v for v in wire.versions(AddPartitionsToTxnRequest) if v <= 3]
        offsets_versions = wire.versions(AddOffsetsToTxnRequest)
        assert init_versions and end_versions and add_versions and offsets_versions, (
            wire.api_versions)

        # Transaction timeouts outside (0, transaction.max.timeout.ms].
        for v in init_versions:
            for timeout_ms in (MAX_TXN_TIMEOUT_MS + 1, 0, -1):
                check(f"InitProducerId v{v} timeout {timeout_ms}",
                      raw_init_producer_id(wire, tid, timeout_ms=timeout_ms, version=v),
                      (INVALID_TRANSACTION_TIMEOUT, -1, -1))
        code, pid, epoch = raw_init_producer_id(wire, tid, timeout_ms=MAX_TXN_TIMEOUT_MS)
        assert code == NONE, code

        # EndTxn with no transaction begun.
        for v in end_versions:
            for commit in (True, False):
                check(f"EndTxn v{v} commit={commit} without a transaction",
                      end_txn(wire, v, tid, pid, epoch, commit), INVALID_TXN_STATE)

        # A producer id that is not the transactional id's, and a transactional id never seen.
        for v in end_versions:
            check(f"EndTxn v{v} wrong producer id",
                  end_txn(wire, v, tid, pid + 1000, epoch), INVALID_PRODUCER_ID_MAPPING)
            check(f"EndTxn v{v} unknown transactional id",
                  end_txn(wire, v, tid + "-unknown", pid, epoch), INVALID_PRODUCER_ID_MAPPING)
        for v in add_versions:
            check(f"AddPartitionsToTxn v{v} wrong producer id",
                  add_partitions(wire, v, tid, pid + 1000, epoch, {topic: [0, 1]}),
                  {(topic, 0): INVALID_PRODUCER_ID_MAPPING,
                   (topic, 1): INVALID_PRODUCER_ID_MAPPING})
        for v in offsets_versions:
            check(f"AddOffsetsToTxn v{v} wrong producer id",
                  add_offsets(wire, v, tid, pid + 1000, epoch, "some-group"),
                  INVALID_PRODUCER_ID_MAPPING)

        # Unknown topics and partitions: none of the request's partitions is added.
        for v in add_versions:
            check(f"AddPartitionsToTxn v{v} unknown topic",
                  add_partitions(wire, v, tid, pid, epoch, {missing_topic: [0]}),
                  {(missing_topic, 0): UNKNOWN_TOPIC_OR_PARTITION})
            check(f"AddPartitionsToTxn v{v} unknown partition beside a known one",
                  add_partitions(wire, v, tid, pid, epoch, {topic: [0, 7]}),
                  {(topic, 0): OPERATION_NOT_ATTEMPTED, (topic, 7): UNKNOWN_TOPIC_OR_PARTITION})
        check("EndTxn after AddPartitionsToTxn failed (nothing was added)",
              end_txn(wire, end_versions[-1], tid, pid, epoch), INVALID_TXN_STATE)

        # A new incarnation bumps the epoch; the old epoch is fenced.
        code, pid2, epoch2 = raw_init_producer_id(wire, tid, timeout_ms=MAX_TXN_TIMEOUT_MS)
        assert (code, pid2) == (NONE, pid) and epoch2 == epoch + 1, (code, pid2, epoch2)
        for v in end_versions:
            check(f"EndTxn v{v} stale epoch", end_txn(wire, v, tid, pid, epoch),
                  fenced_code(v, 2))
        for v in add_versions:
            check(f"AddPartitionsToTxn v{v} stale epoch",
                  add_partitions(wire, v, tid, pid, epoch, {topic: [0]}),
                  {(topic, 0): fenced_code(v, 2)})
        for v in offsets_versions:
            check(f"AddOffsetsToTxn v{v} stale epoch",
                  add_offsets(wire, v, tid, pid, epoch, "some-group"), fenced_code(v, 2))
        # KIP-360: a client that names a producer id and epoch that are not the current ones.
        for v in [v for v in init_versions if v >= 3]:
            check(f"InitProducerId v{v} with another producer id",
                  raw_init_producer_id(wire, tid, producer_id=pid + 1000, epoch=epoch2,
                                       version=v),
                  (fenced_code(v, 4), -1, -1))

        # The transactional id still works at the current epoch, and a retried EndTxn of a
        # completed transaction is answered as it was; the other outcome is refused.
        check("AddPartitionsToTxn current epoch",
              add_partitions(wire, add_versions[-1], tid, pid, epoch2, {topic: [0, 1]}),
              {(topic, 0): NONE, (topic, 1): NONE})
        check("EndTxn commit", end_txn(wire, end_versions[-1], tid, pid, epoch2), NONE)
        check("EndTxn commit retried", end_txn(wire, end_versions[-1], tid, pid, epoch2), NONE)
        check("EndTxn abort after the commit",
              end_txn(wire, end_versions[-1], tid, pid, epoch2, commit=False), INVALID_TXN_STATE)

    assert not problems, "\n".join(problems)
    assert_no_panic(broker)


if __name__ == "__main__":
    _child_main(sys.argv[1], sys.argv[2])
