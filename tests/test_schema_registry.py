"""The schema registry (issue 16) against confluent-kafka's own SchemaRegistryClient and its
Avro, Protobuf and JSON Schema serializers, and Confluent's REST API with plain HTTP: round
trips through Sluice, compatibility refusals, the documented error codes, state kept across a
restart and served by every node of a 3-node cluster, also after the writer is killed."""

import json
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from conftest import Cluster, wait_until

CT = "application/vnd.schemaregistry.v1+json"

USER_V1 = json.dumps({
    "type": "record", "name": "User", "namespace": "test",
    "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}],
})
# A field without a default: data written with v1 cannot be read (incompatible under BACKWARD).
USER_NO_DEFAULT = json.dumps({
    "type": "record", "name": "User", "namespace": "test",
    "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
               {"name": "email", "type": "string"}],
})
USER_WITH_DEFAULT = json.dumps({
    "type": "record", "name": "User", "namespace": "test",
    "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
               {"name": "email", "type": "string", "default": ""}],
})


def http(method, url, body=None, headers=None):
    """(status, parsed JSON or text) of one request."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": CT, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def produce_and_consume(bootstrap, topic, serializer, deserializer, values):
    producer = Producer({"bootstrap.servers": bootstrap})
    for v in values:
        producer.produce(topic, value=serializer(v, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + uuid.uuid4().hex,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    try:
        def read():
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                got.append(deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)))
            return len(got) >= len(values)
        wait_until(read, timeout=60, what="records back")
    finally:
        consumer.close()
    return got


def test_avro_round_trip_compatibility_and_ids(broker):
    url = broker.registry_url()
    client = SchemaRegistryClient({"url": url})
    topic = "users-" + uuid.uuid4().hex[:8]
    ser = AvroSerializer(client, USER_V1)
    de = AvroDeserializer(client)
    values = [{"name": "ada", "age": 36}, {"name": "alan", "age": 41}]
    assert produce_and_consume(broker.bootstrap, topic, ser, de, values) == values

    subject = f"{topic}-value"
    v1 = client.get_latest_version(subject)
    assert v1.version == 1
    # The same schema again, even laid out differently, keeps its id and version.
    relaid = json.dumps(json.loads(USER_V1), indent=2)
    assert client.register_schema(subject, Schema(relaid, "AVRO")) == v1.schema_id
    assert client.get_versions(subject) == [1]

    # Incompatible under the default BACKWARD: 409 with error_code 409.
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, Schema(USER_NO_DEFAULT, "AVRO"))
    assert refused.value.http_status_code == 409 and refused.value.error_code == 409
    # Compatible with a default; the compatibility endpoint agrees.
    assert client.test_compatibility(subject, Schema(USER_WITH_DEFAULT, "AVRO"))
    assert not client.test_compatibility(subject, Schema(USER_NO_DEFAULT, "AVRO"))
    v2_id = client.register_schema(subject, Schema(USER_WITH_DEFAULT, "AVRO"))
    assert v2_id != v1.schema_id
    # Accepted under NONE.
    client.set_compatibility(subject, "NONE")
    assert client.get_compatibility(subject) == "NONE"
    v3_id = client.register_schema(subject, Schema(USER_NO_DEFAULT, "AVRO"))
    assert client.get_versions(subject) == [1, 2, 3]
    assert len({v1.schema_id, v2_id, v3_id}) == 3
    # The same schema under another subject has the same id.
    assert client.register_schema("other-value", Schema(USER_V1, "AVRO")) == v1.schema_id
    status, subjects = http("GET", f"{url}/schemas/ids/{v1.schema_id}/subjects")
    assert status == 200 and sorted(subjects) == sorted([subject, "other-value"])


def test_protobuf_and_json_schema_round_trips(broker):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    url = broker.registry_url()
    client = SchemaRegistryClient({"url": url})

    # A message class made at run time (no protoc): package test, message Order {id, item}.
    fdp = descriptor_pb2.FileDescriptorProto(name="order.proto", package="test", syntax="proto3")
    msg = fdp.message_type.add(name="Order")
    msg.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                  label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    msg.field.add(name="item", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                  label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    order_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("test.Order"))

    topic = "orders-" + uuid.uuid4().hex[:8]
    ser = ProtobufSerializer(order_class, client, {"use.deprecated.format": False})
    de = ProtobufDeserializer(order_class, {"use.deprecated.format": False})
    orders = [order_class(id=1, item="book"), order_class(id=2, item="pen")]
    got = produce_and_consume(broker.bootstrap, topic, ser, de, orders)
    assert [(o.id, o.item) for o in got] == [(1, "book"), (2, "pen")]
    registered = client.get_latest_version(f"{topic}-value")
    assert registered.schema.schema_type == "PROTOBUF"
    assert "message Order" in registered.schema.schema_str

    schema = json.dumps({
        "$schema": "http://json-schema.org/draft-07/schema#", "title": "Reading", "type": "object",
        "properties": {"sensor": {"type": "string"}, "value": {"type": "number"}},
        "required": ["sensor", "value"],
    })
    topic = "readings-" + uuid.uuid4().hex[:8]
    ser = JSONSerializer(schema, client)
    de = JSONDeserializer(None, schema_registry_client=client)
    readings = [{"sensor": "a", "value": 1.5}, {"sensor": "b", "value": 2}]
    assert produce_and_consume(broker.bootstrap, topic, ser, de, readings) == readings
    assert client.get_latest_version(f"{topic}-value").schema.schema_type == "JSON"


def test_documented_errors_and_deletes(broker):
    url = broker.registry_url()
    s = f"{url}/subjects"
    avro = {"schema": USER_V1}

    status, body = http("GET", f"{s}/nope/versions")
    assert (status, body["error_code"]) == (404, 40401), body
    assert http("GET", f"{url}/schemas/ids/4242")[1]["error_code"] == 40403
    assert http("POST", f"{s}/e/versions", {"schema": "{not avro"})[1]["error_code"] == 42201
    assert http("POST", f"{s}/e/versions", {"schema": '{"type":"nosuchtype"}'})[1]["error_code"] == 42201
    assert http("POST", f"{s}/e/versions", {"schema": "x", "schemaType": "XML"})[1]["error_code"] == 42201
    assert http("POST", f"{s}/e/versions", {})[1]["error_code"] == 42201
    status, body = http("POST", f"{s}/e/versions", b"{this is not json")
    assert status == 400 and body["error_code"] == 400
    assert http("POST", f"{s}/e/versions", avro) == (200, {"id": 1})
    assert http("GET", f"{s}/e/versions/7")[1]["error_code"] == 40402
    for bad in ["0", "-2", "abc", "1.5", "99999999999"]:
        status, body = http("GET", f"{s}/e/versions/{bad}")
        assert (status, body["error_code"]) == (422, 42202), (bad, body)
    assert http("PUT", f"{url}/config", {"compatibility": "SIDEWAYS"})[1]["error_code"] == 42203
    assert http("PUT", f"{url}/mode", {"mode": "SOMETIMES"})[1]["error_code"] == 42204
    assert http("GET", f"{url}/config/e")[1]["error_code"] == 40408
    assert http("GET", f"{url}/config/e?defaultToGlobal=true") == (200, {"compatibilityLevel": "BACKWARD"})
    assert http("GET", f"{url}/config") == (200, {"compatibilityLevel": "BACKWARD"})
    assert http("PUT", f"{url}/config", {"compatibility": "full"}) == (200, {"compatibility": "FULL"})
    assert http("DELETE", f"{url}/config") == (200, {"compatibilityLevel": "FULL"})
    assert http("GET", f"{url}/config") == (200, {"compatibilityLevel": "BACKWARD"})
    assert http("GET", f"{url}/nowhere")[0] == 404
    assert http("GET", f"{url}/schemas/types") == (200, ["JSON", "PROTOBUF", "AVRO"])
    # Lookup: the registered schema is found, another is not (40403).
    status, body = http("POST", f"{s}/e", avro)
    assert status == 200 and (body["id"], body["version"]) == (1, 1)
    assert http("POST", f"{s}/e", {"schema": USER_WITH_DEFAULT})[1]["error_code"] == 40403

    # A read-only subject refuses writes (42205).
    assert http("PUT", f"{url}/mode/e", {"mode": "READONLY"}) == (200, {"mode": "READONLY"})
    assert http("POST", f"{s}/e/versions", {"schema": USER_WITH_DEFAULT})[1]["error_code"] == 42205
    assert http("DELETE", f"{url}/mode/e") == (200, {"mode": "READONLY"})

    # References: a record using another subject's named type; the referenced version
    # cannot be deleted while it is used (42206).
    address = json.dumps({"type": "record", "name": "Address", "namespace": "test",
                          "fields": [{"name": "city", "type": "string"}]})
    assert http("POST", f"{s}/address/versions", {"schema": address})[0] == 200
    person = json.dumps({"type": "record", "name": "Person", "namespace": "test",
                         "fields": [{"name": "home", "type": "test.Address"}]})
    refs = [{"name": "test.Address", "subject": "address", "version": 1}]
    status, body = http("POST", f"{s}/person/versions", {"schema": person, "references": refs})
    assert status == 200, body
    person_id = body["id"]
    assert http("GET", f"{s}/address/versions/1/referencedby") == (200, [person_id])
    assert http("GET", f"{s}/person/versions/1")[1]["references"] == refs
    assert http("DELETE", f"{s}/address/versions/1")[1]["error_code"] == 42206
    # Without the reference the type is unknown: invalid schema.
    assert http("POST", f"{s}/p2/versions", {"schema": person})[1]["error_code"] == 42201

    # Soft then hard deletes, in that order only.
    assert http("DELETE", f"{s}/e?permanent=true")[1]["error_code"] == 40405
    assert http("DELETE", f"{s}/e") == (200, [1])
    assert http("DELETE", f"{s}/e")[1]["error_code"] == 40404
    assert http("GET", f"{s}/e/versions")[1]["error_code"] == 40401
    assert http("GET", f"{s}/e/versions?deleted=true") == (200, [1])
    assert "e" not in http("GET", s)[1] and "e" in http("GET", f"{s}?deleted=true")[1]
    assert http("DELETE", f"{s}/e?permanent=true") == (200, [1])
    assert http("GET", f"{s}/e/versions?deleted=true")[1]["error_code"] == 40401
    assert http("POST", f"{s}/v/versions", avro)[0] == 200
    assert http("DELETE", f"{s}/v/versions/1?permanent=true")[1]["error_code"] == 40407
    assert http("DELETE", f"{s}/v/versions/1") == (200, 1)
    assert http("DELETE", f"{s}/v/versions/1")[1]["error_code"] == 40406
    assert http("DELETE", f"{s}/v/versions/1?permanent=true") == (200, 1)
    # A subject name with a slash (as Protobuf imports are named), percent-encoded.
    assert http("POST", f"{s}/a%2Fb.proto/versions",
                {"schema": 'syntax = "proto3"; message M { int32 x = 1; }', "schemaType": "PROTOBUF"})[0] == 200
    assert "a/b.proto" in http("GET", s)[1]


def produce_outcomes(bootstrap, topic, values, partition=None):
    """The delivery error code (None: delivered) of each value, produced one by one."""
    producer = Producer({"bootstrap.servers": bootstrap, "retries": 0, "linger.ms": 0})
    outcomes = []
    for v in values:
        got = []
        kwargs = {} if partition is None else {"partition": partition}
        producer.produce(topic, value=v, on_delivery=lambda err, _m: got.append(err), **kwargs)
        producer.flush(30)
        outcomes.append(got[0].code() if got and got[0] is not None else None)
    return outcomes


def end_offsets(bootstrap, topic, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe-" + uuid.uuid4().hex})
    try:
        return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)]
    finally:
        consumer.close()


def check_schema_validation(bootstrap, url, partitions):
    """Values of a validated topic must be registered schema-registry payloads; anything else
    is refused with INVALID_RECORD and not appended, on every partition."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = "validated-" + uuid.uuid4().hex[:8]
    admin.create_topics([NewTopic(topic, partitions, config={
        "confluent.value.schema.validation": "true"})])[topic].result(30)
    client = SchemaRegistryClient({"url": url})
    ser = AvroSerializer(client, USER_V1)
    good = ser({"name": "ok", "age": 1}, SerializationContext(topic, MessageField.VALUE))
    schema_id = int.from_bytes(good[1:5], "big")
    unregistered = b"\x00" + (schema_id + 1000).to_bytes(4, "big") + good[5:]
    for p in range(partitions):
        outcomes = produce_outcomes(bootstrap, topic, [b"plain text", unregistered, b"\x00\x00", good],
                                    partition=p)
        assert outcomes == [KafkaError.INVALID_RECORD] * 3 + [None], (p, outcomes)
    # Only the serialized records were appended.
    assert end_offsets(bootstrap, topic, partitions) == [1] * partitions
    # AlterConfigs switches it on for an existing topic; its records then need the topic's
    # own subject (an id registered under another subject is refused).
    other = "later-" + uuid.uuid4().hex[:8]
    admin.create_topics([NewTopic(other, 1)])[other].result(30)
    assert produce_outcomes(bootstrap, other, [b"plain"]) == [None]
    resource = ConfigResource("TOPIC", other, set_config={"confluent.value.schema.validation": "true"})
    admin.alter_configs([resource])[resource].result(30)
    wait_until(lambda: produce_outcomes(bootstrap, other, [b"plain"]) == [KafkaError.INVALID_RECORD],
               timeout=30, what="validation switched on")
    assert produce_outcomes(bootstrap, other, [good]) == [KafkaError.INVALID_RECORD]
    good_other = AvroSerializer(client, USER_V1)({"name": "x", "age": 2},
                                                 SerializationContext(other, MessageField.VALUE))
    assert produce_outcomes(bootstrap, other, [good_other]) == [None]


def test_broker_side_schema_validation(broker):
    check_schema_validation(broker.bootstrap, broker.registry_url(), partitions=2)


def test_state_survives_a_restart(broker):
    url = broker.registry_url()
    assert http("POST", f"{url}/subjects/kept/versions", {"schema": USER_V1}) == (200, {"id": 1})
    assert http("PUT", f"{url}/config/kept", {"compatibility": "FORWARD"})[0] == 200
    broker.restart()
    url = broker.registry_url()
    assert http("GET", f"{url}/subjects/kept/versions") == (200, [1])
    assert http("GET", f"{url}/config/kept") == (200, {"compatibilityLevel": "FORWARD"})
    # New ids continue after the old ones.
    status, body = http("POST", f"{url}/subjects/kept2/versions", {"schema": USER_WITH_DEFAULT})
    assert status == 200 and body["id"] == 2


def test_three_nodes_serve_the_same_registry_also_after_the_writer_dies(tmp_path):
    cluster = Cluster(str(tmp_path), n=3)
    try:
        urls = [b.registry_url(timeout=90) for b in cluster.brokers]
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})

        def writer():
            md = admin.list_topics("_schemas", timeout=10)
            return md.topics["_schemas"].partitions[0].leader

        leader = writer()
        others = [i for i in range(3) if i + 1 != leader]
        # Registered through a node that is not the writer (forwarded), with the Python client.
        client = SchemaRegistryClient({"url": urls[others[0]]})
        first = client.register_schema("cars-value", Schema(USER_V1, "AVRO"))
        client.set_compatibility("cars-value", "FULL")
        # Every node answers the same, at once (a write is readable where it was made).
        for url in urls:
            assert http("GET", f"{url}/schemas/ids/{first}")[0] == 200
            wait_until(lambda: http("GET", f"{url}/subjects/cars-value/versions") == (200, [1]),
                       timeout=30, what="the version on every node")
            wait_until(lambda: http("GET", f"{url}/config/cars-value")
                       == (200, {"compatibilityLevel": "FULL"}), timeout=30, what="config")

        # Schema validation where partition leaders and the registry's writer differ.
        check_schema_validation(cluster.bootstrap, urls[others[1]], partitions=3)

        cluster.brokers[leader - 1].kill()
        survivors = [urls[i] for i in others]
        wait_until(lambda: writer() not in (leader, -1), timeout=60, what="a new writer")
        for url in survivors:
            status, body = http("GET", f"{url}/subjects/cars-value/versions/1")
            assert status == 200 and body["id"] == first, body
        # Writes go on through either survivor; ids stay unique.
        status, body = http("POST", f"{survivors[1]}/subjects/cars-value/versions",
                            {"schema": USER_WITH_DEFAULT})
        assert status == 200, body
        assert body["id"] != first
        # Read your write where it was made; the other node follows its replica.
        assert http("GET", f"{survivors[1]}/subjects/cars-value/versions") == (200, [1, 2])
        wait_until(lambda: http("GET", f"{survivors[0]}/subjects/cars-value/versions")
                   == (200, [1, 2]), timeout=30, what="the new version on the other node")
    finally:
        cluster.stop()


def sluice_schema(url, *args):
    import subprocess

    from conftest import SLUICE_BIN
    return subprocess.run([SLUICE_BIN, "schema", "--registry", url, *args],
                          capture_output=True, text=True, timeout=60)


def test_cli(broker, tmp_path):
    url = broker.registry_url()
    v1 = tmp_path / "v1.avsc"
    v1.write_text(USER_V1)
    bad = tmp_path / "bad.avsc"
    bad.write_text(USER_NO_DEFAULT)

    out = sluice_schema(url, "register", "cli-value", "--file", str(v1))
    assert out.returncode == 0 and "id 1" in out.stdout, out
    assert sluice_schema(url, "list").stdout.split() == ["cli-value"]
    out = sluice_schema(url, "get", "cli-value")
    assert out.returncode == 0 and "version: 1" in out.stdout and '"User"' in out.stdout, out
    assert json.loads(sluice_schema(url, "--json", "get", "--id", "1").stdout)["schema"]
    out = sluice_schema(url, "check", "cli-value", "--schema", USER_WITH_DEFAULT)
    assert (out.returncode, out.stdout.strip()) == (0, "compatible"), out
    out = sluice_schema(url, "check", "cli-value", "--file", str(bad))
    assert out.returncode == 1 and "incompatible" in out.stdout and "email" in out.stdout, out
    out = sluice_schema(url, "config", "cli-value", "--set", "full")
    assert out.returncode == 0 and "FULL" in out.stdout, out
    assert sluice_schema(url, "config", "cli-value").stdout.strip() == "FULL"
    assert sluice_schema(url, "config").stdout.strip() == "BACKWARD"
    out = sluice_schema(url, "delete", "cli-value")
    assert out.returncode == 0 and "[1]" in out.stdout, out
    assert sluice_schema(url, "list").stdout.strip() == ""
    assert sluice_schema(url, "list", "--deleted").stdout.split() == ["cli-value"]

    # Bad input: a clear message and a failing exit code, never a panic.
    cases = [
        (("get", "nope"), "40401"),
        (("register", "x", "--schema", "{broken"), "42201"),
        (("register", "x", "--schema", "x", "--type", "XML"), "--type must be"),
        (("register", "x", "--schema", "x", "--reference", "nonsense"), "NAME=SUBJECT:VERSION"),
        (("register", "x"), "--file FILE or --schema TEXT"),
        (("register", "x", "--file", str(tmp_path / "missing.avsc")), "cannot read"),
        (("config", "--set", "sideways"), "42203"),
        (("get", "cli-value", "--version", "zero"), "42202"),
    ]
    for args, expected in cases:
        out = sluice_schema(url, *args)
        assert out.returncode != 0 and expected in out.stderr, (args, out)
        assert "panicked" not in out.stderr
    out = sluice_schema("http://127.0.0.1:1", "list")
    assert out.returncode != 0 and "cannot connect" in out.stderr, out


def test_http_basic_auth_against_the_clusters_sasl_users(tmp_path):
    """With SASL on the node's listener, the registry serves only callers who log in as one
    of the cluster's users (HTTP Basic), and refuses everyone else with 401."""
    import base64

    from conftest import Broker
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="admin" password="admin-secret" user_admin="admin-secret" '
            'user_alice="alice-secret";')
    b = Broker(str(tmp_path / "data"), extra={
        "listener.security.protocol.map": "PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.plaintext.plain.sasl.jaas.config": jaas,
    })
    b.start()
    try:
        url = b.registry_url()

        def basic(user, password):
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}

        for headers in ({}, basic("alice", "wrong"), basic("nobody", "x"),
                        {"Authorization": "Bearer abc"}):
            status, body = http("GET", f"{url}/subjects", headers=headers)
            assert status == 401 and body["error_code"] == 401, (headers, status, body)
            status, body = http("POST", f"{url}/subjects/s/versions", {"schema": USER_V1},
                                headers=headers)
            assert status == 401, (headers, status, body)
        assert http("GET", f"{url}/subjects", headers=basic("alice", "wrong"))[0] == 401
        client = SchemaRegistryClient({"url": url, "basic.auth.user.info": "alice:alice-secret"})
        schema_id = client.register_schema("s", Schema(USER_V1, "AVRO"))
        assert http("GET", f"{url}/subjects", headers=basic("admin", "admin-secret")) == (200, ["s"])
        out = sluice_schema(url, "--user", "alice", "--password", "alice-secret", "get", "--id",
                            str(schema_id))
        assert out.returncode == 0 and "User" in out.stdout, out
        out = sluice_schema(url, "--user", "alice", "--password", "nope", "list")
        assert out.returncode != 0 and "401" in out.stderr, out
        assert "nope" not in b.log_text() and "alice-secret" not in b.log_text()
    finally:
        b.stop()


def test_https_registry_with_its_own_certificate(tmp_path):
    """`schema.registry.listeners=https://...`: served with `listener.name.schema_registry.ssl.*`
    (the broker-wide store the fallback); confluent-kafka's client trusting the CA registers
    and reads through it. Without a key store it is a startup error."""
    import os
    import subprocess

    from conftest import SLUICE_BIN, Broker
    from tls_helpers import Ca, served_certificate_cn
    ca_dir = tmp_path / "tls"
    ca_dir.mkdir()
    ca = Ca(str(ca_dir))
    b = Broker(str(tmp_path / "data"), extra={
        "schema.registry.listeners": "https://127.0.0.1:0",
        "ssl.keystore.location": ca.issue("broker", "kafka-listener"),
        "listener.name.schema_registry.ssl.keystore.location": ca.issue("sr", "registry-listener"),
    }).start()
    try:
        url = b.registry_url()
        assert url.startswith("https://")
        host, port = url[len("https://"):].split(":")
        assert served_certificate_cn(host, int(port), ca.pem_path) == "registry-listener"
        client = SchemaRegistryClient({"url": url, "ssl.ca.location": ca.pem_path})
        schema_id = client.register_schema("tls-value", Schema(USER_V1, "AVRO"))
        assert client.get_schema(schema_id).schema_str
        with pytest.raises(Exception):
            SchemaRegistryClient({"url": url}).get_subjects()
    finally:
        b.stop()
    out = subprocess.run([SLUICE_BIN, "server", "--set", f"log.dirs={tmp_path / 'x'}",
                          "--set", "listeners=PLAINTEXT://127.0.0.1:0",
                          "--set", "admin.listeners=",
                          "--set", "schema.registry.listeners=https://127.0.0.1:0"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert out.returncode == 2 and "schema.registry.listeners has an https listener" in out.stderr, out


def test_three_nodes_with_https_registries_forward_writes_over_tls(tmp_path):
    """Every node's registry on https: a write sent to a node that is not the writer is
    forwarded to the writer's https registry, trusting the CA of
    listener.name.schema_registry.ssl.truststore.location; `sluice schema --ca` reads it."""
    from tls_helpers import Ca
    ca_dir = tmp_path / "tls"
    ca_dir.mkdir()
    ca = Ca(str(ca_dir))
    store = ca.issue("sr", "registry")
    (tmp_path / "c").mkdir()
    cluster = Cluster(str(tmp_path / "c"), n=3, extra={
        "schema.registry.listeners": "https://127.0.0.1:0",
        "listener.name.schema_registry.ssl.keystore.location": store,
        "listener.name.schema_registry.ssl.truststore.location": ca.pem_path,
    })
    try:
        urls = [b.registry_url(timeout=90) for b in cluster.brokers]
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        leader = admin.list_topics("_schemas", timeout=10).topics["_schemas"].partitions[0].leader
        other = next(i for i in range(3) if i + 1 != leader)
        client = SchemaRegistryClient({"url": urls[other], "ssl.ca.location": ca.pem_path})
        schema_id = client.register_schema("secure-value", Schema(USER_V1, "AVRO"))
        assert client.get_latest_version("secure-value").schema_id == schema_id
        out = sluice_schema(urls[other], "--ca", ca.pem_path, "list")
        assert out.returncode == 0 and out.stdout.split() == ["secure-value"], out
        # Without the CA the CLI cannot reach an https registry, and says so.
        out = sluice_schema(urls[other], "list")
        assert out.returncode != 0 and "https" in out.stderr, out
    finally:
        cluster.stop()
