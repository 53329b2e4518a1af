"""The REST proxy (issue 16 point 3, docs/rest-proxy.md): Confluent's REST Proxy API v2 and v3 on
`rest.proxy.listeners`, with `requests` as the HTTP client and confluent-kafka on the Kafka side.

v2 produce (json and binary) read back through consumer instances (subscribed and assigned),
commits seen by a Kafka client, seeks; v3 record produce (one record, and the streaming form)
read by a Kafka consumer; every documented error code; idle instances expiring; a 3-node
cluster (produce through one node's proxy to partitions other nodes lead, a consumer instance on
a third); and SASL with ACLs (401 without credentials, 403 without WRITE)."""
import base64
import json
import os
import re
import socket
import subprocess
import tempfile

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from conftest import SLUICE_BIN, Broker, Cluster, wait_until
from kafka_helpers import (
    admin,
    assert_no_panic,
    confluent_consume,
    create_topic,
    describe_group,
    unique_topic,
)
from tls_helpers import Ca, served_certificate_cn

REST_LISTENER = re.compile(r"rest proxy listener serving (https?://127\.[\d.]+:\d+)")
V2 = "application/vnd.kafka.v2+json"
BINARY = "application/vnd.kafka.binary.v2+json"
JSON = "application/vnd.kafka.json.v2+json"
INSTANCE_TIMEOUT_MS = 4000


def rest_url(broker, timeout=60.0):
    """The REST proxy's base URL of the process launched last (logged at start)."""
    def logged():
        m = REST_LISTENER.search(broker.log_text())
        return m and m.group(1)

    return wait_until(logged, timeout=timeout, what="rest proxy listener")


def b64(data):
    return base64.b64encode(data).decode()


def post(url, body, content_type=V2, **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(url, data=data, headers={"Content-Type": content_type}, timeout=30, **kw)


def expect_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error_code"] == code and body["message"], body
    return body


def read_until(url, count, accept, timeout=30.0, **kw):
    """GETs `url` (a consumer instance's records) until `count` records came; returns them."""
    got = []

    def enough():
        r = requests.get(url, params={"timeout": 500}, headers={"Accept": accept}, timeout=30,
                         **kw)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == accept, r.headers
        got.extend(r.json())
        return len(got) >= count

    wait_until(enough, timeout=timeout, interval=0.01, what=f"{count} records from {url}")
    return got


def new_instance(base, group, **config):
    r = post(f"{base}/consumers/{group}", config)
    assert r.status_code == 200, r.text
    body = r.json()
    uri = body["base_uri"]
    assert uri == f"{base}/consumers/{group}/instances/{body['instance_id']}", body
    return uri


@pytest.fixture(scope="module")
def node():
    with tempfile.TemporaryDirectory(prefix="sluice-rest-") as root:
        b = Broker(os.path.join(root, "data"), extra={
            "auto.create.topics.enable": "true",
            "rest.proxy.consumer.instance.timeout.ms": str(INSTANCE_TIMEOUT_MS),
            "group.consumer.heartbeat.interval.ms": "500",
        })
        b.start()
        b.rest = rest_url(b)
        try:
            yield b
        finally:
            assert_no_panic(b)
            try:
                b.stop(timeout=15)
            except Exception:
                b.kill()


def test_v2_produce_json_and_binary_and_read_them_back(node):
    base = node.rest
    tj = create_topic(node.bootstrap, unique_topic("rest-json"), partitions=3)
    tb = create_topic(node.bootstrap, unique_topic("rest-bin"), partitions=2)
    assert {tj, tb} <= set(requests.get(f"{base}/topics", timeout=30).json())
    described = requests.get(f"{base}/topics/{tj}", timeout=30).json()
    assert described["name"] == tj and len(described["partitions"]) == 3, described
    assert described["configs"]["cleanup.policy"] == "delete", described
    assert described["partitions"][0]["replicas"][0]["in_sync"] is True, described
    assert requests.get(f"{base}/topics/{tj}/partitions/2", timeout=30).json()["partition"] == 2
    assert len(requests.get(f"{base}/topics/{tj}/partitions", timeout=30).json()) == 3

    # json: keys and values are JSON values; partitions chosen by key, or given.
    values = [{"n": i, "tags": ["a", i]} for i in range(6)]
    r = post(f"{base}/topics/{tj}",
             {"records": [{"key": f"k{i}", "value": v} for i, v in enumerate(values)]
              + [{"value": "fixed", "partition": 1}]}, JSON)
    assert r.status_code == 200 and r.headers["Content-Type"] == V2, r.text
    answer = r.json()
    assert answer["key_schema_id"] is None and answer["value_schema_id"] is None, answer
    assert len(answer["offsets"]) == 7, answer
    assert all(o["error_code"] is None and o["error"] is None and o["offset"] >= 0
               for o in answer["offsets"]), answer
    assert answer["offsets"][-1]["partition"] == 1, answer
    # The same key always lands on the same partition (murmur2, as Kafka's producer).
    again = post(f"{base}/topics/{tj}", {"records": [{"key": "k0", "value": 0}]}, JSON).json()
    assert again["offsets"][0]["partition"] == answer["offsets"][0]["partition"], again

    # binary: base64 keys and values, to a partition by path.
    r = post(f"{base}/topics/{tb}/partitions/1",
             {"records": [{"key": b64(b"bk"), "value": b64(bytes([0, 255, i]))}
                          for i in range(3)] + [{"value": None}]}, BINARY)
    assert r.status_code == 200, r.text
    assert [o["offset"] for o in r.json()["offsets"]] == [0, 1, 2, 3], r.text
    assert {o["partition"] for o in r.json()["offsets"]} == {1}, r.text

    # A json instance subscribed to tj, reading from the earliest offset.
    group = unique_topic("rest-group")
    uri = new_instance(base, group, name="json-1", format="json",
                       **{"auto.offset.reset": "earliest", "auto.commit.enable": "false"})
    r = post(f"{uri}/subscription", {"topics": [tj]})
    assert r.status_code == 204, r.text
    assert requests.get(f"{uri}/subscription", timeout=30).json() == {"topics": [tj]}
    got = read_until(f"{uri}/records", 8, JSON)
    assert len(got) == 8, got
    assert sorted((json.dumps(r["value"]) for r in got)) == sorted(
        [json.dumps(v) for v in values] + ['"fixed"', "0"]), got
    assert all(r["topic"] == tj for r in got), got
    keyed = {r["key"]: r["value"] for r in got if r["key"] is not None and r["value"] != 0}
    assert keyed == {f"k{i}": v for i, v in enumerate(values)}, got
    # Its assignment is every partition of the topic (the only member).
    parts = requests.get(f"{uri}/assignments", timeout=30).json()["partitions"]
    assert sorted(p["partition"] for p in parts) == [0, 1, 2], parts
    assert describe_group(node.bootstrap, group).members, "the instance is a group member"

    # Commit what was read (no body: the positions), seen by a Kafka client's committed().
    r = post(f"{uri}/offsets", b"")
    assert r.status_code == 200, r.text
    ends = {}
    for rec in got:
        ends[rec["partition"]] = max(ends.get(rec["partition"], -1), rec["offset"] + 1)
    c = Consumer({"bootstrap.servers": node.bootstrap, "group.id": group})
    try:
        committed = c.committed([TopicPartition(tj, p) for p in range(3)], timeout=30)
    finally:
        c.close()
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == ends, committed
    # An explicit commit names the last offset consumed (Confluent's meaning: +1 is stored).
    r = post(f"{uri}/offsets", {"offsets": [{"topic": tj, "partition": 1, "offset": 0}]})
    assert r.status_code == 200, r.text
    r = requests.get(f"{uri}/offsets", data=json.dumps(
        {"partitions": [{"topic": tj, "partition": 1}]}), headers={"Content-Type": V2},
        timeout=30)
    assert r.json() == {"offsets": [{"topic": tj, "partition": 1, "offset": 1,
                                     "metadata": ""}]}, r.text

    # A binary instance with an assignment: reads, seeks to the beginning, reads again.
    uri2 = new_instance(base, group + "-b", format="binary",
                        **{"auto.offset.reset": "earliest"})
    r = post(f"{uri2}/assignments", {"partitions": [{"topic": tb, "partition": 1}]})
    assert r.status_code == 204, r.text
    assert requests.get(f"{uri2}/assignments", timeout=30).json() == {
        "partitions": [{"topic": tb, "partition": 1}]}
    first = read_until(f"{uri2}/records", 4, BINARY)
    assert [(r["key"], r["value"], r["offset"]) for r in first] == [
        (b64(b"bk"), b64(bytes([0, 255, i])), i) for i in range(3)] + [(None, None, 3)], first
    r = post(f"{uri2}/positions/beginning", {"partitions": [{"topic": tb, "partition": 1}]})
    assert r.status_code == 204, r.text
    assert [r["offset"] for r in read_until(f"{uri2}/records", 4, BINARY)] == [0, 1, 2, 3]
    r = post(f"{uri2}/positions", {"offsets": [{"topic": tb, "partition": 1, "offset": 2}]})
    assert r.status_code == 204, r.text
    assert [r["offset"] for r in read_until(f"{uri2}/records", 2, BINARY)] == [2, 3]
    r = post(f"{uri2}/positions/end", {"partitions": [{"topic": tb, "partition": 1}]})
    assert r.status_code == 204, r.text
    post(f"{base}/topics/{tb}/partitions/1", {"records": [{"value": b64(b"late")}]}, BINARY)
    assert [r["value"] for r in read_until(f"{uri2}/records", 1, BINARY)] == [b64(b"late")]

    for u in (uri, uri2):
        assert requests.delete(u, timeout=30).status_code == 204
        expect_error(requests.get(f"{u}/assignments", timeout=30), 404, 40403)
    # Deleting the subscribed instance left the group.
    wait_until(lambda: not describe_group(node.bootstrap, group).members, timeout=30,
               what="the group to have no members")


def test_v3_clusters_topics_and_record_produce(node):
    base = node.rest
    clusters = requests.get(f"{base}/v3/clusters", timeout=30).json()
    assert clusters["kind"] == "KafkaClusterList", clusters
    (cluster,) = clusters["data"]
    cid = cluster["cluster_id"]
    md = admin(node.bootstrap).list_topics(timeout=10)
    assert cid == md.cluster_id, (cid, md.cluster_id)
    assert cluster["metadata"]["self"] == f"{base}/v3/clusters/{cid}", cluster
    assert requests.get(f"{base}/v3/clusters/{cid}", timeout=30).json()["cluster_id"] == cid

    topic = unique_topic("rest-v3")
    r = post(f"{base}/v3/clusters/{cid}/topics",
             {"topic_name": topic, "partitions_count": 2,
              "configs": [{"name": "retention.ms", "value": "3600000"}]}, "application/json")
    assert r.status_code == 201, r.text
    assert r.json()["partitions_count"] == 2 and r.json()["topic_name"] == topic, r.text
    wait_until(lambda: requests.get(f"{base}/v3/clusters/{cid}/topics/{topic}",
                                    timeout=30).status_code == 200, what="the topic")
    names = [t["topic_name"] for t in
             requests.get(f"{base}/v3/clusters/{cid}/topics", timeout=30).json()["data"]]
    assert topic in names, names
    parts = requests.get(f"{base}/v3/clusters/{cid}/topics/{topic}/partitions", timeout=30).json()
    assert [p["partition_id"] for p in parts["data"]] == [0, 1], parts
    assert requests.get(f"{base}/v3/clusters/{cid}/topics/{topic}/partitions/1",
                        timeout=30).json()["partition_id"] == 1
    wait_until(lambda: all(p.leader >= 0 for p in admin(node.bootstrap).list_topics(
        topic, timeout=10).topics[topic].partitions.values()), what="leaders")

    records = f"{base}/v3/clusters/{cid}/topics/{topic}/records"
    r = post(records, {"partition_id": 1, "key": {"type": "STRING", "data": "k1"},
                       "value": {"type": "JSON", "data": {"a": [1, 2]}},
                       "headers": [{"name": "h", "value": b64(b"hv")}],
                       "timestamp": "2026-01-02T03:04:05.678Z"}, "application/json")
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["error_code"] == 200 and one["cluster_id"] == cid and one["topic_name"] == topic
    assert one["partition_id"] == 1 and one["offset"] == 0, one
    assert one["key"] == {"type": "STRING", "size": 2}, one
    assert one["value"] == {"type": "JSON", "size": len(b'{"a":[1,2]}')}, one
    assert one["timestamp"] == "2026-01-02T03:04:05.678Z", one

    # Streaming: several records in one body, sent in chunks; one result per record.
    def chunks():
        for i in range(5):
            text = json.dumps({"partition_id": 0,
                               "value": {"type": "BINARY", "data": b64(b"s%d" % i)}})
            yield text[:10].encode()
            yield (text[10:] + "\n").encode()
        yield b'{"partition_id": 0, "value": {"type": "BINARY", "data": "not base64!"}}'

    r = requests.post(records, data=chunks(), headers={"Content-Type": "application/json"},
                      timeout=30)
    assert r.status_code == 200, r.text
    results = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    assert [x["offset"] for x in results[:5]] == [0, 1, 2, 3, 4], results
    assert all(x["error_code"] == 200 and x["value"]["type"] == "BINARY" for x in results[:5])
    assert results[5]["error_code"] in (400, 422) and "base64" in results[5]["message"], results

    got = confluent_consume(node.bootstrap, topic, 2)
    by_partition = {(r.partition, r.offset): r for r in got}
    first = by_partition[(1, 0)]
    assert first.key == b"k1" and json.loads(first.value) == {"a": [1, 2]}, first
    assert first.headers == (("h", b"hv"),) and first.timestamp == 1767323045678, first
    assert [by_partition[(0, i)].value for i in range(5)] == [b"s%d" % i for i in range(5)]

    assert requests.delete(f"{base}/v3/clusters/{cid}/topics/{topic}", timeout=30).status_code \
        == 204
    wait_until(lambda: requests.get(f"{base}/v3/clusters/{cid}/topics/{topic}",
                                    timeout=30).status_code == 404, what="the topic gone")


def test_documented_error_codes(node):
    base = node.rest
    topic = create_topic(node.bootstrap, unique_topic("rest-err"), partitions=2)
    cid = requests.get(f"{base}/v3/clusters", timeout=30).json()["data"][0]["cluster_id"]

    # A missing topic: 404 and 40401 (v2), 404 (v3); never created, although the broker
    # auto-creates topics for Kafka clients.
    missing = unique_topic("rest-missing")
    expect_error(post(f"{base}/topics/{missing}", {"records": [{"value": b64(b"x")}]}, BINARY),
                 404, 40401)
    expect_error(post(f"{base}/topics/{missing}/partitions/0", {"records": [{"value": 1}]},
                      JSON), 404, 40401)
    expect_error(requests.get(f"{base}/topics/{missing}", timeout=30), 404, 40401)
    expect_error(post(f"{base}/v3/clusters/{cid}/topics/{missing}/records",
                      {"value": {"data": 1}}, "application/json"), 404, 404)
    expect_error(requests.get(f"{base}/v3/clusters/{cid}/topics/{missing}", timeout=30), 404,
                 404)
    assert missing not in admin(node.bootstrap).list_topics(timeout=10).topics

    # A missing partition: 40402.
    expect_error(post(f"{base}/topics/{topic}/partitions/7", {"records": [{"value": 1}]}, JSON),
                 404, 40402)
    expect_error(post(f"{base}/topics/{topic}", {"records": [{"value": 1, "partition": 9}]},
                      JSON), 404, 40402)
    expect_error(requests.get(f"{base}/topics/{topic}/partitions/5", timeout=30), 404, 40402)
    expect_error(requests.get(f"{base}/v3/clusters/{cid}/topics/{topic}/partitions/5",
                              timeout=30), 404, 404)
    # An unknown cluster id (v3).
    expect_error(requests.get(f"{base}/v3/clusters/nope/topics", timeout=30), 404, 404)

    # Bodies that cannot be read: 422 (42201).
    expect_error(post(f"{base}/topics/{topic}", b"{not json", JSON), 422, 42201)
    expect_error(post(f"{base}/topics/{topic}", {"no": "records"}, JSON), 422, 42201)
    expect_error(post(f"{base}/topics/{topic}", {"records": [{"value": "%%%"}]}, BINARY), 422,
                 42201)
    expect_error(post(f"{base}/topics/{topic}", {"records": [{"value": 5}]}, BINARY), 422,
                 42201)
    expect_error(post(f"{base}/v3/clusters/{cid}/topics/{topic}/records",
                      {"value": {"type": "BINARY", "data": "%%%"}}, "application/json"), 422,
                 422)
    expect_error(post(f"{base}/v3/clusters/{cid}/topics/{topic}/records",
                      {"value": {"type": "XML", "data": "x"}}, "application/json"), 422, 422)
    expect_error(post(f"{base}/v3/clusters/{cid}/topics", {"partitions_count": 1},
                      "application/json"), 422, 422)

    # Content types the endpoint does not take: 415. A schema-registry format without the
    # schema its records need: 42201 (keys) / 42202 (values).
    expect_error(post(f"{base}/topics/{topic}", {"records": [{"value": 1}]}, "text/plain"),
                 415, 415)
    expect_error(post(f"{base}/topics/{topic}", {"records": [{"value": 1}]}, V2), 415, 415)
    for fmt in ("avro", "protobuf", "jsonschema"):
        expect_error(post(f"{base}/topics/{topic}", {"records": [{"value": 1}]},
                          f"application/vnd.kafka.{fmt}.v2+json"), 422, 42202)
        expect_error(post(f"{base}/topics/{topic}", {"records": [{"key": 1}],
                                                     "value_schema_id": 99999},
                          f"application/vnd.kafka.{fmt}.v2+json"), 404, 40403)
    expect_error(post(f"{base}/consumers/g-x", {"format": "xml"}), 422, 42204)
    expect_error(post(f"{base}/consumers/g-x", {"auto.offset.reset": "sometimes"}), 422, 42204)
    expect_error(post(f"{base}/consumers/g-x", {}, "text/plain"), 415, 415)
    expect_error(post(f"{base}/v3/clusters/{cid}/topics/{topic}/records",
                      {"value": {"type": "AVRO", "data": 1}}, "application/json"), 415, 415)

    # Consumer instances: unknown (40403), duplicate (40902), subscribed and assigned (40901),
    # seeking a partition not assigned (40903), asking records in another format (40601).
    group = unique_topic("rest-err-group")
    for method, path in (("GET", "records"), ("POST", "subscription"), ("GET", "assignments"),
                         ("POST", "offsets"), ("DELETE", "")):
        url = f"{base}/consumers/{group}/instances/ghost" + (f"/{path}" if path else "")
        r = requests.request(method, url,
                             data=json.dumps({"topics": [topic]}),
                             headers={"Content-Type": V2}, timeout=30)
        expect_error(r, 404, 40403)
    uri = new_instance(base, group, name="one", format="json")
    expect_error(post(f"{base}/consumers/{group}", {"name": "one"}), 409, 40902)
    # Neither subscribed nor assigned: nothing to read (Kafka's consumer refuses to poll).
    expect_error(requests.get(f"{uri}/records", timeout=30), 409, 40903)
    assert post(f"{uri}/assignments", {"partitions": [{"topic": topic, "partition": 0}]}) \
        .status_code == 204
    expect_error(post(f"{uri}/subscription", {"topics": [topic]}), 409, 40901)
    expect_error(post(f"{uri}/positions/beginning",
                      {"partitions": [{"topic": topic, "partition": 1}]}), 409, 40903)
    expect_error(post(f"{uri}/positions", {"offsets": [{"topic": topic, "partition": 0}]}), 422,
                 42201)
    expect_error(requests.get(f"{uri}/records", headers={"Accept": BINARY}, timeout=30), 406,
                 40601)
    expect_error(requests.get(f"{uri}/records", params={"timeout": "soon"}, timeout=30), 422,
                 42201)
    # A record that is not JSON, read by a json instance: a Kafka error (50002), as Confluent's
    # deserializer fails.
    post(f"{base}/topics/{topic}/partitions/0", {"records": [{"value": b64(b"\x00not json")}]},
         BINARY)
    assert post(f"{uri}/positions", {"offsets": [{"topic": topic, "partition": 0,
                                                  "offset": 0}]}).status_code == 204
    expect_error(requests.get(f"{uri}/records", timeout=30), 500, 50002)
    assert requests.delete(uri, timeout=30).status_code == 204
    # Unknown endpoints.
    expect_error(requests.get(f"{base}/nothing-here", timeout=30), 404, 40400)
    expect_error(requests.get(f"{base}/v3/nothing-here", timeout=30), 404, 404)


def test_idle_consumer_instances_expire(node):
    base = node.rest
    topic = create_topic(node.bootstrap, unique_topic("rest-idle"), partitions=1)
    post(f"{base}/topics/{topic}", {"records": [{"value": b64(b"r%d" % i)} for i in range(3)]},
         BINARY)
    group = unique_topic("rest-idle-group")
    # auto.commit.enable defaults to true: what it read is committed when it is closed.
    uri = new_instance(base, group, format="binary", **{"auto.offset.reset": "earliest"})
    assert post(f"{uri}/subscription", {"topics": [topic]}).status_code == 204
    assert len(read_until(f"{uri}/records", 3, BINARY)) == 3
    wait_until(lambda: describe_group(node.bootstrap, group).members, timeout=30,
               what="the instance to join")
    # Left alone (a request would make it busy again), it is closed after
    # rest.proxy.consumer.instance.timeout.ms and leaves its group.
    name = uri.rsplit("/", 1)[1]
    wait_until(lambda: f"consumer instance {name} of group {group} expired" in node.log_text(),
               timeout=INSTANCE_TIMEOUT_MS / 1000 + 30, interval=0.2, what="expiry")
    expect_error(requests.get(f"{uri}/subscription", timeout=30), 404, 40403)
    wait_until(lambda: not describe_group(node.bootstrap, group).members, timeout=30,
               what="the expired instance to leave its group")
    c = Consumer({"bootstrap.servers": node.bootstrap, "group.id": group})
    try:
        (committed,) = c.committed([TopicPartition(topic, 0)], timeout=30)
    finally:
        c.close()
    assert committed.offset == 3, committed


def test_three_nodes_produce_and_consume_through_different_nodes():
    with tempfile.TemporaryDirectory(prefix="sluice-rest3-") as root:
        c = Cluster(root, n=3)
        try:
            rest = [rest_url(b) for b in c.brokers]
            a = admin(c.bootstrap)
            topic = unique_topic("rest-3")
            from confluent_kafka.admin import NewTopic
            a.create_topics([NewTopic(topic, 6, 3)])[topic].result(timeout=60)

            def leaders():
                t = a.list_topics(topic, timeout=10).topics.get(topic)
                if t is None or t.error is not None or len(t.partitions) != 6:
                    return None
                found = {p: m.leader for p, m in t.partitions.items()}
                return found if all(v >= 1 for v in found.values()) else None

            led = wait_until(leaders, timeout=60, what="leaders of every partition")
            # Node 2's proxy produces to every partition, most of them led by other nodes.
            assert any(leader != 2 for leader in led.values()), led
            for p in range(6):
                r = post(f"{rest[1]}/topics/{topic}/partitions/{p}",
                         {"records": [{"value": b64(b"p%d-%d" % (p, i))} for i in range(2)]},
                         BINARY)
                assert r.status_code == 200, r.text
                assert [o["offset"] for o in r.json()["offsets"]] == [0, 1], r.text
            # A consumer instance on node 3 reads them all; it lives on node 3 only.
            group = unique_topic("rest-3-group")
            uri = new_instance(rest[2], group, format="binary",
                               **{"auto.offset.reset": "earliest"})
            assert uri.startswith(rest[2]), uri
            assert post(f"{uri}/subscription", {"topics": [topic]}).status_code == 204
            got = read_until(f"{uri}/records", 12, BINARY, timeout=60)
            assert sorted(base64.b64decode(r["value"]) for r in got) == sorted(
                b"p%d-%d" % (p, i) for p in range(6) for i in range(2)), got
            name = uri.rsplit("/", 1)[1]
            expect_error(requests.get(f"{rest[0]}/consumers/{group}/instances/{name}/records",
                                      timeout=30), 404, 40403)
            assert post(f"{uri}/offsets", b"").status_code == 200
            assert requests.delete(uri, timeout=30).status_code == 204
            for b in c.brokers:
                assert_no_panic(b)
        finally:
            c.stop()


JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="alice-secret";')


def test_sasl_callers_and_acls(tmp_path):
    """With SASL on the node's listener the proxy logs in as its caller (HTTP Basic)."""
    b = Broker(str(tmp_path / "data"), extra={
        "listener.security.protocol.map": "PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
    })
    b.start()
    try:
        base = rest_url(b)
        root = ("admin", "admin-secret")
        alice = ("alice", "alice-secret")
        sasl = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                "sasl.username": "admin", "sasl.password": "admin-secret"}
        topic = unique_topic("rest-sasl")
        wait_until(lambda: requests.get(f"{base}/topics", auth=root, timeout=30).status_code
                   == 200, timeout=60, what="the proxy to serve")
        from confluent_kafka.admin import NewTopic
        a = admin(b.bootstrap, **sasl)
        a.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
        # alice may describe and read the topic, not write to it.
        acls = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice",
                           "*", op, AclPermissionType.ALLOW)
                for op in (AclOperation.DESCRIBE, AclOperation.READ)]
        for f in a.create_acls(acls, request_timeout=30).values():
            f.result(timeout=30)
        body = {"records": [{"value": b64(b"x")}]}
        # No credentials, or wrong ones: 401 with a Basic challenge.
        for auth in (None, ("alice", "wrong")):
            r = post(f"{base}/topics/{topic}", body, BINARY, auth=auth)
            expect_error(r, 401, 40101)
            assert r.headers["WWW-Authenticate"].startswith("Basic"), r.headers
        r = requests.get(f"{base}/v3/clusters", timeout=30)
        expect_error(r, 401, 401)
        # alice: 403 with the Kafka error.
        wait_until(lambda: topic in requests.get(f"{base}/topics", auth=alice, timeout=30).json(),
                   what="alice's DESCRIBE to apply")
        body403 = expect_error(post(f"{base}/topics/{topic}", body, BINARY, auth=alice), 403,
                               40301)
        assert "TOPIC_AUTHORIZATION_FAILED" in body403["message"], body403
        cid = requests.get(f"{base}/v3/clusters", auth=root, timeout=30).json()["data"][0][
            "cluster_id"]
        v3 = expect_error(post(f"{base}/v3/clusters/{cid}/topics/{topic}/records",
                               {"value": {"data": 1}}, "application/json", auth=alice), 403, 403)
        assert "TOPIC_AUTHORIZATION_FAILED" in v3["message"], v3
        # admin writes; alice reads it through her own consumer instance.
        r = post(f"{base}/topics/{topic}", body, BINARY, auth=root)
        assert r.status_code == 200 and r.json()["offsets"][0]["offset"] == 0, r.text
        group = unique_topic("rest-sasl-group")
        for f in a.create_acls([AclBinding(ResourceType.GROUP, group,
                                           ResourcePatternType.LITERAL, "User:alice", "*",
                                           AclOperation.READ, AclPermissionType.ALLOW)],
                               request_timeout=30).values():
            f.result(timeout=30)
        r = requests.post(f"{base}/consumers/{group}", json={"format": "binary",
                                                            "auto.offset.reset": "earliest"},
                          auth=alice, timeout=30)
        assert r.status_code == 200, r.text
        uri = r.json()["base_uri"]
        assert requests.post(f"{uri}/assignments", json={"partitions": [
            {"topic": topic, "partition": 0}]}, auth=alice, timeout=30).status_code == 204
        got = read_until(f"{uri}/records", 1, BINARY, auth=alice)
        assert got[0]["value"] == b64(b"x"), got
        # Another user does not see alice's instance.
        expect_error(requests.get(f"{uri}/assignments", auth=root, timeout=30), 404, 40403)
        assert requests.delete(uri, auth=alice, timeout=30).status_code == 204
        assert "alice-secret" not in b.log_text() and "admin-secret" not in b.log_text()
        assert_no_panic(b)
    finally:
        try:
            b.stop(timeout=15)
        except Exception:
            b.kill()


@pytest.mark.parametrize("value, why", [
    ("127.0.0.1:8082", "expected http://host:port"),
    ("ftp://127.0.0.1:0", "the scheme must be http or https"),
    ("https://127.0.0.1:0", "set listener.name.rest_proxy.ssl.keystore.location"),
    ("http://example.invalid:80", "must be an IP address"),
])
def test_a_bad_rest_proxy_listener_stops_startup(tmp_path, value, why):
    out = subprocess.run([SLUICE_BIN, "server", "--set", f"rest.proxy.listeners={value}",
                          "--set", f"log.dirs={tmp_path}"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2, out.stderr
    assert "rest.proxy.listeners" in out.stderr and why in out.stderr, out.stderr


def test_a_rest_proxy_port_in_use_stops_startup(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([SLUICE_BIN, "server", "--set", "listeners=PLAINTEXT://127.0.0.1:0",
                              "--set", "admin.listeners=http://127.0.0.1:0",
                              "--set", f"rest.proxy.listeners=http://127.0.0.1:{port}",
                              "--set", f"log.dirs={tmp_path}"], capture_output=True, text=True,
                             timeout=30)
    assert out.returncode != 0
    assert f"rest proxy listener: cannot listen on 127.0.0.1:{port}" in out.stderr, out.stderr


def test_an_empty_rest_proxy_listeners_switches_it_off(broker_factory):
    b = broker_factory({"rest.proxy.listeners": ""})
    assert "rest proxy listener serving" not in b.log_text()


def test_https_rest_proxy_with_its_own_certificate(data_root):
    d = os.path.join(data_root, "tls")
    os.makedirs(d)
    ca = Ca(d)
    store = ca.issue("rest", "rest-proxy-listener")
    b = Broker(os.path.join(data_root, "n1"), extra={
        "rest.proxy.listeners": "https://127.0.0.1:0",
        "listener.name.rest_proxy.ssl.keystore.location": store,
    }).start()
    try:
        base = rest_url(b)
        assert base.startswith("https://"), base
        host, port = base[len("https://"):].split(":")
        assert served_certificate_cn(host, int(port), ca.pem_path) == "rest-proxy-listener"
        topic = create_topic(b.bootstrap, unique_topic("rest-tls"), partitions=1)
        r = requests.post(f"{base}/topics/{topic}", json={"records": [{"value": {"a": 1}}]},
                          headers={"Content-Type": JSON}, verify=ca.pem_path, timeout=30)
        assert r.status_code == 200 and r.json()["offsets"][0]["offset"] == 0, r.text
        # base_uri says https.
        uri = requests.post(f"{base}/consumers/tls-group", json={}, verify=ca.pem_path,
                            timeout=30).json()["base_uri"]
        assert uri.startswith(f"https://{host}:{port}/consumers/tls-group/instances/"), uri
        assert_no_panic(b)
    finally:
        b.stop(timeout=15)


AVRO = "application/vnd.kafka.avro.v2+json"
PROTOBUF = "application/vnd.kafka.protobuf.v2+json"
JSONSCHEMA = "application/vnd.kafka.jsonschema.v2+json"


def test_schema_registry_formats_through_the_proxy(node):
    """avro, protobuf and jsonschema embedded formats: the proxy registers the request's
    schema (or takes its id), writes the registry's wire format that confluent-kafka's
    deserializers read, and its consumer instances decode records a serializer wrote."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    base = rest_url(node)
    registry = SchemaRegistryClient({"url": node.registry_url()})
    topic = unique_topic("rest-avro")
    create_topic(node.bootstrap, topic)
    schema = json.dumps({"type": "record", "name": "Order", "fields": [
        {"name": "id", "type": "long"}, {"name": "item", "type": "string"}]})
    r = post(f"{base}/topics/{topic}", {"value_schema": schema, "records": [
        {"value": {"id": 1, "item": "tea"}}, {"value": {"id": 2, "item": "cake"}}]}, AVRO)
    assert r.status_code == 200, r.text
    answer = r.json()
    value_id = answer["value_schema_id"]
    assert answer["key_schema_id"] is None and value_id == registry.get_latest_version(
        f"{topic}-value").schema_id
    assert [o["offset"] for o in answer["offsets"]] == [0, 1]
    # By id, and a value that does not fit the schema (42203).
    r = post(f"{base}/topics/{topic}", {"value_schema_id": value_id,
                                        "records": [{"value": {"id": 3, "item": "pie"}}]}, AVRO)
    assert r.status_code == 200, r.text
    expect_error(post(f"{base}/topics/{topic}", {"value_schema_id": value_id,
                                                 "records": [{"value": {"id": "x"}}]}, AVRO),
                 422, 42203)
    expect_error(post(f"{base}/topics/{topic}", {"value_schema": "{not avro",
                                                 "records": [{"value": 1}]}, AVRO), 422, 42205)
    # confluent-kafka's AvroDeserializer reads what the proxy wrote.
    de = AvroDeserializer(registry)
    consumer = Consumer({"bootstrap.servers": node.bootstrap, "group.id": unique_topic("g"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    try:
        def three():
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                got.append(de(m.value(), SerializationContext(topic, MessageField.VALUE)))
            return len(got) >= 3
        wait_until(three, timeout=60, what="the proxy's records through a Kafka client")
    finally:
        consumer.close()
    assert [g["item"] for g in got] == ["tea", "cake", "pie"]

    # An avro consumer instance decodes a record confluent-kafka's AvroSerializer wrote.
    ser = AvroSerializer(registry, schema)
    producer = Producer({"bootstrap.servers": node.bootstrap})
    producer.produce(topic, value=ser({"id": 4, "item": "jam"},
                                      SerializationContext(topic, MessageField.VALUE)))
    producer.flush(30)
    uri = new_instance(base, unique_topic("rest-avro-g"), format="avro",
                       **{"auto.offset.reset": "earliest"})
    assert post(f"{uri}/subscription", {"topics": [topic]}).status_code == 204
    records = read_until(f"{uri}/records", 4, AVRO)
    assert [r["value"]["item"] for r in records] == ["tea", "cake", "pie", "jam"]
    requests.delete(uri, timeout=30)

    # jsonschema: the value is checked against the schema; protobuf: a message of the
    # schema's first type. Both read back through consumer instances.
    for fmt, media, schema_text, good, bad in (
        ("jsonschema", JSONSCHEMA,
         json.dumps({"type": "object", "properties": {"t": {"type": "number"}}, "required": ["t"]}),
         {"t": 20.5}, {"t": "warm"}),
        ("protobuf", PROTOBUF,
         'syntax = "proto3"; message Reading { string sensor = 1; int32 value = 2; }',
         {"sensor": "a", "value": 7}, {"nope": 1}),
    ):
        t = unique_topic(f"rest-{fmt}")
        create_topic(node.bootstrap, t)
        r = post(f"{base}/topics/{t}", {"value_schema": schema_text, "records": [{"value": good}]},
                 media)
        assert r.status_code == 200, r.text
        expect_error(post(f"{base}/topics/{t}", {"value_schema": schema_text,
                                                 "records": [{"value": bad}]}, media), 422, 42203)
        registered = registry.get_latest_version(f"{t}-value").schema
        assert registered.schema_type == ("JSON" if fmt == "jsonschema" else "PROTOBUF")
        uri = new_instance(base, unique_topic(f"rest-{fmt}-g"), format=fmt,
                           **{"auto.offset.reset": "earliest"})
        assert post(f"{uri}/subscription", {"topics": [t]}).status_code == 204
        assert read_until(f"{uri}/records", 1, media)[0]["value"] == good
        # A record not in the wire format cannot be read in this format: 50002, not a panic.
        plain = Producer({"bootstrap.servers": node.bootstrap})
        plain.produce(t, value=b"plain")
        plain.flush(30)

        def refused():
            r = requests.get(f"{uri}/records", params={"timeout": 500},
                             headers={"Accept": media}, timeout=30)
            return r.status_code == 500 and r.json()["error_code"] == 50002

        wait_until(refused, timeout=30, what="a record outside the wire format refused")
        requests.delete(uri, timeout=30)
