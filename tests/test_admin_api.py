"""The JSON admin API (issue 14 point 1, docs/admin-api.md): cluster, brokers, topics,
partitions and configs, on one node, on a 3-node cluster, and on a SASL_PLAINTEXT node with
ACLs (the API acts as its caller: what the caller may not describe it does not see, what it
may not delete is refused with 403, and missing or wrong credentials answer 401).

HTTP with the standard library only. Every state-changing request carries `X-CSRF-Token`, as
the console's middleware will require."""
import base64
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from confluent_kafka.admin import ConfigResource

from conftest import Broker, Cluster, wait_until
from kafka_helpers import (
    Rec,
    admin,
    assert_no_panic,
    confluent_produce,
    confluent_producer,
    create_topic,
    unique_topic,
)

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def call(address, method, path, body=None, auth=None, raw=None, timeout=30):
    """(status, headers, parsed JSON body or None) of one request to the admin API."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(f"http://{address}/api/v1{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if method in STATE_CHANGING:
        request.add_header("X-CSRF-Token", "test")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        status, headers, text = e.code, e.headers, e.read()
    return status, headers, (json.loads(text) if text else None)


def ok(address, method, path, body=None, expect=200, **kw):
    status, _, answer = call(address, method, path, body, **kw)
    assert status == expect, (method, path, status, answer)
    return answer


def error(address, method, path, body=None, status=400, name=None, **kw):
    """Asserts the documented error body and status; returns the body."""
    got, _, answer = call(address, method, path, body, **kw)
    assert got == status, (method, path, got, answer)
    assert set(answer) == {"error_code", "error", "message"}, answer
    if name is not None:
        assert answer["error"] == name, answer
    assert answer["message"], answer
    return answer


def until_api(address, path, check, timeout=30, **kw):
    """Polls GET `path` until `check(answer)` holds; returns the answer."""
    seen = {}

    def holds():
        status, _, answer = call(address, "GET", path, **kw)
        seen["last"] = (status, answer)
        return status == 200 and check(answer) and answer

    try:
        return wait_until(holds, timeout=timeout, interval=0.1, what=f"GET {path}")
    except TimeoutError:
        raise AssertionError(f"GET {path}: last {seen.get('last')}")


def confluent_configs(bootstrap, kind, name, **conf):
    a = admin(bootstrap, **conf)
    (future,) = a.describe_configs([ConfigResource(kind, name)], request_timeout=30).values()
    return future.result(timeout=30)


@pytest.fixture(scope="module")
def node():
    """One node (broker and controller) for the module's single-node tests."""
    with tempfile.TemporaryDirectory(prefix="sluice-api-") as root:
        b = Broker(os.path.join(root, "data"))
        b.start()
        b.api = b.admin_address()
        until_api(b.api, "/cluster", lambda c: len(c["brokers"]) == 1)
        try:
            yield b
        finally:
            assert_no_panic(b)
            try:
                b.stop(timeout=15)
            except Exception:
                b.kill()


@pytest.fixture(scope="module")
def cluster3():
    with tempfile.TemporaryDirectory(prefix="sluice-api3-") as root:
        c = Cluster(root, n=3)
        try:
            c.api = [b.admin_address() for b in c.brokers]
            until_api(c.api[0], "/cluster",
                      lambda s: len(s["brokers"]) == 3
                      and not any(b["fenced"] for b in s["brokers"]), timeout=60)
            yield c
            for b in c.brokers:
                assert_no_panic(b)  # one is killed by the last test: its log up to then
        finally:
            c.stop()


def test_a_topics_life_on_one_node(node):
    api = node.api
    cluster = ok(api, "GET", "/cluster")
    assert cluster["cluster_id"] and cluster["controller_id"] == 1, cluster
    assert [b["id"] for b in cluster["brokers"]] == [1]
    assert cluster["brokers"][0]["is_controller"] and cluster["brokers"][0]["fenced"] is False
    assert cluster["quorum"]["leader_id"] == 1
    assert [v["id"] for v in cluster["quorum"]["voters"]] == [1]
    assert cluster["offline_partitions"] == 0

    topic = unique_topic("api")
    created = ok(api, "POST", "/topics", {"name": topic, "partitions": 2,
                                          "configs": {"retention.ms": 3600000,
                                                      "cleanup.policy": "delete"}}, expect=201)
    assert created["name"] == topic and created["internal"] is False, created
    assert created["topic_id"] and len(created["topic_id"]) == 22, created
    assert [p["partition"] for p in created["partitions"]] == [0, 1]
    assert all(p["leader"] == 1 and p["replicas"] == [1] and p["isr"] == [1]
               and p["offline_replicas"] == [] for p in created["partitions"]), created
    # The config given at creation, as a real client reads it.
    assert confluent_configs(node.bootstrap, "topic", topic)["retention.ms"].value == "3600000"

    confluent_produce(node.bootstrap, topic, [Rec(0, b"k", b"v%d" % i) for i in range(7)]
                      + [Rec(1, None, b"x")])
    detail = until_api(api, f"/topics/{topic}",
                       lambda t: [p["end_offset"] for p in t["partitions"]] == [7, 1])
    assert [p["start_offset"] for p in detail["partitions"]] == [0, 0]
    assert all(p["size_bytes"] > 0 for p in detail["partitions"]), detail

    listed = ok(api, "GET", "/topics?search=" + urllib.parse.quote(topic.upper()))
    assert listed["total"] == 1 and listed["offset"] == 0 and listed["limit"] == 100, listed
    (row,) = listed["topics"]
    assert row == {"name": topic, "internal": False, "partitions": 2, "replication_factor": 1,
                   "under_replicated_partitions": 0, "size_bytes": row["size_bytes"],
                   "records": 8, "messages_per_sec": None}, row
    assert row["size_bytes"] == sum(p["size_bytes"] for p in detail["partitions"])

    grown = ok(api, "POST", f"/topics/{topic}/partitions", {"count": 4})
    assert [p["partition"] for p in grown["partitions"]] == [0, 1, 2, 3], grown

    configs = ok(api, "GET", f"/topics/{topic}/configs")["configs"]
    retention = next(c for c in configs if c["name"] == "retention.ms")
    assert (retention["value"], retention["source"]) == ("3600000", "DYNAMIC_TOPIC_CONFIG")
    assert retention["read_only"] is False and retention["sensitive"] is False
    assert retention["synonyms"][0] == {"name": "retention.ms", "value": "3600000",
                                        "source": "DYNAMIC_TOPIC_CONFIG"}, retention
    assert [c["name"] for c in configs] == sorted(c["name"] for c in configs)
    changed = ok(api, "PATCH", f"/topics/{topic}/configs",
                 {"set": {"max.message.bytes": "2048"}, "delete": ["retention.ms"]})["configs"]
    by_name = {c["name"]: c for c in changed}
    assert by_name["max.message.bytes"]["value"] == "2048"
    assert by_name["retention.ms"]["source"] != "DYNAMIC_TOPIC_CONFIG", by_name["retention.ms"]
    seen = confluent_configs(node.bootstrap, "topic", topic)
    assert seen["max.message.bytes"].value == "2048"
    assert seen["retention.ms"].source != 1  # no longer a topic override

    status, _, body = call(api, "DELETE", f"/topics/{topic}")
    assert (status, body) == (204, None)
    error(api, "GET", f"/topics/{topic}", status=404, name="UNKNOWN_TOPIC_OR_PARTITION")


def test_topic_list_pages_filters_and_hides_internal_topics(node):
    api = node.api
    prefix = unique_topic("page")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for name in names:
        create_topic(node.bootstrap, name, 1)
    first = ok(api, "GET", f"/topics?search={prefix}&limit=2")
    assert (first["total"], first["offset"], first["limit"]) == (5, 0, 2)
    assert [t["name"] for t in first["topics"]] == names[:2]
    last = ok(api, "GET", f"/topics?search={prefix}&limit=2&offset=4")
    assert [t["name"] for t in last["topics"]] == names[4:]
    beyond = ok(api, "GET", f"/topics?search={prefix}&offset=99")
    assert beyond["total"] == 5 and beyond["topics"] == []
    assert all(t["records"] == 0 for t in first["topics"]), first
    # A consumer group makes __consumer_offsets: internal, listed only when asked for.
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": node.bootstrap, "group.id": "g-" + prefix})
    try:
        c.commit(offsets=[__import__("confluent_kafka").TopicPartition(names[0], 0, 0)],
                 asynchronous=False)
    finally:
        c.close()
    plain = ok(api, "GET", "/topics?search=consumer_offsets")
    assert plain["total"] == 0, plain
    internal = ok(api, "GET", "/topics?search=consumer_offsets&internal=true")
    assert [t["name"] for t in internal["topics"]] == ["__consumer_offsets"]
    assert internal["topics"][0]["internal"] is True


def test_bad_input_answers_the_documented_errors(node):
    api = node.api
    topic = create_topic(node.bootstrap, unique_topic("bad"), 1)
    # Bodies that are not the JSON expected.
    error(api, "POST", "/topics", raw=b"{not json", status=400, name="BAD_REQUEST")
    error(api, "POST", "/topics", {"partitions": 1}, status=400)  # no name
    error(api, "POST", "/topics", {"name": "x", "colour": "red"}, status=400)
    error(api, "PATCH", f"/topics/{topic}/configs", raw=b"[]", status=400)
    # Numbers out of range, checked before asking, with Kafka's codes.
    e = error(api, "POST", "/topics", {"name": unique_topic("neg"), "partitions": -3},
              status=400, name="INVALID_PARTITIONS")
    assert e["error_code"] == 37
    error(api, "POST", "/topics", {"name": unique_topic("rf"), "replication_factor": 0},
          status=400, name="INVALID_REPLICATION_FACTOR")
    error(api, "POST", f"/topics/{topic}/partitions", {"count": -1}, status=400,
          name="INVALID_PARTITIONS")
    # The cluster's refusals, with their codes.
    error(api, "POST", "/topics", {"name": unique_topic("rf"), "replication_factor": 3},
          status=400, name="INVALID_REPLICATION_FACTOR")
    error(api, "POST", "/topics", {"name": topic}, status=409, name="TOPIC_ALREADY_EXISTS")
    error(api, "POST", "/topics", {"name": "bad/name"}, status=400, name="INVALID_TOPIC_EXCEPTION")
    error(api, "POST", f"/topics/{topic}/partitions", {"count": 1}, status=400,
          name="INVALID_PARTITIONS")  # not more than it has
    ghost = unique_topic("ghost")
    for method, path, body in (("GET", f"/topics/{ghost}", None),
                               ("DELETE", f"/topics/{ghost}", None),
                               ("GET", f"/topics/{ghost}/configs", None),
                               ("POST", f"/topics/{ghost}/partitions", {"count": 2})):
        e = error(api, method, path, body, status=404, name="UNKNOWN_TOPIC_OR_PARTITION")
        assert e["error_code"] == 3
    # Configs: an unknown name, a read-only key, a bad value, nothing to change.
    error(api, "PATCH", f"/topics/{topic}/configs", {"set": {"no.such.config": "1"}},
          status=400, name="INVALID_CONFIG")
    error(api, "PATCH", "/brokers/1/configs", {"set": {"no.such.config": "1"}}, status=400,
          name="INVALID_CONFIG")
    ro = error(api, "PATCH", "/brokers/1/configs", {"set": {"node.id": "7"}}, status=400)
    assert ro["error_code"] is not None, ro
    error(api, "PATCH", f"/topics/{topic}/configs", {"set": {"retention.ms": "soon"}},
          status=400)
    error(api, "PATCH", f"/topics/{topic}/configs", {}, status=400)
    error(api, "PATCH", f"/topics/{topic}/configs",
          {"set": {"retention.ms": "1"}, "delete": ["retention.ms"]}, status=400)
    error(api, "PATCH", f"/topics/{topic}/configs", {"set": {"retention.ms": [1]}},
          status=400)
    # Brokers: not an id, an id not in the cluster.
    for bad in ("x", "-1", "1.5"):
        error(api, "GET", f"/brokers/{bad}/configs", status=400)
    error(api, "GET", "/brokers/99/configs", status=404)
    error(api, "PATCH", "/brokers/99/configs", {"set": {"log.retention.ms": "1"}}, status=404)
    # Pagination and query parameters.
    for query in ("limit=0", "limit=1001", "limit=x", "offset=-1", "internal=maybe"):
        error(api, "GET", f"/topics?{query}", status=400)
    error(api, "GET", "/nothing/here", status=404)
    # The node is fine after all of that.
    assert ok(api, "GET", f"/topics/{topic}")["name"] == topic


def test_broker_configs_and_the_cluster_default(node):
    api = node.api
    configs = {c["name"]: c for c in ok(api, "GET", "/brokers/1/configs")["configs"]}
    assert configs["node.id"]["value"] == "1" and configs["node.id"]["read_only"] is True
    secret = configs["ssl.key.password"]
    assert secret["sensitive"] is True and secret["value"] is None, secret
    assert all(s["value"] is None for s in secret["synonyms"])
    changed = ok(api, "PATCH", "/brokers/default/configs",
                 {"set": {"log.retention.ms": "86400000"}})["configs"]
    assert any(c["name"] == "log.retention.ms" and c["value"] == "86400000"
               and c["source"] == "DYNAMIC_DEFAULT_BROKER_CONFIG" for c in changed), changed
    # Broker 1 takes the default, as a real client sees it.
    wait_until(lambda: confluent_configs(node.bootstrap, "broker", "1")["log.retention.ms"]
               .value == "86400000", timeout=30, interval=0.1, what="the default applied")
    own = ok(api, "PATCH", "/brokers/1/configs", {"set": {"log.retention.ms": "7200000"}})
    mine = next(c for c in own["configs"] if c["name"] == "log.retention.ms")
    assert (mine["value"], mine["source"]) == ("7200000", "DYNAMIC_BROKER_CONFIG"), mine
    assert [s["source"] for s in mine["synonyms"]][:2] == [
        "DYNAMIC_BROKER_CONFIG", "DYNAMIC_DEFAULT_BROKER_CONFIG"], mine
    ok(api, "PATCH", "/brokers/1/configs", {"delete": ["log.retention.ms"]})
    ok(api, "PATCH", "/brokers/default/configs", {"delete": ["log.retention.ms"]})
    back = {c["name"]: c for c in ok(api, "GET", "/brokers/1/configs")["configs"]}
    assert back["log.retention.ms"]["source"] == "DEFAULT_CONFIG", back["log.retention.ms"]


def test_throughput_history_counts_what_this_node_took_in(node):
    """The sampler reads the node's counters every 10 s: records produced show up as a
    point with a rate above zero. Produced while polling: a sample needs one before it (the
    base) and one after."""
    topic = create_topic(node.bootstrap, unique_topic("tput"), 1)
    producer = confluent_producer(node.bootstrap)

    def busy_point():
        confluent_produce(node.bootstrap, topic, [Rec(0, None, b"x" * 100)] * 5,
                          producer=producer)
        history = ok(node.api, "GET", "/cluster/throughput")
        return any(p["records_in_per_sec"] > 0 for p in history["points"]) and history

    history = wait_until(busy_point, timeout=40, interval=0.5, what="a busy throughput point")
    assert history["interval_ms"] == 10000
    busy = [p for p in history["points"] if p["records_in_per_sec"] > 0]
    assert all(p["bytes_in_per_sec"] > 0 for p in busy), busy
    times = [p["time_ms"] for p in history["points"]]
    assert times == sorted(times) and times[-1] > 1_600_000_000_000, times


def test_topic_list_gives_each_topic_its_message_rate(node):
    """The topic list's messages_per_sec: records appended per second (cluster-wide end
    offsets) between a listing and the one before it, null at a first listing."""
    topic = create_topic(node.bootstrap, unique_topic("rate"), 2)

    def row():
        listed = ok(node.api, "GET", f"/topics?search={topic}")["topics"]
        assert [t["name"] for t in listed] == [topic], listed
        return listed[0]

    assert row()["messages_per_sec"] is None
    producer = confluent_producer(node.bootstrap)
    confluent_produce(node.bootstrap, topic, [Rec(None, None, b"x")] * 200, producer=producer)
    # A second listing at least a second later gives the rate since the first.
    rated = wait_until(lambda: (r := row())["messages_per_sec"] is not None and r, timeout=30,
                       interval=0.3, what="a rate")
    assert rated["messages_per_sec"] > 0 and rated["records"] == 200, rated
    # Nothing produced since: the rate falls to 0.
    wait_until(lambda: row()["messages_per_sec"] == 0, timeout=30, interval=0.3,
               what="a rate of 0")


def test_three_nodes(cluster3):
    api = cluster3.api
    bootstrap = cluster3.bootstrap
    topic = unique_topic("api3")
    created = ok(api[1], "POST", "/topics",
                 {"name": topic, "partitions": 3, "replication_factor": 3}, expect=201)
    assert all(sorted(p["replicas"]) == [1, 2, 3] for p in created["partitions"]), created
    confluent_produce(bootstrap, topic, [Rec(p, b"k", b"v") for p in range(3) for _ in range(4)])
    # Every node answers the same topic, offsets asked of each partition's leader.
    for address in api:
        detail = until_api(address, f"/topics/{topic}",
                           lambda t: all(p["end_offset"] == 4 and sorted(p["isr"]) == [1, 2, 3]
                                         for p in t["partitions"]))
        assert {p["leader"] for p in detail["partitions"]} <= {1, 2, 3}
    row = ok(api[2], "GET", f"/topics?search={topic}")["topics"][0]
    assert (row["records"], row["replication_factor"], row["partitions"]) == (12, 3, 3), row

    cluster = ok(api[0], "GET", "/cluster")
    assert [b["id"] for b in cluster["brokers"]] == [1, 2, 3]
    assert sum(b["is_controller"] for b in cluster["brokers"]) == 1
    assert cluster["controller_id"] in (1, 2, 3)
    assert sorted(v["id"] for v in cluster["quorum"]["voters"]) == [1, 2, 3]
    assert cluster["topic_count"] >= 1 and cluster["partition_count"] >= 3

    brokers = ok(api[0], "GET", "/brokers")["brokers"]
    assert [b["id"] for b in brokers] == [1, 2, 3]
    for b in brokers:
        assert b["partitions"] >= 3 and b["host"] == "127.0.0.1", b
        (d,) = b["log_dirs"]
        assert d["error"] is None and d["size_bytes"] > 0, d
        assert d["total_bytes"] > 0 and 0 <= d["usable_bytes"] <= d["total_bytes"], d
    assert sum(b["leaders"] for b in brokers) == cluster["partition_count"]

    # A broker's own config changed through the API, read by a real client from that broker.
    ok(api[0], "PATCH", "/brokers/2/configs", {"set": {"log.retention.bytes": "123456789"}})
    wait_until(lambda: confluent_configs(bootstrap, "broker", "2")["log.retention.bytes"]
               .value == "123456789", timeout=30, interval=0.1, what="broker 2's config")
    assert confluent_configs(bootstrap, "broker", "3")["log.retention.bytes"].value != "123456789"
    # A topic config changed on one node, seen through another and by a real client.
    ok(api[2], "PATCH", f"/topics/{topic}/configs", {"set": {"segment.ms": "600000"}})
    until_api(api[1], f"/topics/{topic}/configs",
              lambda c: any(x["name"] == "segment.ms" and x["value"] == "600000"
                            for x in c["configs"]))
    assert confluent_configs(bootstrap, "topic", topic)["segment.ms"].value == "600000"

    assert ok(api[0], "GET", "/reassignments") == {"reassignments": []}
    throughput = ok(api[0], "GET", "/cluster/throughput")
    assert throughput["interval_ms"] == 10000 and isinstance(throughput["points"], list)
    for point in throughput["points"]:
        assert set(point) == {"time_ms", "records_in_per_sec", "bytes_in_per_sec",
                              "bytes_out_per_sec"}

    # A node gone: fenced, out of the ISRs, its partitions under-replicated; no log dirs.
    cluster3.brokers[2].kill()
    gone = until_api(api[0], "/cluster",
                     lambda c: c["brokers"][2]["fenced"] is True
                     and c["under_replicated_partitions"] >= 3, timeout=60)
    assert gone["offline_partitions"] == 0, gone
    fenced = ok(api[1], "GET", "/brokers")["brokers"][2]
    assert fenced["id"] == 3 and fenced["log_dirs"] is None and fenced["log_dirs_error"], fenced
    # (A new leader's end offset can lag until its follower's next fetch moves the high
    # watermark: polled.)
    until_api(api[1], f"/topics/{topic}",
              lambda t: all(3 not in p["isr"] and p["end_offset"] == 4 for p in t["partitions"]))
    row = ok(api[0], "GET", f"/topics?search={topic}")["topics"][0]
    assert row["under_replicated_partitions"] == 3 and row["records"] == 12, row

    status, _, _ = call(api[1], "DELETE", f"/topics/{topic}")
    assert status == 204
    for address in api[:2]:
        until_api(address, f"/topics?search={topic}", lambda t: t["total"] == 0)


JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="alice-secret";')


def test_sasl_callers_with_acls(tmp_path):
    """The inter-broker listener uses SASL PLAIN with ACLs: the API logs in as its caller."""
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
        api = b.admin_address()
        root = ("admin", "admin-secret")
        alice = ("alice", "alice-secret")
        until_api(api, "/cluster", lambda c: len(c["brokers"]) == 1, auth=root)
        # No credentials, and wrong ones: 401 with a Basic challenge.
        for auth in (None, ("alice", "wrong"), ("nobody", "x")):
            status, headers, body = call(api, "GET", "/topics", auth=auth)
            assert status == 401, (auth, status, body)
            assert headers["WWW-Authenticate"].startswith("Basic"), headers
            assert body["error"] in ("UNAUTHORIZED", "SASL_AUTHENTICATION_FAILED"), body
        # The right password after a wrong one works (a refused login is not pooled).
        assert ok(api, "GET", "/topics", auth=alice)["total"] == 0

        topic = unique_topic("secret")
        ok(api, "POST", "/topics", {"name": topic, "partitions": 1}, expect=201, auth=root)
        # (The schema registry's _schemas topic is there too.)
        listed = [t["name"] for t in ok(api, "GET", "/topics", auth=root)["topics"]]
        assert [n for n in listed if not n.startswith("_")] == [topic], listed
        # alice may not describe it: not listed, not shown, not deleted.
        assert ok(api, "GET", "/topics", auth=alice) == {"total": 0, "offset": 0,
                                                           "limit": 100, "topics": []}
        error(api, "GET", f"/topics/{topic}", status=403, name="TOPIC_AUTHORIZATION_FAILED",
              auth=alice)
        error(api, "DELETE", f"/topics/{topic}", status=403, name="TOPIC_AUTHORIZATION_FAILED",
              auth=alice)
        error(api, "PATCH", "/brokers/1/configs", {"set": {"log.retention.ms": "1"}},
              status=403, name="CLUSTER_AUTHORIZATION_FAILED", auth=alice)
        # alice sees the cluster without the quorum (DescribeQuorum needs DESCRIBE on it), and
        # the brokers without their log dirs (DescribeLogDirs too).
        cluster = ok(api, "GET", "/cluster", auth=alice)
        assert cluster["quorum"] is None and cluster["topic_count"] == 0, cluster
        (broker,) = ok(api, "GET", "/brokers", auth=alice)["brokers"]
        assert broker["log_dirs"] is None and broker["log_dirs_error"], broker
        # Sluice refuses DescribeCluster without DESCRIBE on the cluster: the brokers come from
        # Metadata, their fenced state unknown.
        assert broker["id"] == 1 and broker["fenced"] is None, broker
        assert ok(api, "GET", "/cluster", auth=root)["quorum"]["leader_id"] == 1
        status, _, _ = call(api, "DELETE", f"/topics/{topic}", auth=root)
        assert status == 204
        assert "alice-secret" not in b.log_text() and "admin-secret" not in b.log_text()
        assert_no_panic(b)
    finally:
        try:
            b.stop(timeout=15)
        except Exception:
            b.kill()
