"""Dynamic broker configs through confluent-kafka's AdminClient (the real-client path of
`kafka-configs --entity-type brokers`): DescribeConfigs on broker "1" with each config's source,
read-only and sensitive flags; IncrementalAlterConfigs on it changes the retention of a topic
without its own retention.ms without a restart; node.id is refused; the value survives a
restart. (The cluster-wide default resource "" cannot be named by the Python clients: the Rust
test crates/sluice/tests/dynamic_broker_configs.rs sends that request itself.)"""
import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource

from conftest import wait_until
from kafka_helpers import (
    Rec,
    admin,
    assert_no_panic,
    confluent_produce,
    create_topic,
    kafka_error_code,
    unique_topic,
    watermarks,
)


def describe_broker(a, broker_id="1"):
    (f,) = a.describe_configs([ConfigResource("broker", broker_id)], request_timeout=30).values()
    return f.result(timeout=30)


def alter_broker(a, broker_id, *ops):
    res = ConfigResource("broker", broker_id, incremental_configs=[
        ConfigEntry(name, value, incremental_operation=op) for name, value, op in ops])
    (f,) = a.incremental_alter_configs([res]).values()
    return f.result(timeout=30)


def test_broker_configs_with_confluent_admin_client(broker_factory):
    broker = broker_factory({"log.retention.check.interval.ms": "100"})
    a = admin(broker.bootstrap)

    configs = describe_broker(a)
    for key in ("listeners", "advertised.listeners", "log.dirs", "node.id", "process.roles"):
        assert key in configs, key
        assert configs[key].is_read_only, key
    assert configs["node.id"].value == "1"
    assert (configs["log.retention.check.interval.ms"].value,
            configs["log.retention.check.interval.ms"].source) == (
        "100", ConfigSource.STATIC_BROKER_CONFIG.value)
    retention = configs["log.retention.ms"]
    assert retention.source == ConfigSource.DEFAULT_CONFIG.value
    assert not retention.is_read_only
    secret = configs["ssl.key.password"]
    assert secret.is_sensitive and secret.value is None

    topic = create_topic(broker.bootstrap, unique_topic("dynret"), 1)
    confluent_produce(broker.bootstrap, topic, [Rec(0, b"k", b"v%d" % i) for i in range(5)])
    assert watermarks(broker.bootstrap, topic, 0) == (0, 5)

    # The broker's own retention default: the topic without retention.ms follows it at once.
    alter_broker(a, "1", ("log.retention.ms", "1", AlterConfigOpType.SET))
    e = describe_broker(a)["log.retention.ms"]
    assert (e.value, e.source) == ("1", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    wait_until(lambda: watermarks(broker.bootstrap, topic, 0) == (5, 5), timeout=30,
               what="retention to delete the records after the dynamic change")

    # Read-only and unknown keys are refused, and nothing is applied.
    with pytest.raises(Exception) as err:
        alter_broker(a, "1", ("node.id", "7", AlterConfigOpType.SET))
    assert kafka_error_code(err.value) == KafkaError.INVALID_REQUEST
    assert "Cannot update these configs dynamically" in str(err.value)
    with pytest.raises(Exception) as err:
        alter_broker(a, "1", ("log.retention.weeks", "1", AlterConfigOpType.SET))
    assert kafka_error_code(err.value) == KafkaError.INVALID_CONFIG
    assert describe_broker(a)["node.id"].value == "1"

    # The value is in the metadata log: it survives a restart.
    broker.restart()
    a = admin(broker.bootstrap)
    e = describe_broker(a)["log.retention.ms"]
    assert (e.value, e.source) == ("1", ConfigSource.DYNAMIC_BROKER_CONFIG.value)

    # Deleting it goes back to Kafka's default.
    alter_broker(a, "1", ("log.retention.ms", None, AlterConfigOpType.DELETE))
    e = describe_broker(a)["log.retention.ms"]
    assert (e.value, e.source) == ("604800000", ConfigSource.DEFAULT_CONFIG.value)
    assert_no_panic(broker)
