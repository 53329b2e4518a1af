"""Consumer groups (the classic protocol and KIP-848's) with real clients against a real broker
process.

- Three confluent-kafka members per assignment strategy (range, roundrobin, cooperative-sticky)
  share a 6-partition topic: every record is consumed exactly once and no partition has two
  owners at once; then one member, a child process, is killed with SIGKILL: its partitions move
  to the others once its session times out and they resume at its last commit (at-least-once).
  The same with librdkafka's group.protocol=consumer (KIP-848, the broker's assignor).
- kafka-python's KafkaConsumer and aiokafka's AIOKafkaConsumer join, consume, commit and leave;
  the next member of the group resumes at the committed offsets.
- Static membership (KIP-345): a member that closes or dies and comes back with the same
  group.instance.id within its session timeout gets its partitions back, with no rebalance.
- Committed offsets and groups survive a graceful broker restart and a kill -9.
- Group admin through confluent-kafka's AdminClient (and kafka-python's): list with a state
  filter, describe, delete (NON_EMPTY_GROUP for a group with members), alter and list offsets.

Members report what they are assigned, consume and commit as events (kafka_helpers.EventLog);
the checks replay those events. Every wait polls with a deadline.
"""
import asyncio
import math
import time
from collections import Counter, defaultdict

import aiokafka
import kafka
import kafka.structs
import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from conftest import wait_until
from kafka_helpers import (
    EventLog,
    MemberProcess,
    MemberThread,
    Rec,
    admin,
    assert_no_panic,
    confluent_produce,
    create_topic,
    describe_group,
    group_offsets,
    kafka_error_code,
    unique_topic,
)

# No initial rebalance delay: a first join is answered at once (Kafka's default holds it 3 s).
BROKER_CONFIG = {"group.initial.rebalance.delay.ms": "0"}
# Kafka's default group.min.session.timeout.ms.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500
# How long after a session timeout the survivors may take to rejoin and be assigned.
REASSIGN_MARGIN_S = 10.0
STATIC_SESSION_TIMEOUT_MS = 10000
# A member started with hold_header stops committing once it sees a record with this header.
HOLD = "hold-commits"


def member_conf(boot, group, **extra):
    conf = {
        "bootstrap.servers": boot,
        "group.id": group,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        # Also the rebalance timeout: a member that does not rejoin is dropped after it.
        "max.poll.interval.ms": 30000,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    }
    conf.update(extra)
    return conf


class Members:
    """The group members a test started; all of them are stopped or killed at the end."""

    def __init__(self):
        self.threads = []
        self.processes = []

    def thread(self, name, conf, topic, log):
        m = MemberThread(name, conf, topic, log)
        self.threads.append(m)
        return m

    def process(self, name, conf, topic, log, hold_header=None):
        m = MemberProcess(name, conf, topic, log, hold_header=hold_header)
        self.processes.append(m)
        return m

    def stop_threads(self):
        for m in self.threads:
            m.stop()

    def shutdown(self):
        for m in self.processes:
            m.ensure_dead()
        for m in self.threads:
            try:
                m.stop()
            except AssertionError:
                pass


@pytest.fixture
def members(broker_factory):
    # Depends on broker_factory so that members close before the brokers stop.
    m = Members()
    yield m
    m.shutdown()


def wait_for(what, observe, accept, timeout=60.0, log=None):
    """Polls `observe()` until `accept` takes what it returns; on timeout says what it saw last
    and what the members in `log` reported as errors."""
    last = [None]

    def check():
        last[0] = observe()
        return accept(last[0])

    try:
        wait_until(check, timeout=timeout, interval=0.05, what=what)
    except TimeoutError as e:
        errors = [] if log is None else [x for x in log.snapshot() if x["event"] in ERROR_EVENTS]
        raise TimeoutError(f"{e}; last seen: {last[0]!r}; member errors: {errors[:10]}") from None
    return last[0]


def or_error(fn):
    """fn(), or the error it raised: for waits that may see retriable errors (a coordinator
    still loading its groups after a restart)."""
    try:
        return fn()
    except (KafkaException, AssertionError) as e:
        return e


# ---------------------------------------------------------------------------------------------
# Replaying what members reported

OWNERSHIP_EVENTS = ("assign", "revoke", "lost")
ERROR_EVENTS = ("crash", "commit_error", "consume_error", "stdout")


def replay_ownership(events, died=None):
    """Replays assign/revoke/lost events in time order. Returns (owners: {partition: set of
    members owning it now}, intervals: {partition: [(start, end, member)]}, problems). A member
    in `died` (name -> time of death) stops owning anything when it died."""
    died = died or {}
    # A stable sort: events with equal times keep their arrival order, which per member is the
    # order they happened in.
    timeline = sorted((e for e in events if e["event"] in OWNERSHIP_EVENTS),
                      key=lambda e: e["t"])
    owned = {}
    intervals = defaultdict(list)
    problems = []
    for e in timeline:
        for p in e["partitions"]:
            key = (e["member"], p)
            if e["event"] == "assign":
                if key in owned:
                    problems.append(f"{e['member']} was assigned partition {p} twice")
                owned[key] = e["t"]
            elif key in owned:
                intervals[p].append((owned.pop(key), e["t"], e["member"]))
            else:
                problems.append(f"{e['member']} gave up partition {p} it did not own")
    owners = defaultdict(set)
    for (member, p), since in owned.items():
        if member in died:
            intervals[p].append((since, died[member], member))
        else:
            intervals[p].append((since, math.inf, member))
            owners[p].add(member)
    return owners, intervals, problems


def partitions_by_member(events, died=None):
    """{member: sorted partitions it owns now}."""
    owners, _, _ = replay_ownership(events, died)
    out = defaultdict(list)
    for p, ms in owners.items():
        for m in ms:
            out[m].append(p)
    return {m: sorted(ps) for m, ps in out.items()}


def assert_exclusive_ownership(events, died=None):
    """No partition had two owners at the same moment."""
    _, intervals, problems = replay_ownership(events, died)
    assert not problems, problems
    for p, spans in intervals.items():
        spans.sort()
        latest_end, latest_member = -math.inf, None
        for start, end, member in spans:
            assert start >= latest_end, (
                f"partition {p} owned by {latest_member} and {member} at once: {spans}")
            if end > latest_end:
                latest_end, latest_member = end, member


def assert_consumed_only_owned(events):
    """Each member consumed records only from partitions it owned at the time (replaying its
    own events, which are in the order it lived them)."""
    owned = defaultdict(set)
    for e in events:
        m = e["member"]
        if e["event"] == "assign":
            owned[m] |= set(e["partitions"])
        elif e["event"] in ("revoke", "lost"):
            owned[m] -= set(e["partitions"])
        elif e["event"] == "records":
            stray = {p for p, _, _ in e["records"]} - owned[m]
            assert not stray, f"{m} consumed from partitions {stray} it did not own"


def consumptions(events, member=None, after=-math.inf):
    """[(member, partition, offset, key, t)] for every record consumed."""
    return [(e["member"], p, o, k, e["t"]) for e in events
            if e["event"] == "records" and (member is None or e["member"] == member)
            and e["t"] > after
            for p, o, k in e["records"]]


def consumed_counts(events, members=None):
    return Counter((p, o) for m, p, o, _, _ in consumptions(events)
                   if members is None or m in members)


def generations(events):
    """{member: (generation id, member id)} as each member last reported it."""
    out = {}
    for e in events:
        if e["event"] == "generation":
            out[e["member"]] = (e["generation"], e["member_id"])
    return out


def assert_no_member_errors(events):
    bad = [e for e in events if e["event"] in ERROR_EVENTS]
    assert not bad, f"members reported errors: {bad[:10]}"


def end_offsets(produced):
    ends = {}
    for r in produced:
        ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)
    return ends


def committed(boot, group, topic):
    """{partition: committed offset} of `group` on `topic`."""
    return {p: tp.offset for (t, p), tp in group_offsets(boot, group).items() if t == topic}


def keyed(prefix, count, headers=()):
    return [Rec(None, f"{prefix}{i}".encode(), f"value {prefix}{i}".encode(), headers)
            for i in range(count)]


def assert_keys_match(events, produced):
    key_at = {(r.partition, r.offset): r.key.decode() for r in produced}
    wrong = [(m, p, o, k) for m, p, o, k, _ in consumptions(events) if key_at.get((p, o)) != k]
    assert not wrong, f"records consumed with other keys than produced: {wrong[:5]}"


# ---------------------------------------------------------------------------------------------
# 1. Three members per assignment strategy; one of them killed


PARTITIONS = 6


# KIP-848: the broker assigns (its uniform assignor); the session and heartbeat interval are the
# broker's group.consumer.* settings, and librdkafka refuses its classic-protocol keys.
CONSUMER_PROTOCOL = "consumer-protocol"
CONSUMER_PROTOCOL_BROKER = {
    **BROKER_CONFIG,
    "group.consumer.session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "group.consumer.heartbeat.interval.ms": str(HEARTBEAT_INTERVAL_MS),
}
CLASSIC_ONLY_KEYS = ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy")


def consumer_protocol_conf(conf):
    conf = {k: v for k, v in conf.items() if k not in CLASSIC_ONLY_KEYS}
    conf["group.protocol"] = "consumer"
    return conf


@pytest.mark.parametrize("strategy",
                         ["range", "roundrobin", "cooperative-sticky", CONSUMER_PROTOCOL])
def test_group_shares_partitions_and_survives_a_killed_member(broker_factory, members, strategy):
    """Two members on threads and one (the victim) in a child process. Phase 1: a stable group
    consumes every record exactly once. Phase 2: the victim consumes records but does not commit
    them, and is killed. Phase 3: its partitions reach the survivors within the session timeout
    (plus a margin); they resume at its last commit, so exactly its uncommitted records are
    consumed twice and none is lost. Throughout, no partition has two owners at once."""
    kip848 = strategy == CONSUMER_PROTOCOL
    broker = broker_factory(CONSUMER_PROTOCOL_BROKER if kip848 else BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic(f"grp-{strategy}"), PARTITIONS)
    group = unique_topic(f"group-{strategy}")
    if kip848:
        conf = consumer_protocol_conf(member_conf(boot, group))
    else:
        conf = member_conf(boot, group, **{"partition.assignment.strategy": strategy})
    log = EventLog()
    members.thread("a", conf, topic, log)
    members.thread("b", conf, topic, log)
    victim = members.process("c", conf, topic, log, hold_header=HOLD)
    survivors = {"a", "b"}

    # A stable group: the six partitions are split two by two.
    balanced = wait_for(
        "three members owning two partitions each",
        lambda: partitions_by_member(log.snapshot()),
        lambda seen: sorted(seen) == ["a", "b", "c"]
        and all(len(ps) == 2 for ps in seen.values()),
        log=log)
    assert sorted(p for ps in balanced.values() for p in ps) == list(range(PARTITIONS)), balanced
    victim_partitions = set(balanced["c"])

    # Phase 1: every record once, every partition committed to its end.
    phase1 = confluent_produce(boot, topic, keyed("one-", 3000))
    assert {r.partition for r in phase1} == set(range(PARTITIONS))
    ends1 = end_offsets(phase1)
    wanted = {(r.partition, r.offset) for r in phase1}
    wait_for("every phase-1 record consumed",
             lambda: len(wanted - set(consumed_counts(log.snapshot()))), lambda n: n == 0, log=log)
    wait_for("commits at the end of every partition",
             lambda: committed(boot, group, topic), lambda c: c == ends1, log=log)
    events = log.snapshot()
    assert_no_member_errors(events)
    counts = consumed_counts(events)
    assert set(counts) == wanted
    twice = sorted(pos for pos, n in counts.items() if n > 1)
    assert not twice, f"{len(twice)} records consumed more than once in a stable group: {twice[:5]}"

    # Phase 2: records the victim consumes but never commits (it holds commits from the first
    # record with the HOLD header on), then SIGKILL.
    held = confluent_produce(boot, topic, keyed("held-", 600, headers=((HOLD, b"1"),)))
    ends2 = end_offsets(phase1 + held)
    wanted |= {(r.partition, r.offset) for r in held}
    wait_for("every held record consumed",
             lambda: len(wanted - set(consumed_counts(log.snapshot()))), lambda n: n == 0, log=log)
    expected_commits = {p: ends1[p] if p in victim_partitions else ends2[p]
                        for p in range(PARTITIONS)}
    wait_for("the survivors commit their held records, the victim commits nothing more",
             lambda: committed(boot, group, topic), lambda c: c == expected_commits, log=log)
    victim_consumed_held = {(p, o) for _, p, o, _, _ in consumptions(log.snapshot(), "c")
                            if o >= ends1[p]}
    assert {p for p, _ in victim_consumed_held} == victim_partitions

    died_at = victim.kill()
    died = {"c": died_at}

    # Its partitions go to the survivors once its session times out.
    wait_for(
        f"the survivors owning every partition within session.timeout.ms "
        f"({SESSION_TIMEOUT_MS} ms) + {REASSIGN_MARGIN_S} s",
        lambda: partitions_by_member(log.snapshot(), died),
        lambda seen: set(seen) == survivors
        and sorted(p for ps in seen.values() for p in ps) == list(range(PARTITIONS)),
        timeout=SESSION_TIMEOUT_MS / 1000 + REASSIGN_MARGIN_S, log=log)

    phase3 = confluent_produce(boot, topic, keyed("three-", 1200))
    produced = phase1 + held + phase3
    ends3 = end_offsets(produced)
    wanted |= {(r.partition, r.offset) for r in phase3}

    def outstanding():
        events = log.snapshot()
        by_survivors = consumed_counts(events, survivors)
        redelivered = {(p, o) for p in victim_partitions for o in range(ends1[p], ends3[p])}
        return (len(wanted - set(consumed_counts(events))),
                len(redelivered - set(by_survivors)))

    wait_for("every record consumed, the victim's uncommitted ones again by a survivor",
             outstanding, lambda left: left == (0, 0), log=log)
    wait_for("commits at the end of every partition",
             lambda: committed(boot, group, topic), lambda c: c == ends3, log=log)
    stopping_at = time.monotonic()
    members.stop_threads()

    events = log.snapshot()
    assert_no_member_errors(events)
    assert_exclusive_ownership(events, died)
    assert_consumed_only_owned(events)
    assert_keys_match(events, produced)
    by_survivors = consumed_counts(events, survivors)
    by_victim = consumed_counts(events, {"c"})
    # Nothing lost.
    missing = sorted(wanted - set(by_survivors) - set(by_victim))
    assert not missing, f"{len(missing)} records never consumed: {missing[:5]}"
    # Duplicates only where the victim died before committing: the survivors resumed exactly at
    # its last commit, and nobody consumed a record twice otherwise.
    assert max(by_survivors.values()) == 1, [pos for pos, n in by_survivors.items() if n > 1][:5]
    assert max(by_victim.values()) == 1, [pos for pos, n in by_victim.items() if n > 1][:5]
    assert set(by_survivors) & set(by_victim) == victim_consumed_held
    if strategy in ("cooperative-sticky", CONSUMER_PROTOCOL):
        # Sticky: the survivors only gained partitions (classic: their owned partitions reached
        # the leader's assignor through the JoinGroup metadata; KIP-848: the broker's uniform
        # assignor keeps what members own).
        taken = [e for e in events if e["member"] in survivors
                 and died_at < e["t"] < stopping_at
                 and e["event"] in ("revoke", "lost") and e["partitions"]]
        assert not taken, f"survivors lost partitions they owned: {taken}"
    victim_commits = {}
    for e in events:
        if e["event"] == "commit" and e["member"] == "c":
            victim_commits.update({p: o for p, o in e["offsets"]})
    for p in victim_partitions:
        assert victim_commits.get(p) == ends1[p], (p, victim_commits)
        resumed = sorted(o for _, q, o, _, _ in consumptions(events, after=died_at) if q == p)
        assert resumed == list(range(ends1[p], ends3[p])), (
            f"partition {p}: after the kill consumption should run from the victim's last "
            f"commit {ends1[p]} to {ends3[p]}; got {resumed[:3]}...{resumed[-3:]}")
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 2. kafka-python and aiokafka group consumers

SMALL_PARTITIONS = 3
PER_PARTITION = 100
# Partition 2 has no commit: the next member starts it by auto.offset.reset (earliest).
EXPLICIT_COMMITS = {0: 37, 1: PER_PARTITION}


def produce_per_partition(boot, topic, partitions, count):
    return confluent_produce(boot, topic, [
        Rec(p, f"p{p}-{i}".encode(), f"value {p} {i}".encode())
        for i in range(count) for p in range(partitions)])


def kafka_python_member(boot, topic, group, want, then, timeout=60.0):
    """Joins `group` with kafka-python, polls until `want` records, runs then(consumer,
    records) and closes (LeaveGroup). Returns what `then` returned."""
    c = kafka.KafkaConsumer(
        bootstrap_servers=boot, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS, client_id="groups-kafka-python")
    try:
        # Knows the topic's partitions before its first JoinGroup. Otherwise, as leader, it
        # assigns nothing and rejoins once the metadata arrives, and kafka-python 3.0.12 can drop
        # the result of that second join: if a poll() times out while it is in flight, the next
        # poll sees the leader's new assignment snapshot, considers the member joined and never
        # applies the SyncGroup assignment (no partitions, no heartbeats). A client race.
        wait_for("kafka-python to see the topic", lambda: c.partitions_for_topic(topic),
                 lambda ps: ps == set(range(SMALL_PARTITIONS)), timeout=timeout)
        c.subscribe([topic])
        got = []
        wait_for(f"kafka-python to consume {want} records", lambda: poll_into(c, got),
                 lambda n: n >= want, timeout=timeout)
        return then(c, got)
    finally:
        c.close(autocommit=False)


def poll_into(c, got):
    for msgs in c.poll(timeout_ms=100).values():
        got.extend((m.partition, m.offset) for m in msgs)
    return len(got)


async def aiokafka_member(boot, topic, group, want, then, timeout=60.0):
    """kafka_python_member with aiokafka: `then` is a coroutine function."""
    c = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=boot, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS, client_id="groups-aiokafka")
    await c.start()
    try:
        got = []

        async def consume():
            while len(got) < want:
                for msgs in (await c.getmany(timeout_ms=100)).values():
                    got.extend((m.partition, m.offset) for m in msgs)

        try:
            await asyncio.wait_for(consume(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"aiokafka consumed {len(got)} of {want} records in {timeout}s")
        return await then(c, got)
    finally:
        await c.stop()


def assert_left_empty(boot, group):
    """The only member closed, and close() waits for the LeaveGroup response: the group is
    empty now, not after a session timeout."""
    d = describe_group(boot, group)
    assert (d.state, d.members) == (ConsumerGroupState.EMPTY, []), (d.state, d.members)


def expected_after_commits():
    out = set()
    for p in range(SMALL_PARTITIONS):
        out |= {(p, o) for o in range(EXPLICIT_COMMITS.get(p, 0), PER_PARTITION)}
    return out


def test_kafka_python_group_commits_and_resumes(broker_factory):
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("kp-group"), SMALL_PARTITIONS)
    produce_per_partition(boot, topic, SMALL_PARTITIONS, PER_PARTITION)
    group = unique_topic("kp-group")
    tp = [kafka.TopicPartition(topic, p) for p in range(SMALL_PARTITIONS)]

    def first(c, got):
        assert sorted(got) == [(p, o) for p in range(SMALL_PARTITIONS)
                               for o in range(PER_PARTITION)]
        assert c.assignment() == set(tp)
        assert c.group_metadata().generation_id >= 1, c.group_metadata()
        c.commit({tp[p]: kafka.structs.OffsetAndMetadata(o, "", -1)
                  for p, o in EXPLICIT_COMMITS.items()})
        return [c.committed(t) for t in tp]

    assert kafka_python_member(boot, topic, group, SMALL_PARTITIONS * PER_PARTITION, first) == [
        EXPLICIT_COMMITS.get(p) for p in range(SMALL_PARTITIONS)]
    assert_left_empty(boot, group)

    expected = expected_after_commits()

    def second(c, got):
        c.commit()  # what it consumed: every partition's end
        return got

    got = kafka_python_member(boot, topic, group, len(expected), second)
    assert len(got) == len(set(got)) and set(got) == expected, (
        f"resumed at {min_offsets(got)}, expected {EXPLICIT_COMMITS} (partition 2 from 0)")
    assert committed(boot, group, topic) == {p: PER_PARTITION for p in range(SMALL_PARTITIONS)}
    assert_no_panic(broker)


def test_aiokafka_group_commits_and_resumes(broker_factory):
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("aio-group"), SMALL_PARTITIONS)
    produce_per_partition(boot, topic, SMALL_PARTITIONS, PER_PARTITION)
    group = unique_topic("aio-group")
    tp = [aiokafka.TopicPartition(topic, p) for p in range(SMALL_PARTITIONS)]
    expected = expected_after_commits()

    async def first(c, got):
        assert sorted(got) == [(p, o) for p in range(SMALL_PARTITIONS)
                               for o in range(PER_PARTITION)]
        assert c.assignment() == set(tp)
        await c.commit({tp[p]: o for p, o in EXPLICIT_COMMITS.items()})
        return [await c.committed(t) for t in tp]

    async def second(c, got):
        await c.commit()
        return got

    async def scenario():
        done = await aiokafka_member(boot, topic, group, SMALL_PARTITIONS * PER_PARTITION, first)
        assert done == [EXPLICIT_COMMITS.get(p) for p in range(SMALL_PARTITIONS)]
        assert_left_empty(boot, group)
        return await aiokafka_member(boot, topic, group, len(expected), second)

    got = asyncio.run(scenario())
    assert len(got) == len(set(got)) and set(got) == expected, (
        f"resumed at {min_offsets(got)}, expected {EXPLICIT_COMMITS} (partition 2 from 0)")
    assert committed(boot, group, topic) == {p: PER_PARTITION for p in range(SMALL_PARTITIONS)}
    assert_no_panic(broker)


def min_offsets(positions):
    out = {}
    for p, o in positions:
        out[p] = min(out.get(p, o), o)
    return out


# ---------------------------------------------------------------------------------------------
# 3. Static membership


STATIC_PARTITIONS = 4


@pytest.mark.parametrize("how", ["close", "kill"])
def test_static_member_comes_back_without_a_rebalance(broker_factory, members, how):
    """librdkafka sends no LeaveGroup when a static member closes, so closing and dying look
    the same to the group: the member stays in it until its session times out. Coming back
    within that time with the same group.instance.id, it gets the same partitions in the same
    generation (and a new member id, which fences the old incarnation), and the other member
    sees no rebalance."""
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("static"), STATIC_PARTITIONS)
    group = unique_topic("static")
    conf = member_conf(boot, group, **{"session.timeout.ms": STATIC_SESSION_TIMEOUT_MS,
                                       "partition.assignment.strategy": "range"})
    log = EventLog()
    members.thread("b", {**conf, "group.instance.id": "instance-b"}, topic, log)
    first = members.process("a", {**conf, "group.instance.id": "instance-a"}, topic, log)

    dead = {}

    def state():
        events = log.snapshot()
        return partitions_by_member(events, dead), generations(events)

    owners, gens = wait_for(
        "two static members with two partitions each in one generation", state,
        lambda s: sorted(s[0]) == ["a", "b"] and all(len(ps) == 2 for ps in s[0].values())
        and sorted(s[1]) == ["a", "b"] and s[1]["a"][0] == s[1]["b"][0] >= 1, log=log)
    generation, old_member_id = gens["a"]
    settled_at = max(e["t"] for e in log.snapshot())

    produced = produce_per_partition(boot, topic, STATIC_PARTITIONS, 40)
    ends = end_offsets(produced)
    wait_for("everything consumed and committed",
             lambda: committed(boot, group, topic), lambda c: c == ends, log=log)

    down_at = time.monotonic()
    if how == "close":
        assert first.close() == 0
    else:
        dead["a"] = first.kill()
    # Records for both members while instance-a is away: its partitions wait for it.
    produced += produce_per_partition(boot, topic, STATIC_PARTITIONS, 10)
    ends2 = end_offsets(produced)
    members.process("a2", {**conf, "group.instance.id": "instance-a"}, topic, log)
    wait_for("instance-a back with partitions and a generation", state,
             lambda s: "a2" in s[0] and "a2" in s[1], log=log)
    back_at = min(e["t"] for e in log.snapshot() if e["member"] == "a2"
                  and e["event"] == "assign")
    assert back_at - down_at < STATIC_SESSION_TIMEOUT_MS / 1000, (
        "premise: instance-a must be back within its session timeout")
    wait_for("everything consumed and committed",
             lambda: committed(boot, group, topic), lambda c: c == ends2, log=log)

    events = log.snapshot()
    assert_no_member_errors(events)
    owners_now, gens_now = partitions_by_member(events, dead), generations(events)
    assert owners_now == {"a2": owners["a"], "b": owners["b"]}, (owners, owners_now)
    assert gens_now["a2"][0] == generation, (
        f"instance-a came back in generation {gens_now['a2'][0]}, was {generation}: "
        f"the group rebalanced")
    assert gens_now["a2"][1] != old_member_id, "a returning static member gets a new member id"
    b_changes = [e for e in events if e["member"] == "b" and e["t"] > settled_at
                 and e["event"] in OWNERSHIP_EVENTS + ("generation",)]
    assert not b_changes, f"the other member saw a rebalance: {b_changes}"
    # instance-a resumed at its commits.
    for p in owners["a"]:
        resumed = sorted(o for _, q, o, _, _ in consumptions(events, "a2") if q == p)
        assert resumed == list(range(ends[p], ends2[p])), (p, resumed)
    assert_exclusive_ownership(events, dead)

    d = describe_group(boot, group)
    assert d.state == ConsumerGroupState.STABLE, d.state
    by_instance = {m.group_instance_id: m for m in d.members}
    assert sorted(by_instance) == ["instance-a", "instance-b"], d.members
    assert by_instance["instance-a"].member_id == gens_now["a2"][1]
    assert by_instance["instance-b"].member_id == gens_now["b"][1]
    assert sorted(tp.partition for tp in by_instance["instance-a"].assignment.topic_partitions) \
        == owners["a"]

    if how == "kill":
        # Not coming back this time: after the session timeout the other member takes over, in a
        # new generation.
        dead["a2"] = members.processes[-1].kill()
        wait_for(
            f"instance-b owning every partition within {STATIC_SESSION_TIMEOUT_MS} ms + "
            f"{REASSIGN_MARGIN_S} s",
            lambda: partitions_by_member(log.snapshot(), dead),
            lambda seen: seen == {"b": list(range(STATIC_PARTITIONS))},
            timeout=STATIC_SESSION_TIMEOUT_MS / 1000 + REASSIGN_MARGIN_S, log=log)
        wait_for("instance-b in a new generation", lambda: generations(log.snapshot())["b"][0],
                 lambda g: g > generation, timeout=10, log=log)
        assert_no_member_errors(log.snapshot())
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 4. Offsets and groups survive broker restarts


def confluent_member_consume(boot, group, topic, want, then, timeout=60.0, **extra):
    """A confluent-kafka group member that consumes `want` records, runs then(consumer,
    records as (partition, offset)) and closes. Returns what `then` returned."""
    c = Consumer(member_conf(boot, group, **extra))
    try:
        c.subscribe([topic])
        got = []

        def poll():
            for m in c.consume(num_messages=500, timeout=0.1):
                if m.error():
                    raise KafkaException(m.error())
                got.append((m.partition(), m.offset()))
            return len(got)

        wait_for(f"confluent member to consume {want} records", poll, lambda n: n >= want,
                 timeout=timeout)
        return then(c, got)
    finally:
        c.close()


def listed_groups(boot, states=None):
    """{group id: ConsumerGroupListing} from AdminClient.list_consumer_groups (ListGroups)."""
    kwargs = {"request_timeout": 30}
    if states is not None:
        kwargs["states"] = states
    a = admin(boot)  # the client must outlive the future
    result = a.list_consumer_groups(**kwargs).result(timeout=30)
    assert not result.errors, result.errors
    return {g.group_id: g for g in result.valid}


def offsets_with_metadata(boot, group, topic):
    return {p: (tp.offset, tp.metadata) for (t, p), tp in group_offsets(boot, group).items()
            if t == topic}


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_offsets_and_groups_survive_broker_restart(broker_factory, how):
    """Committed offsets (with their metadata) and the emptied group, still a "consumer" group,
    come back from __consumer_offsets after SIGTERM or SIGKILL; the next member resumes at the
    commits, and after a second restart the latest commit of each partition wins."""
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("restart-group"), SMALL_PARTITIONS)
    produce_per_partition(boot, topic, SMALL_PARTITIONS, 50)
    group = unique_topic("restart-group")
    commits = {0: 10, 1: 27, 2: 50}
    expected = {p: (o, f"meta-{p}") for p, o in commits.items()}

    def restart():
        if how == "stop":
            assert broker.stop() == 0, f"graceful stop did not exit 0:\n{broker.log_text()[-3000:]}"
        else:
            broker.kill()
        broker.start()

    def first(c, got):
        c.commit(offsets=[TopicPartition(topic, p, o, f"meta-{p}") for p, o in commits.items()],
                 asynchronous=False)
        tps = c.committed([TopicPartition(topic, p) for p in range(SMALL_PARTITIONS)],
                          timeout=10)
        return {tp.partition: (tp.offset, tp.metadata) for tp in tps}

    assert confluent_member_consume(boot, group, topic, 150, first) == expected
    assert_left_empty(boot, group)
    assert offsets_with_metadata(boot, group, topic) == expected

    restart()

    # The coordinator may still be loading the group (retriable errors): wait for it.
    wait_for(f"group {group} listed after the restart",
             lambda: or_error(lambda: listed_groups(boot)[group].state),
             lambda s: s == ConsumerGroupState.EMPTY, timeout=30)
    assert not listed_groups(boot)[group].is_simple_consumer_group, "protocol type lost"
    d = describe_group(boot, group)
    assert (d.state, d.members, d.is_simple_consumer_group) == (
        ConsumerGroupState.EMPTY, [], False), (d.state, d.members, d.is_simple_consumer_group)
    assert offsets_with_metadata(boot, group, topic) == expected

    def second(c, got):
        c.commit(asynchronous=False)
        return got

    want = {(p, o) for p, o0 in commits.items() for o in range(o0, 50)}
    got = confluent_member_consume(boot, group, topic, len(want), second)
    assert len(got) == len(set(got)) and set(got) == want, (
        f"resumed at {min_offsets(got)}, expected {commits}")
    assert committed(boot, group, topic) == {p: 50 for p in range(SMALL_PARTITIONS)}

    # Again: the latest commit of each partition wins over the earlier ones in the log.
    restart()
    wait_for("the group's offsets after the second restart",
             lambda: or_error(lambda: committed(boot, group, topic)),
             lambda c: c == {p: 50 for p in range(SMALL_PARTITIONS)}, timeout=30)
    listing = listed_groups(boot)[group]
    assert (listing.state, listing.is_simple_consumer_group) == (ConsumerGroupState.EMPTY, False)
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# 5. Group admin


def alter_offsets(boot, group, tps):
    """AdminClient.alter_consumer_group_offsets; returns {partition: (offset, error code or
    None)}, or the error code when the whole request failed."""
    a = admin(boot)  # the client must outlive the future
    (future,) = a.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, tps)], request_timeout=30).values()
    try:
        result = future.result(timeout=30)
    except KafkaException as e:
        return kafka_error_code(e)
    return {tp.partition: (tp.offset, tp.error.code() if tp.error else None)
            for tp in result.topic_partitions}


def delete_groups(boot, groups):
    """AdminClient.delete_consumer_groups: {group: None or the error code}."""
    out = {}
    a = admin(boot)  # the client must outlive the futures
    for group, future in a.delete_consumer_groups(groups, request_timeout=30).items():
        try:
            future.result(timeout=30)
            out[group] = None
        except KafkaException as e:
            out[group] = kafka_error_code(e)
    return out


def test_group_admin(broker_factory, members):
    """AdminClient against one group with a live member and one that only has offsets:
    AlterConsumerGroupOffsets (refused while the group has members), ListConsumerGroups with
    state filters, DescribeConsumerGroups, ListConsumerGroupOffsets, DeleteConsumerGroups
    (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, and the offsets go with the group)."""
    broker = broker_factory(BROKER_CONFIG)
    boot = broker.bootstrap
    topic = create_topic(boot, unique_topic("admin-group"), 2)
    ends = end_offsets(produce_per_partition(boot, topic, 2, 20))
    active = unique_topic("active")
    idle = unique_topic("idle")
    missing = unique_topic("missing")
    log = EventLog()
    member = members.thread("m", member_conf(boot, active, **{
        "client.id": "groups-admin-member", "partition.assignment.strategy": "roundrobin"}),
        topic, log)
    wait_for("the member consumed and committed everything",
             lambda: committed(boot, active, topic), lambda c: c == ends, log=log)
    assert partitions_by_member(log.snapshot()) == {"m": [0, 1]}
    member_id = generations(log.snapshot())["m"][1]

    # Offsets of a group nobody joined: the admin commit creates it.
    assert alter_offsets(boot, idle, [TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 7)]) \
        == {0: (5, None), 1: (7, None)}
    assert committed(boot, idle, topic) == {0: 5, 1: 7}
    # A group with members refuses them (the admin is not a member of its generation).
    refused = alter_offsets(boot, active, [TopicPartition(topic, 0, 3)])
    assert refused in (KafkaError.UNKNOWN_MEMBER_ID, {0: (3, KafkaError.UNKNOWN_MEMBER_ID)}), \
        refused
    assert committed(boot, active, topic) == ends

    # ListGroups, with and without a state filter.
    groups = listed_groups(boot)
    assert groups[active].state == ConsumerGroupState.STABLE, groups[active]
    assert not groups[active].is_simple_consumer_group
    assert groups[idle].state == ConsumerGroupState.EMPTY, groups[idle]
    assert groups[idle].is_simple_consumer_group  # no protocol type: nobody ever joined
    assert missing not in groups
    stable = listed_groups(boot, {ConsumerGroupState.STABLE})
    assert active in stable and idle not in stable, sorted(stable)
    empty = listed_groups(boot, {ConsumerGroupState.EMPTY})
    assert idle in empty and active not in empty, sorted(empty)
    both = listed_groups(boot, {ConsumerGroupState.EMPTY, ConsumerGroupState.STABLE})
    assert {active, idle} <= set(both), sorted(both)

    # DescribeGroups.
    d = describe_group(boot, active)
    assert d.group_id == active
    assert d.state == ConsumerGroupState.STABLE
    assert not d.is_simple_consumer_group
    assert d.partition_assignor == "roundrobin"
    broker_ids = list(admin(boot).list_topics(timeout=10).brokers)
    assert d.coordinator.id in broker_ids, (d.coordinator, broker_ids)
    (m,) = d.members
    assert m.member_id == member_id
    assert m.client_id == "groups-admin-member"
    assert m.host, m
    assert m.group_instance_id is None
    assert sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions) == [
        (topic, 0), (topic, 1)]
    d = describe_group(boot, idle)
    assert d.state == ConsumerGroupState.EMPTY and d.members == [], (d.state, d.members)

    # kafka-python's admin reads the same (authorized-operations bitfields must decode).
    ka = kafka.KafkaAdminClient(bootstrap_servers=boot)
    try:
        described = ka.describe_groups([active])[active]
        assert described["group_state"] == "Stable", described
        assert described["protocol_type"] == "consumer", described
        assert described["protocol_data"] == "roundrobin", described
        assert [x["member_id"] for x in described["members"]] == [member_id], described
        listed = {g["group_id"]: g for g in ka.list_groups()}
        assert {active, idle} <= set(listed), listed
    finally:
        ka.close()

    # DeleteGroups: a group with members is not deleted, an empty one is, an unknown one is
    # not found.
    assert delete_groups(boot, [active, idle, missing]) == {
        active: KafkaError.NON_EMPTY_GROUP, idle: None, missing: KafkaError.GROUP_ID_NOT_FOUND}
    assert committed(boot, idle, topic) == {}
    assert idle not in listed_groups(boot)
    assert committed(boot, active, topic) == ends

    member.stop()  # librdkafka's close() waits for the LeaveGroup response
    assert_left_empty(boot, active)
    assert delete_groups(boot, [active]) == {active: None}
    assert active not in listed_groups(boot)
    assert committed(boot, active, topic) == {}
    assert_no_member_errors(log.snapshot())
    assert_no_panic(broker)
