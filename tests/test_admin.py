"""Admin APIs through confluent-kafka's AdminClient and kafka-python's KafkaAdminClient:
CreateTopics (and its errors), DescribeConfigs with sources, AlterConfigs and
IncrementalAlterConfigs, CreatePartitions, DeleteTopics, DescribeCluster, and topic
auto-creation."""
import os

import kafka
import kafka.admin as kadmin
import kafka.errors as kerrors
import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
)

from conftest import wait_until
from kafka_helpers import (
    Rec,
    admin,
    assert_no_panic,
    confluent_consume,
    confluent_produce,
    create_topic,
    kafka_error_code,
    unique_topic,
    wait_for_topic,
    wait_state,
    watermarks,
)

KAFKA_DEFAULT_RETENTION_MS = "604800000"


def create(a, *topics, **kwargs):
    """Runs CreateTopics; returns {name: None or the KafkaError code}."""
    fs = a.create_topics(list(topics), operation_timeout=30, request_timeout=30, **kwargs)
    out = {}
    for name, f in fs.items():
        try:
            f.result(timeout=30)
            out[name] = None
        except Exception as e:
            out[name] = kafka_error_code(e)
    return out


def describe_topic_configs(a, topic):
    (f,) = a.describe_configs([ConfigResource("topic", topic)], request_timeout=30).values()
    return f.result(timeout=30)


def topic_names(a):
    return set(a.list_topics(timeout=10).topics)


def partition_count(a, topic):
    t = a.list_topics(topic=topic, timeout=10).topics[topic]
    return None if t.error is not None else len(t.partitions)


def incremental(a, topic, *ops):
    res = ConfigResource("topic", topic, incremental_configs=[
        ConfigEntry(name, value, incremental_operation=op) for name, value, op in ops])
    (f,) = a.incremental_alter_configs([res]).values()
    return f.result(timeout=30)


def test_create_topics_with_configs_and_describe(broker_factory):
    # A broker-level default shows as STATIC_BROKER_CONFIG, Kafka's defaults as DEFAULT_CONFIG.
    broker = broker_factory({"log.segment.bytes": "5000000"})
    a = admin(broker.bootstrap)
    topic = unique_topic("cfg")
    configs = {"retention.ms": "123456", "cleanup.policy": "compact",
               "max.message.bytes": "2000000"}
    assert create(a, NewTopic(topic, 3, 1, config=configs)) == {topic: None}
    wait_for_topic(broker.bootstrap, topic, 3, client=a)

    entries = describe_topic_configs(a, topic)
    for name, value in configs.items():
        e = entries[name]
        assert (e.value, e.source, e.is_default) == (
            value, ConfigSource.DYNAMIC_TOPIC_CONFIG.value, False), (name, e)
    e = entries["segment.bytes"]
    assert (e.value, e.source) == ("5000000", ConfigSource.STATIC_BROKER_CONFIG.value), e
    e = entries["min.insync.replicas"]
    assert (e.value, e.source, e.is_default) == ("1", ConfigSource.DEFAULT_CONFIG.value, True), e
    e = entries["message.timestamp.type"]
    assert (e.value, e.source) == ("CreateTime", ConfigSource.DEFAULT_CONFIG.value), e

    # A topic created without configs has no DYNAMIC_TOPIC_CONFIG entry at all.
    plain = unique_topic("plain")
    assert create(a, NewTopic(plain, 1, 1)) == {plain: None}
    entries = describe_topic_configs(a, plain)
    assert entries["retention.ms"].value == KAFKA_DEFAULT_RETENTION_MS
    assert not [e for e in entries.values()
                if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value], entries

    # Unknown topic.
    with pytest.raises(Exception) as err:
        describe_topic_configs(a, unique_topic("missing"))
    assert kafka_error_code(err.value) == KafkaError.UNKNOWN_TOPIC_OR_PART

    # Overrides survive a restart.
    broker.restart()
    entries = describe_topic_configs(a, topic)
    assert {n: entries[n].value for n in configs} == configs
    assert partition_count(a, topic) == 3
    assert_no_panic(broker)


def test_create_topics_errors(broker):
    a = admin(broker.bootstrap)
    existing = create_topic(broker.bootstrap, unique_topic("exists"), 1)
    longest = "l" * 249
    cases = {
        "bad name!": (NewTopic("bad name!", 1, 1), KafkaError.TOPIC_EXCEPTION),
        "l" * 250: (NewTopic("l" * 250, 1, 1), KafkaError.TOPIC_EXCEPTION),
        ".": (NewTopic(".", 1, 1), KafkaError.TOPIC_EXCEPTION),
        "..": (NewTopic("..", 1, 1), KafkaError.TOPIC_EXCEPTION),
        "zero-partitions": (NewTopic("zero-partitions", 0, 1), KafkaError.INVALID_PARTITIONS),
        "rf-zero": (NewTopic("rf-zero", 1, 0), KafkaError.INVALID_REPLICATION_FACTOR),
        "rf-three": (NewTopic("rf-three", 1, 3), KafkaError.INVALID_REPLICATION_FACTOR),
        "bad-config-value": (NewTopic("bad-config-value", 1, 1, config={"retention.ms": "abc"}),
                             KafkaError.INVALID_CONFIG),
        "unknown-config": (NewTopic("unknown-config", 1, 1, config={"no.such.config": "1"}),
                           KafkaError.INVALID_CONFIG),
        existing: (NewTopic(existing, 1, 1), KafkaError.TOPIC_ALREADY_EXISTS),
        longest: (NewTopic(longest, 1, 1), None),
    }
    # One request, mixed outcomes: each topic gets its own result.
    got = create(a, *[t for t, _ in cases.values()])
    assert got == {name: code for name, (_, code) in cases.items()}

    names = topic_names(a)
    assert longest in names
    for name, (_, code) in cases.items():
        if code is not None and name != existing:
            assert name not in names, f"{name!r} was created despite error {code}"
    (r,) = confluent_produce(broker.bootstrap, longest, [Rec(0, b"k", b"249 chars")])
    assert r.offset == 0

    # validate_only: checked, not created.
    dry = unique_topic("dry")
    assert create(a, NewTopic(dry, 2, 1), validate_only=True) == {dry: None}
    assert create(a, NewTopic("bad name!", 1, 1), validate_only=True) == {
        "bad name!": KafkaError.TOPIC_EXCEPTION}
    assert dry not in topic_names(a)
    assert_no_panic(broker)


def test_default_partition_count_on_create(broker_factory):
    broker = broker_factory({"num.partitions": "4"})
    a = admin(broker.bootstrap)
    topic = unique_topic("defaults")
    # num_partitions=-1 and replication_factor=-1: the broker's defaults (CreateTopics v4+).
    assert create(a, NewTopic(topic)) == {topic: None}
    wait_for_topic(broker.bootstrap, topic, 4, client=a)


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated")
def test_incremental_and_legacy_alter_configs(broker):
    a = admin(broker.bootstrap)
    topic = create_topic(broker.bootstrap, unique_topic("alter"), 1,
                         {"retention.ms": "1000000", "segment.ms": "7200000"})

    incremental(a, topic,
                ("retention.ms", None, AlterConfigOpType.DELETE),
                ("max.message.bytes", "3000000", AlterConfigOpType.SET),
                ("cleanup.policy", "compact", AlterConfigOpType.APPEND))
    e = describe_topic_configs(a, topic)
    assert (e["retention.ms"].value, e["retention.ms"].source) == (
        KAFKA_DEFAULT_RETENTION_MS, ConfigSource.DEFAULT_CONFIG.value)
    assert (e["max.message.bytes"].value, e["max.message.bytes"].source) == (
        "3000000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert e["segment.ms"].value == "7200000", "an untouched override changed"
    # APPEND to a list starts from the current (here default) value.
    assert e["cleanup.policy"].value == "delete,compact"
    incremental(a, topic, ("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT))
    assert describe_topic_configs(a, topic)["cleanup.policy"].value == "compact"

    # A bad value fails the whole resource: the good SET next to it is not applied.
    with pytest.raises(Exception) as err:
        incremental(a, topic, ("segment.ms", "1", AlterConfigOpType.SET),
                    ("retention.ms", "not-a-number", AlterConfigOpType.SET))
    assert kafka_error_code(err.value) == KafkaError.INVALID_CONFIG
    with pytest.raises(Exception) as err:
        incremental(a, topic, ("no.such.config", "1", AlterConfigOpType.SET))
    assert kafka_error_code(err.value) == KafkaError.INVALID_CONFIG
    assert describe_topic_configs(a, topic)["segment.ms"].value == "7200000"
    with pytest.raises(Exception) as err:
        incremental(a, unique_topic("missing"), ("retention.ms", "1", AlterConfigOpType.SET))
    assert kafka_error_code(err.value) == KafkaError.UNKNOWN_TOPIC_OR_PART

    # Legacy AlterConfigs replaces the whole set of overrides.
    res = ConfigResource("topic", topic, set_config={"retention.ms": "5555"})
    (f,) = a.alter_configs([res]).values()
    f.result(timeout=30)
    e = describe_topic_configs(a, topic)
    overrides = {n: x.value for n, x in e.items()
                 if x.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
    assert overrides == {"retention.ms": "5555"}

    broker.restart()
    e = describe_topic_configs(a, topic)
    assert {n: x.value for n, x in e.items()
            if x.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value} == {"retention.ms": "5555"}
    assert_no_panic(broker)


def test_create_partitions(broker):
    boot = broker.bootstrap
    a = admin(boot)
    topic = create_topic(boot, unique_topic("grow"), 1)
    confluent_produce(boot, topic, [Rec(0, b"k", b"before")])

    def grow(name, count):
        (f,) = a.create_partitions([NewPartitions(name, count)], operation_timeout=30,
                                   request_timeout=30).values()
        try:
            f.result(timeout=30)
            return None
        except Exception as e:
            return kafka_error_code(e)

    assert grow(topic, 3) is None
    wait_for_topic(boot, topic, 3, client=a)
    assert grow(topic, 2) == KafkaError.INVALID_PARTITIONS
    assert grow(topic, 3) == KafkaError.INVALID_PARTITIONS
    assert grow(unique_topic("missing"), 2) == KafkaError.UNKNOWN_TOPIC_OR_PART

    produced = confluent_produce(boot, topic, [Rec(p, b"k", b"after-%d" % p) for p in range(3)])
    assert [(r.partition, r.offset) for r in produced] == [(0, 1), (1, 0), (2, 0)]
    broker.restart()
    assert partition_count(a, topic) == 3
    assert [(r.partition, r.offset, r.value) for r in confluent_consume(boot, topic, 3)] == [
        (0, 0, b"before"), (0, 1, b"after-0"), (1, 0, b"after-1"), (2, 0, b"after-2")]
    assert_no_panic(broker)


def test_delete_topics(broker):
    boot = broker.bootstrap
    a = admin(boot)
    topic = create_topic(boot, unique_topic("doomed"), 3)
    confluent_produce(boot, topic, [Rec(p, b"k", b"v") for p in range(3) for _ in range(5)])

    def delete(name):
        (f,) = a.delete_topics([name], operation_timeout=30, request_timeout=30).values()
        try:
            f.result(timeout=30)
            return None
        except Exception as e:
            return kafka_error_code(e)

    assert delete(topic) is None
    wait_until(lambda: topic not in topic_names(a), timeout=30, what="the topic to go")
    wait_state(lambda: sorted(d for d in os.listdir(broker.data_dir)
                              if d.startswith(f"{topic}-")), [],
               "the deleted topic's partition directories to go")
    assert delete(topic) == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert delete(unique_topic("never")) == KafkaError.UNKNOWN_TOPIC_OR_PART

    # Deleted stays deleted across a restart.
    broker.restart()
    assert topic not in topic_names(a)
    # The same name again is a new, empty topic.
    create_topic(boot, topic, 1)
    assert watermarks(boot, topic, 0) == (0, 0)
    (r,) = confluent_produce(boot, topic, [Rec(0, b"k", b"reborn")])
    assert r.offset == 0
    assert [x.value for x in confluent_consume(boot, topic, 1)] == [b"reborn"]
    assert_no_panic(broker)


def test_describe_cluster(broker):
    a = admin(broker.bootstrap)
    d = a.describe_cluster(request_timeout=30).result(timeout=30)
    assert d.cluster_id
    assert len(d.nodes) == 1
    node = d.nodes[0]
    assert (node.host, node.port) == ("127.0.0.1", broker.port)
    assert d.controller is not None and d.controller.id == node.id
    cluster_id = d.cluster_id
    broker.restart()
    d = a.describe_cluster(request_timeout=30).result(timeout=30)
    assert d.cluster_id == cluster_id, "the cluster id changed across a restart"


# ---------------------------------------------------------------------------------------------
# kafka-python's KafkaAdminClient


def test_kafka_python_admin(broker):
    boot = broker.bootstrap
    a = kadmin.KafkaAdminClient(bootstrap_servers=boot)
    try:
        topic = unique_topic("kp-admin")
        a.create_topics([kadmin.NewTopic(topic, 2, 1, topic_configs={"retention.ms": "5000"})])
        wait_until(lambda: topic in a.list_topics(), timeout=30, what="the topic to show")
        with pytest.raises(kerrors.TopicAlreadyExistsError):
            a.create_topics([kadmin.NewTopic(topic, 2, 1)])
        with pytest.raises(kerrors.InvalidPartitionsError):
            a.create_topics([kadmin.NewTopic(unique_topic("kp-zero"), 0, 1)])

        # kafka-python 3.x: {resource type: {resource name: {key: {value, config_source, ...}}}}.
        described = a.describe_configs(
            [kadmin.ConfigResource(kadmin.ConfigResourceType.TOPIC, topic)], config_filter="all")
        configs = described["topic"][topic]
        assert configs["retention.ms"]["value"] == "5000"
        assert configs["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
        assert configs["retention.ms"]["config_type"] == "LONG"
        assert configs["cleanup.policy"]["value"] == "delete"
        assert configs["cleanup.policy"]["config_source"] == "DEFAULT_CONFIG"

        a.create_partitions({topic: kadmin.NewPartitions(4)})
        wait_for_topic(boot, topic, 4)

        a.delete_topics([topic])
        wait_until(lambda: topic not in a.list_topics(), timeout=30, what="the topic to go")
        with pytest.raises(kerrors.UnknownTopicOrPartitionError):
            a.delete_topics([topic])
    finally:
        a.close()
    assert_no_panic(broker)


# ---------------------------------------------------------------------------------------------
# Auto-creation


def test_auto_create_uses_num_partitions(broker_factory):
    broker = broker_factory({"num.partitions": "3"})
    boot = broker.bootstrap
    a = admin(boot)
    # librdkafka: producing to an unknown topic makes it ask for it with auto-creation on.
    topic = unique_topic("auto-rdkafka")
    produced = confluent_produce(boot, topic, [Rec(None, b"k%d" % i, b"v") for i in range(30)])
    assert partition_count(a, topic) == 3
    assert {r.partition for r in produced} <= {0, 1, 2}
    assert sorted(r.offset for r in produced if r.partition == produced[0].partition)[0] == 0

    # kafka-python: the same through its own metadata path.
    topic = unique_topic("auto-kp")
    p = kafka.KafkaProducer(bootstrap_servers=boot)
    try:
        md = p.send(topic, b"hello").get(timeout=30)
        assert md.offset == 0
        assert p.partitions_for(topic) == {0, 1, 2}
    finally:
        p.close()
    assert partition_count(a, topic) == 3
    entries = describe_topic_configs(a, topic)
    assert not [e for e in entries.values()
                if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value]
    assert_no_panic(broker)


def test_auto_create_disabled(broker_factory):
    broker = broker_factory({"auto.create.topics.enable": "false"})
    boot = broker.bootstrap
    a = admin(boot)
    topic = unique_topic("no-auto")

    # Metadata for it says UNKNOWN_TOPIC_OR_PARTITION...
    t = a.list_topics(topic=topic, timeout=10).topics[topic]
    assert t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, t.error

    # ...and so does a producer's delivery report.
    errors = []
    p = Producer({"bootstrap.servers": boot, "message.timeout.ms": 10000,
                  "topic.metadata.propagation.max.ms": 1000})
    p.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(30) == 0
    assert len(errors) == 1 and errors[0] is not None, errors
    assert errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC), \
        errors[0]

    # kafka-python cannot get metadata for it either.
    kp = kafka.KafkaProducer(bootstrap_servers=boot, max_block_ms=3000)
    try:
        with pytest.raises(kerrors.KafkaTimeoutError):
            kp.send(topic, b"v").get(timeout=10)
    finally:
        kp.close()
    assert topic not in topic_names(a)
    assert not any(d.startswith(topic) for d in os.listdir(broker.data_dir))
    # Explicit creation still works.
    create_topic(boot, topic, 2)
    assert partition_count(a, topic) == 2
    assert_no_panic(broker)
