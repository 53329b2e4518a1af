"""Several log directories per broker (JBOD, KIP-858) with real clients: on a three-node
cluster (replication factor 3, two log.dirs per broker) a replica moves between directories
(`sluice logdirs move`), then that directory of its broker fails while it runs (replaced by a regular file, which stops the broker as root too, unlike a
permission change). Only the replicas in it go offline: other brokers take over their
leadership, the broker keeps serving its other directory, librdkafka producers (acks=all) and
kafka-python consumers go on, and every acknowledged record is read back.
`sluice logdirs describe` shows the directory with KAFKA_STORAGE_ERROR. A move keeps to
`replica.alter.log.dirs.io.max.bytes.per.second`."""

import json
import os
import subprocess
import time
import uuid

from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic,
                                   ResourceType)

from conftest import SLUICE_BIN, Cluster, wait_until
from kafka_helpers import Rec, admin, confluent_produce, kafka_python_consume, wait_for_topic


def logdirs(bootstrap, *args):
    out = subprocess.run([SLUICE_BIN, "logdirs", *args, "-b", bootstrap, "--output", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def partition_state(client, topic):
    md = client.list_topics(topic=topic, timeout=10)
    return {p.id: (p.leader, sorted(p.isrs)) for p in md.topics[topic].partitions.values()}


def test_a_failed_log_dir_takes_only_its_replicas_offline(data_root):
    cluster = Cluster(data_root, extra={
        "log.dirs": "{data_dir}/a,{data_dir}/b",
        "replica.high.watermark.checkpoint.interval.ms": "200",
    })
    try:
        boot = cluster.bootstrap
        a = admin(boot)
        wait_until(lambda: len(a.list_topics(timeout=10).brokers) == 3, timeout=30,
                   what="three brokers")
        topic = "jbod-" + uuid.uuid4().hex[:6]
        a.create_topics([NewTopic(topic, 6, 3)])[topic].result(timeout=30)
        wait_for_topic(boot, topic, 6, client=a)
        wait_until(lambda: all(len(isr) == 3 for _, isr in partition_state(a, topic).values()),
                   timeout=30, what="full ISRs")

        before = confluent_produce(boot, topic, [
            Rec(i % 6, b"k", f"before-{i}".encode(), (), None, None) for i in range(600)])

        # Broker 2's second directory fails (the first holds the metadata log, whose loss
        # stops a node in Kafka too). First a partition broker 2 leads is moved there, online.
        state = partition_state(a, topic)
        dirs = logdirs(boot, "describe", "--broker", "2", "--topic", topic)
        assert len(dirs) == 2 and all(d["error"] == "NONE" for d in dirs), dirs
        failing = dirs[1]["path"]
        assert failing.endswith("/b"), failing
        led = next(p for p, (leader, _) in state.items() if leader == 2)
        moved_out = subprocess.run(
            [SLUICE_BIN, "logdirs", "move", "--topic", topic, "--partition", str(led),
             "--broker", "2", "--dir", failing, "-b", boot],
            capture_output=True, text=True, timeout=60)
        assert moved_out.returncode == 0, moved_out.stderr
        dirs = logdirs(boot, "describe", "--broker", "2", "--topic", topic)
        held = {d["path"]: {r["partition"] for r in d["replicas"]} for d in dirs}
        offline = held[failing]
        assert led in offline, held
        online = set(range(6)) - offline
        assert offline and online, held

        os.rename(failing, failing + ".gone")
        with open(failing, "wb") as f:
            f.write(b"not a directory any more")

        def moved():
            s = partition_state(a, topic)
            return (all(s[p][0] not in (2, -1) and 2 not in s[p][1] for p in offline)
                    and all(2 in s[p][1] for p in online))
        wait_until(moved, timeout=30, what="leadership of the offline replicas to move")
        errors = {d["path"]: d["error"]
                  for d in logdirs(boot, "describe", "--broker", "2")}
        assert errors[failing] == "KAFKA_STORAGE_ERROR", errors
        assert [e for p, e in errors.items() if p != failing] == ["NONE"], errors

        after = confluent_produce(boot, topic, [
            Rec(i % 6, b"k", f"after-{i}".encode(), (), None, None) for i in range(600)])
        got = kafka_python_consume(boot, topic, 6)
        assert sorted((r.partition, r.offset, r.value) for r in got) == \
            sorted((r.partition, r.offset, r.value) for r in before + after)
    except BaseException:
        for b in cluster.brokers:
            print("=====", b.data_dir)
            print("\n".join(line for line in b.log_text().splitlines()
                            if "WARN" in line or "ERROR" in line)[-4000:])
        raise
    finally:
        cluster.stop()


def test_a_failed_metadata_log_dir_stops_the_node(broker_factory):
    """The directory holding the metadata log fails (KIP-858): unlike any other directory, the
    node cannot go on, so it shuts down and exits with an error, saying why."""
    broker = broker_factory({
        "log.dirs": "{data_dir}/a,{data_dir}/b",
        "replica.high.watermark.checkpoint.interval.ms": "200",
    })
    topic = "meta-" + uuid.uuid4().hex[:6]
    a = admin(broker.bootstrap)
    a.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    wait_for_topic(broker.bootstrap, topic, 2, client=a)
    confluent_produce(broker.bootstrap, topic,
                      [Rec(i % 2, b"k", b"v", (), None, None) for i in range(10)])
    first = os.path.join(broker.data_dir, "a")
    assert os.path.isdir(os.path.join(first, "__cluster_metadata"))
    os.rename(first, first + ".gone")
    with open(first, "w") as f:
        f.write("not a directory")
    wait_until(lambda: broker.proc.poll() is not None, timeout=60, interval=0.2,
               what="the node to stop after its metadata log directory failed")
    assert broker.proc.returncode != 0
    log = broker.log_text()
    assert "holds the metadata log" in log, log[-3000:]
    assert "panicked" not in log


def test_a_throttled_move_between_log_dirs_keeps_to_its_rate(broker_factory):
    """`replica.alter.log.dirs.io.max.bytes.per.second` (a dynamic broker config) bounds the
    copy of a replica moving between log directories: seconds after the move started the copy
    is still a future replica; once the value is deleted the move finishes, nothing lost."""
    broker = broker_factory({"log.dirs": "{data_dir}/a,{data_dir}/b"})
    boot = broker.bootstrap
    a = admin(boot)
    topic = "jbod-throttle-" + uuid.uuid4().hex[:6]
    a.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    wait_for_topic(boot, topic, 1, client=a)
    sent = confluent_produce(boot, topic, [Rec(0, None, b"x" * 1000) for _ in range(3000)],
                             **{"batch.size": 16384})
    rate = "replica.alter.log.dirs.io.max.bytes.per.second"

    def set_rate(value):
        op = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
        resource = ConfigResource(ResourceType.BROKER, "1", incremental_configs=[
            ConfigEntry(rate, value, incremental_operation=op)])
        a.incremental_alter_configs([resource])[resource].result(timeout=30)

    def placed():
        return {(d["path"], r["future"]) for d in logdirs(boot, "describe", "--topic", topic)
                for r in d["replicas"]}

    set_rate("100000")
    [(source, _)] = placed()
    dest = next(d["path"] for d in logdirs(boot, "describe") if d["path"] != source)
    out = subprocess.run([SLUICE_BIN, "logdirs", "move", "--topic", topic, "--partition", "0",
                          "--broker", "1", "--dir", dest, "--no-wait", "-b", boot],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # The first ten one-second windows let about 1 MB through; the log is 3 MB.
    time.sleep(4)
    assert placed() == {(source, False), (dest, True)}, "the move did not keep to its rate"

    set_rate(None)
    wait_until(lambda: placed() == {(dest, False)}, timeout=60,
               what="the move to finish once the throttle is gone")
    got = kafka_python_consume(boot, topic, 1)
    assert [r.value for r in got] == [r.value for r in sent]
