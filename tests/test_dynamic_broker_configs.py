"""Dynamic broker configs through confluent-kafka's AdminClient (the real-client path of
`kafka-configs --entity-type brokers`): DescribeConfigs on broker "1" with each config's source,
read-only and sensitive flags; IncrementalAlterConfigs on it changes the retention of a topic
without its own retention.ms without a restart; node.id is refused; the value survives a
restart; a TLS listener's key store and the connection limits change without a restart, and bad
ones are refused. (The cluster-wide default resource "" cannot be named by the Python clients:
the Rust test crates/sluice/tests/dynamic_broker_configs.rs sends that request itself.)"""
import os
import socket
import struct

import pytest
from confluent_kafka import Producer
from confluent_kafka import KafkaError
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource

from conftest import free_port, wait_until
from kafka_helpers import (
    Rec,
    admin,
    api_versions_answered,
    assert_no_panic,
    confluent_produce,
    create_topic,
    kafka_error_code,
    unique_topic,
    watermarks,
)
from tls_helpers import Ca, certificate_der, served_certificate


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
    for key in ("advertised.listeners", "log.dirs", "node.id", "process.roles"):
        assert key in configs, key
        assert configs[key].is_read_only, key
    # Listeners are added and removed per broker (test_listeners_added_and_removed_...).
    assert not configs["listeners"].is_read_only
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


def tls_handshake_done(port, ca_path):
    try:
        served_certificate("127.0.0.1", port, ca_path, timeout=10)
        return True
    except (ConnectionError, OSError):
        return False


def refusal(a, *ops):
    with pytest.raises(Exception) as err:
        alter_broker(a, "1", *ops)
    return kafka_error_code(err.value), str(err.value)


def test_key_store_and_connection_limits_change_without_restart(broker_factory, data_root):
    tls_dir = os.path.join(data_root, "tls")
    os.makedirs(tls_dir)
    ca = Ca(tls_dir)
    first = ca.issue("broker", "broker-1")
    ports = {"PLAINTEXT": free_port(), "SSL": free_port()}
    broker = broker_factory({
        "listeners": ",".join(f"{n}://127.0.0.1:{p}" for n, p in ports.items()),
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT",
        "ssl.keystore.location": first,
        "ssl.truststore.location": ca.pem_path,
    })
    a = admin(broker.bootstrap)
    ssl_conf = {"bootstrap.servers": f"127.0.0.1:{ports['SSL']}",
                "security.protocol": "SSL", "ssl.ca.location": ca.pem_path}
    served = lambda: served_certificate("127.0.0.1", ports["SSL"], ca.pem_path)  # noqa: E731
    assert served() == certificate_der(first)
    topic = create_topic(broker.bootstrap, unique_topic("dynssl"), 1)
    producer = Producer({**ssl_conf, "acks": "all"})
    producer.produce(topic, b"before")
    assert producer.flush(30) == 0

    # A renewed key store (same names, new key) at a new path, named for the SSL listener of
    # broker 1: served to new connections at once, the open one keeps working.
    renewed = ca.issue("broker-renewed", "broker-1")
    key = "listener.name.ssl.ssl.keystore.location"
    alter_broker(a, "1", (key, renewed, AlterConfigOpType.SET))
    wait_until(lambda: served() == certificate_der(renewed), timeout=30, interval=0.2,
               what="the dynamically named key store to be served")
    producer.produce(topic, b"after")
    assert producer.flush(30) == 0
    assert confluent_produce(ssl_conf["bootstrap.servers"], topic, [Rec(0, b"k", b"new")],
                             **{k: v for k, v in ssl_conf.items() if k != "bootstrap.servers"})
    entry = describe_broker(a)[key]
    assert (entry.value, entry.source, entry.is_read_only) == (
        renewed, ConfigSource.DYNAMIC_BROKER_CONFIG.value, False)

    # Refused, each with Kafka's message, and the served certificate stays: another subject,
    # a file that is not there, the key without a listener prefix, a listener without TLS.
    other = ca.issue("intruder", "someone-else")
    code, text = refusal(a, (key, other, AlterConfigOpType.SET))
    assert code == KafkaError.INVALID_REQUEST
    assert "Keystore DistinguishedName does not match" in text, text
    code, text = refusal(a, (key, os.path.join(tls_dir, "missing.pem"), AlterConfigOpType.SET))
    assert code == KafkaError.INVALID_REQUEST and "missing.pem" in text, text
    code, text = refusal(a, ("ssl.keystore.location", renewed, AlterConfigOpType.SET))
    assert code == KafkaError.INVALID_REQUEST
    assert "only per-listener using the listener prefix" in text, text
    code, text = refusal(a, ("listener.name.plaintext.ssl.keystore.location", renewed,
                             AlterConfigOpType.SET))
    assert code == KafkaError.INVALID_REQUEST and "no SSL or SASL_SSL listener" in text, text
    assert describe_broker(a)[key].value == renewed
    assert served() == certificate_der(renewed)

    # Deleting the key goes back to the file's key store.
    alter_broker(a, "1", (key, None, AlterConfigOpType.DELETE))
    wait_until(lambda: served() == certificate_der(first), timeout=30, interval=0.2,
               what="the static key store to be served again")

    # max.connections.per.ip.overrides: one connection for 127.0.0.2, then none more.
    alter_broker(a, "1", ("max.connections.per.ip.overrides", "127.0.0.2:1",
                          AlterConfigOpType.SET))
    with socket.create_connection(("127.0.0.1", ports["PLAINTEXT"]), timeout=10,
                                  source_address=("127.0.0.2", 0)) as held:
        wait_until(lambda: not api_versions_answered(ports["PLAINTEXT"], "127.0.0.2"),
                   timeout=30, interval=0.2, what="a second connection from 127.0.0.2 refused")
        assert api_versions_answered(ports["PLAINTEXT"], "127.0.0.3")
        held.sendall(struct.pack(">i", 14) + struct.pack(">hhih", 18, 0, 1, 4) + b"test")
        assert len(held.recv(4)) == 4, "the connection within the limit is served"
    code, text = refusal(a, ("max.connections.per.ip.overrides", "somehost:2",
                             AlterConfigOpType.SET))
    assert code == KafkaError.INVALID_REQUEST and "max.connections.per.ip.overrides" in text
    alter_broker(a, "1", ("max.connections.per.ip.overrides", None, AlterConfigOpType.DELETE))
    with socket.create_connection(("127.0.0.1", ports["PLAINTEXT"]), timeout=10,
                                  source_address=("127.0.0.2", 0)):
        wait_until(lambda: api_versions_answered(ports["PLAINTEXT"], "127.0.0.2"), timeout=30,
                   interval=0.2, what="a second connection from 127.0.0.2 served again")

    # max.connections=0: the SSL listener takes no new connection; the inter-broker listener
    # (PLAINTEXT here) is not held to it, as in Kafka.
    producer.flush(10)
    del producer
    alter_broker(a, "1", ("max.connections", "0", AlterConfigOpType.SET))
    wait_until(lambda: not tls_handshake_done(ports["SSL"], ca.pem_path), timeout=30,
               interval=0.2, what="new SSL connections refused")
    assert api_versions_answered(ports["PLAINTEXT"], "127.0.0.1")
    alter_broker(a, "1", ("max.connections", None, AlterConfigOpType.DELETE))
    wait_until(lambda: tls_handshake_done(ports["SSL"], ca.pem_path), timeout=30, interval=0.2,
               what="new SSL connections served again")

    # A TLS listener added dynamically with its own key store, which is then swapped in place.
    ssl2 = free_port()
    alter_broker(
        a, "1",
        ("listeners", f"PLAINTEXT://127.0.0.1:{ports['PLAINTEXT']},SSL://127.0.0.1:{ports['SSL']},"
                      f"SSL2://127.0.0.1:{ssl2}", AlterConfigOpType.SET),
        ("listener.security.protocol.map",
         "PLAINTEXT:PLAINTEXT,SSL:SSL,SSL2:SSL,CONTROLLER:PLAINTEXT", AlterConfigOpType.SET),
        ("listener.name.ssl2.ssl.keystore.location", renewed, AlterConfigOpType.SET))
    served2 = lambda: served_certificate("127.0.0.1", ssl2, ca.pem_path)  # noqa: E731
    wait_until(lambda: tls_handshake_done(ssl2, ca.pem_path) and served2() == certificate_der(renewed),
               timeout=30, interval=0.2, what="the dynamic SSL listener with its key store")
    ssl2_conf = {"security.protocol": "SSL", "ssl.ca.location": ca.pem_path}
    assert confluent_produce(f"127.0.0.1:{ssl2}", topic, [Rec(0, b"k", b"via-ssl2")], **ssl2_conf)
    alter_broker(a, "1", ("listener.name.ssl2.ssl.keystore.location", first, AlterConfigOpType.SET))
    wait_until(lambda: served2() == certificate_der(first), timeout=30, interval=0.2,
               what="the dynamic SSL listener's new key store")

    # A listener of the config file removed (not the inter-broker one), then named again.
    plain = f"PLAINTEXT://127.0.0.1:{ports['PLAINTEXT']}"
    alter_broker(a, "1", ("listeners", f"{plain},SSL2://127.0.0.1:{ssl2}", AlterConfigOpType.SET))
    wait_until(lambda: not tls_handshake_done(ports["SSL"], ca.pem_path), timeout=30,
               interval=0.2, what="the config file's SSL listener to close")
    assert tls_handshake_done(ssl2, ca.pem_path)
    alter_broker(a, "1", ("listeners", f"{plain},SSL://127.0.0.1:{ports['SSL']},"
                                       f"SSL2://127.0.0.1:{ssl2}", AlterConfigOpType.SET))
    wait_until(lambda: tls_handshake_done(ports["SSL"], ca.pem_path), timeout=30, interval=0.2,
               what="the SSL listener back")
    assert served() == certificate_der(first)
    assert broker.proc.poll() is None, "no restart"
    assert_no_panic(broker)


def connection_served(port):
    try:
        return api_versions_answered(port, "127.0.0.1", timeout=5)
    except OSError:
        return False


def test_listeners_added_and_removed_without_restart(broker_factory):
    """Kafka's "Adding and Removing Listeners": a listener named in this broker's dynamic
    `listeners` (with its protocol in `listener.security.protocol.map`) opens without a restart,
    Metadata over it names its address, clients produce and consume through it, it is back after
    a restart, and it closes when the dynamic value goes. Existing listeners cannot move or go."""
    ports = {"PLAINTEXT": free_port(), "EXTRA": free_port()}
    static = f"PLAINTEXT://127.0.0.1:{ports['PLAINTEXT']}"
    broker = broker_factory({"listeners": static})
    a = admin(broker.bootstrap)
    extra = f"127.0.0.1:{ports['EXTRA']}"
    assert not connection_served(ports["EXTRA"])
    alter_broker(a, "1",
                 ("listeners", f"{static},EXTRA://{extra}", AlterConfigOpType.SET),
                 ("listener.security.protocol.map",
                  "PLAINTEXT:PLAINTEXT,EXTRA:PLAINTEXT,CONTROLLER:PLAINTEXT",
                  AlterConfigOpType.SET))
    wait_until(lambda: connection_served(ports["EXTRA"]), timeout=30, interval=0.2,
               what="the new listener to serve")
    entry = describe_broker(a)["listeners"]
    assert (entry.source, entry.is_read_only) == (ConfigSource.DYNAMIC_BROKER_CONFIG.value, False)

    # Metadata over the new listener names its endpoint: a client that only knows it works.
    wait_until(lambda: [b.port for b in admin(extra).list_topics(timeout=10).brokers.values()]
               == [ports["EXTRA"]], timeout=30, interval=0.2,
               what="Metadata over EXTRA to name EXTRA's port")
    topic = create_topic(extra, unique_topic("dynlistener"), 1)
    sent = confluent_produce(extra, topic, [Rec(0, b"k", b"via-extra-%d" % i) for i in range(5)])
    assert len(sent) == 5
    assert watermarks(broker.bootstrap, topic, 0) == (0, 5)

    # Existing listeners keep their address, and the inter-broker one stays.
    code, text = refusal(a, ("listeners", f"PLAINTEXT://127.0.0.1:{free_port()},EXTRA://{extra}",
                             AlterConfigOpType.SET))
    assert code == KafkaError.INVALID_REQUEST and "Listener PLAINTEXT: its address" in text, text
    code, text = refusal(a, ("listeners", f"EXTRA://{extra}", AlterConfigOpType.SET))
    assert code == KafkaError.INVALID_REQUEST and "cannot be removed" in text, text

    # A listener added dynamically may change: it is opened again with its new settings.
    moved = free_port()
    alter_broker(a, "1", ("listeners", f"{static},EXTRA://127.0.0.1:{moved}",
                          AlterConfigOpType.SET))
    wait_until(lambda: connection_served(moved) and not connection_served(ports["EXTRA"]),
               timeout=30, interval=0.2, what="EXTRA to move to its new port")
    ports["EXTRA"] = moved
    extra = f"127.0.0.1:{moved}"
    wait_until(lambda: [b.port for b in admin(extra).list_topics(timeout=10).brokers.values()]
               == [moved], timeout=30, interval=0.2, what="Metadata to name EXTRA's new port")

    # The dynamic listener is in the metadata log: it opens again after a restart.
    broker.restart()
    wait_until(lambda: connection_served(ports["EXTRA"]), timeout=60, interval=0.2,
               what="the dynamic listener after a restart")
    a = admin(broker.bootstrap)

    # Removed: it closes.
    alter_broker(a, "1", ("listeners", None, AlterConfigOpType.DELETE))
    wait_until(lambda: not connection_served(ports["EXTRA"]), timeout=30, interval=0.2,
               what="the removed listener to close")
    assert watermarks(broker.bootstrap, topic, 0) == (0, 5)
    assert_no_panic(broker)
