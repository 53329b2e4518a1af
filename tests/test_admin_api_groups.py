"""Issue 14 point 1, the JSON admin API's records and consumer groups (docs/admin-api.md):
records produced and browsed through the API (newest, oldest, by offset, by timestamp, by key
and text, the live tail), a consumer group of real clients (confluent-kafka) described with its
members and lag, its lag growing while it is stopped, its offsets reset and the group deleted
through the API; bad input answers the documented status and error.

One node, and a 3-node cluster where the API is called on a node that neither leads the
topic's partitions nor coordinates the group (the API is a Kafka client of its node)."""
import base64
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from conftest import Broker, Cluster, wait_until
from kafka_helpers import (admin, assert_no_panic, committed_offsets, transactional_producer,
                           unique_topic, wait_for_topic)

FAST_COORDINATORS = {"group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "3",
                     "transaction.state.log.num.partitions": "3"}


def call(address, method, path, body=None, timeout=40.0):
    """(status, parsed JSON body or None) of one API request."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{address}/api/v1{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if method != "GET":
        # Required of state-changing requests once the console's CSRF check is in.
        request.add_header("X-CSRF-Token", "test")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


def ok(address, method, path, body=None, expect=200):
    status, answer = call(address, method, path, body)
    assert status == expect, f"{method} {path}: {status} {answer}"
    return answer


def records_path(topic, **params):
    query = urllib.parse.urlencode(params)
    return f"/topics/{urllib.parse.quote(topic)}/records" + (f"?{query}" if query else "")


def texts(answer):
    return [r["value"]["text"] if r["value"] else None for r in answer["records"]]


def consumer(bootstrap, group, topic, **conf):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, **conf})
    c.subscribe([topic])
    return c


def consume_and_commit(c, count, timeout=60.0):
    got = 0
    deadline = time.monotonic() + timeout
    while got < count:
        assert time.monotonic() < deadline, f"consumed {got} of {count}"
        msg = c.poll(0.5)
        if msg is None or msg.error():
            continue
        got += 1
    c.commit(asynchronous=False)


def wait_member(api, group, timeout=60.0):
    def stable():
        status, g = call(api, "GET", f"/groups/{group}")
        return status == 200 and g["state"] == "Stable" and g["members"] and \
            g["members"][0]["assignments"] and g
    return wait_until(stable, timeout=timeout, interval=0.2, what=f"{group} to be Stable")


def flow(bootstrap, api, topic, group):
    """The whole story on one topic (2 partitions, created) and one group."""
    # --- produce through the API
    produced = []
    for i in range(10):
        answer = ok(api, "POST", records_path(topic),
                    {"key": f"k{i}", "value": f"v-{i}", "partition": i % 2,
                     "headers": [{"key": "h", "value": f"hv{i}"}]})
        assert answer["partition"] == i % 2 and answer["timestamp_ms"] > 0
        produced.append(answer)
    assert [p["offset"] for p in produced] == [i // 2 for i in range(10)]
    binary = ok(api, "POST", records_path(topic),
                {"key": base64.b64encode(b"bin").decode(),
                 "value": base64.b64encode(b"\xff\x00").decode(), "encoding": "base64"})
    tombstone = ok(api, "POST", records_path(topic), {"key": "gone", "value": None, "partition": 1})

    # --- browse
    everything = ok(api, "GET", records_path(topic, **{"from": "oldest", "limit": 100}))
    assert len(everything["records"]) == 12
    by_position = {(r["partition"], r["offset"]): r for r in everything["records"]}
    first = by_position[(0, 0)]
    assert first["key"] == {"size": 2, "base64": base64.b64encode(b"k0").decode(), "text": "k0"}
    assert first["value"]["text"] == "v-0" and first["timestamp_type"] == "CreateTime"
    assert first["headers"] == [{"key": "h", "value": {"size": 3, "base64":
                                 base64.b64encode(b"hv0").decode(), "text": "hv0"}}]
    raw = by_position[(binary["partition"], binary["offset"])]
    assert raw["value"] == {"size": 2, "base64": "/wA=", "text": None}
    assert by_position[(1, tombstone["offset"])]["value"] is None
    ends = {str(p): sum(1 for r in everything["records"] if r["partition"] == p) for p in (0, 1)}
    assert everything["next_offsets"] == ends

    keyed = ok(api, "GET", records_path(topic, **{"from": "oldest", "key": "k3"}))
    assert texts(keyed) == ["v-3"]
    searched = ok(api, "GET", records_path(topic, text="v-7"))
    assert texts(searched) == ["v-7"]
    assert ok(api, "GET", records_path(topic, key="nobody"))["records"] == []

    from_offset = ok(api, "GET", records_path(topic, **{"from": "offset", "offset": 3, "partition": 0}))
    assert [r["offset"] for r in from_offset["records"]] == list(range(3, int(ends["0"])))
    assert all(r["partition"] == 0 for r in from_offset["records"])
    assert from_offset["next_offsets"] == {"0": int(ends["0"])}

    at = produced[6]["timestamp_ms"]
    since = ok(api, "GET", records_path(topic, **{"from": "timestamp", "timestamp": at}))
    assert "v-6" in texts(since) and all(r["timestamp_ms"] >= at for r in since["records"])
    assert "v-0" not in texts(since) or produced[0]["timestamp_ms"] >= at

    newest = ok(api, "GET", records_path(topic, limit=3))
    assert len(newest["records"]) == 3
    stamps = [r["timestamp_ms"] for r in newest["records"]]
    assert stamps == sorted(stamps), "newest last"
    assert newest["next_offsets"] == ends
    newest_keyed = ok(api, "GET", records_path(topic, key="k2"))
    assert texts(newest_keyed) == ["v-2"]

    # --- the live tail: a read that waits, then a record arrives
    positions = ",".join(f"{p}:{o}" for p, o in sorted(ends.items()))
    tailed = {}

    def tail():
        tailed["answer"] = call(api, "GET", records_path(
            topic, **{"from": "offset", "offset": positions, "max_wait_ms": 20000}))

    reader = threading.Thread(target=tail)
    reader.start()
    arrived = ok(api, "POST", records_path(topic), {"key": "late", "value": "tail me", "partition": 0})
    reader.join(timeout=40)
    assert not reader.is_alive()
    status, answer = tailed["answer"]
    assert status == 200, answer
    assert texts(answer) == ["tail me"]
    assert answer["next_offsets"]["0"] == arrived["offset"] + 1
    total = 13

    # --- a consumer group of real clients
    c = consumer(bootstrap, group, topic)
    try:
        consume_and_commit(c, total)
        g = wait_member(api, group)
        assert g["protocol_type"] == "consumer" and g["protocol"]
        (member,) = g["members"]
        assigned = sorted((a["topic"], p) for a in member["assignments"] for p in a["partitions"])
        assert assigned == [(topic, 0), (topic, 1)]
        assert g["lag"] == 0
        offsets = {(o["topic"], o["partition"]): o for o in g["offsets"]}
        assert offsets[(topic, 0)]["committed_offset"] == offsets[(topic, 0)]["end_offset"]

        # With members: no reset, no delete.
        status, refused = call(api, "POST", f"/groups/{group}/offsets/reset", {"to": "earliest"})
        assert status == 409 and refused["error"] == "NON_EMPTY_GROUP", refused
        status, refused = call(api, "DELETE", f"/groups/{group}")
        assert status == 409 and refused["error"] == "NON_EMPTY_GROUP", refused
    finally:
        c.close()

    # --- lag grows while the group is stopped
    wait_until(lambda: ok(api, "GET", f"/groups/{group}")["state"] == "Empty", timeout=30,
               interval=0.2, what="the group to be empty")
    for i in range(5):
        ok(api, "POST", records_path(topic), {"value": f"more-{i}", "partition": i % 2})
    g = ok(api, "GET", f"/groups/{group}")
    assert g["lag"] == 5 and g["members"] == []
    assert sum(o["lag"] for o in g["offsets"]) == 5
    history = ok(api, "GET", f"/groups/{group}/lag-history")
    assert history["interval_ms"] == 10000
    assert history["points"] and history["points"][-1]["lag"] == 5
    listed = ok(api, "GET", f"/groups?search={urllib.parse.quote(group.upper())}")
    assert listed["total"] == 1, listed
    (summary,) = listed["groups"]
    assert summary["group_id"] == group and summary["lag"] == 5 and summary["members"] == 0
    assert summary["state"] == "Empty" and summary["coordinator"] == g["coordinator"]

    # --- reset offsets through the API; the group's committed offsets move
    reset = ok(api, "POST", f"/groups/{group}/offsets/reset", {"to": "earliest"})
    assert sorted((o["partition"], o["offset"]) for o in reset["offsets"]) == [(0, 0), (1, 0)]
    assert committed_offsets(bootstrap, group, topic, 2) == {0: 0, 1: 0}
    assert ok(api, "GET", f"/groups/{group}")["lag"] == total + 5

    ok(api, "POST", f"/groups/{group}/offsets/reset",
       {"to": "offset", "offset": 3, "topic": topic, "partitions": [0]})
    assert committed_offsets(bootstrap, group, topic, 2) == {0: 3, 1: 0}
    ok(api, "POST", f"/groups/{group}/offsets/reset",
       {"to": "timestamp", "timestamp_ms": produced[5]["timestamp_ms"], "topic": topic,
        "partitions": [1]})
    assert committed_offsets(bootstrap, group, topic, 2)[1] <= produced[5]["offset"]
    latest = ok(api, "POST", f"/groups/{group}/offsets/reset", {"to": "latest"})
    assert ok(api, "GET", f"/groups/{group}")["lag"] == 0
    assert {o["partition"]: o["offset"] for o in latest["offsets"]} == \
        committed_offsets(bootstrap, group, topic, 2)

    # --- delete
    assert call(api, "DELETE", f"/groups/{group}") == (204, None)
    status, gone = call(api, "GET", f"/groups/{group}")
    assert status == 404 and gone["error"] == "GROUP_ID_NOT_FOUND", gone
    status, gone = call(api, "DELETE", f"/groups/{group}")
    assert status == 404 and gone["error"] == "GROUP_ID_NOT_FOUND", gone


@pytest.fixture(scope="module")
def single():
    import tempfile
    with tempfile.TemporaryDirectory(prefix="sluice-api-groups-") as root:
        b = Broker(os.path.join(root, "data"), extra=FAST_COORDINATORS)
        b.start()
        try:
            yield b
        finally:
            try:
                b.stop(timeout=15)
            except Exception:
                b.kill()


def create(bootstrap, topic, partitions=2, replica_assignment=None):
    a = admin(bootstrap)
    new = NewTopic(topic, num_partitions=partitions, replica_assignment=replica_assignment) \
        if replica_assignment \
        else NewTopic(topic, partitions, 1)
    a.create_topics([new])[topic].result(timeout=30)
    wait_for_topic(bootstrap, topic, partitions, client=a)


def test_records_and_a_group_on_one_node(single):
    api = single.admin_address()
    topic = unique_topic("api-records")
    create(single.bootstrap, topic)
    flow(single.bootstrap, api, topic, unique_topic("api-group"))
    assert_no_panic(single)


def test_bad_input_answers_the_documented_errors(single):
    api = single.admin_address()
    topic = unique_topic("api-bad")
    create(single.bootstrap, topic)

    def error(method, path, body=None, status=400):
        got, answer = call(api, method, path, body)
        assert got == status, f"{method} {path}: {got} {answer}"
        assert set(answer) == {"error_code", "error", "message"} and answer["message"]
        return answer

    for params in ({"from": "yesterday"}, {"from": "offset"}, {"from": "offset", "offset": "-1"},
                   {"from": "timestamp", "timestamp": "soon"}, {"limit": "0"}, {"limit": "5000"},
                   {"max_wait_ms": "60000"}, {"partition": "x"}, {"colour": "red"}):
        error("GET", records_path(topic, **params))
    assert error("GET", records_path(topic, partition=7), status=404)["error"] == \
        "UNKNOWN_TOPIC_OR_PARTITION"
    missing = unique_topic("api-missing")
    assert error("GET", records_path(missing), status=404)["error"] == "UNKNOWN_TOPIC_OR_PARTITION"

    # Producing to a missing topic does not create it.
    assert error("POST", records_path(missing), {"value": "x"}, status=404)["error_code"] == 3
    assert missing not in admin(single.bootstrap).list_topics(timeout=10).topics
    error("POST", records_path(topic), {"value": "%%%", "encoding": "base64"})
    error("POST", records_path(topic), {"value": "x", "encoding": "rot13"})
    error("POST", records_path(topic), {"value": "x", "colour": "red"})
    error("POST", records_path(topic), {"value": "x", "partition": 9}, status=404)
    status, _ = call(api, "POST", records_path(topic), None)
    assert status == 400

    nobody = unique_topic("api-no-group")
    assert error("GET", f"/groups/{nobody}", status=404)["error"] == "GROUP_ID_NOT_FOUND"
    error("GET", f"/groups/{nobody}/lag-history", status=404)
    error("DELETE", f"/groups/{nobody}", status=404)
    error("POST", f"/groups/{nobody}/offsets/reset", {"to": "earliest"}, status=404)
    error("POST", f"/groups/{nobody}/offsets/reset", {"to": "sideways"})
    error("POST", f"/groups/{nobody}/offsets/reset", {"to": "offset"})
    error("POST", f"/groups/{nobody}/offsets/reset", {"to": "earliest", "topic": missing},
          status=404)
    error("GET", "/groups?limit=0")
    assert_no_panic(single)


@pytest.fixture(scope="module")
def cluster():
    import tempfile
    with tempfile.TemporaryDirectory(prefix="sluice-api-groups-3-") as root:
        c = Cluster(root, 3, extra={"offsets.topic.num.partitions": "3"})
        try:
            yield c
        finally:
            c.stop()


def test_records_and_a_group_through_a_bystander_node(cluster):
    """The topic's partitions are led by node 3; the group's coordinator is another node; the
    API is called on the node that is neither."""
    topic = unique_topic("api-records-3")
    create(cluster.bootstrap, topic, partitions=2, replica_assignment=[[3], [3]])
    apis = {i + 1: b.admin_address() for i, b in enumerate(cluster.brokers)}
    # A group whose coordinator is not node 3 (offsets committed outside the group make it).
    for attempt in range(20):
        group = unique_topic("api-group-3")
        c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group,
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
        finally:
            c.close()
        coordinator = ok(apis[1], "GET", f"/groups/{group}")["coordinator"]
        ok(apis[1], "DELETE", f"/groups/{group}", expect=204)
        if coordinator != 3:
            break
    else:
        pytest.fail("no group id found whose coordinator is not node 3")
    (bystander,) = {1, 2} - {coordinator}
    flow(cluster.bootstrap, apis[bystander], topic, group)
    for b in cluster.brokers:
        assert_no_panic(b)


def test_a_kip848_consumer_group_shows_its_members(single):
    """A consumer with group.protocol=consumer (KIP-848): its member and assignment come from
    ConsumerGroupDescribe."""
    api = single.admin_address()
    topic = unique_topic("api-848")
    create(single.bootstrap, topic)
    for i in range(4):
        ok(api, "POST", records_path(topic), {"value": f"r{i}", "partition": i % 2})
    group = unique_topic("api-848-group")
    c = Consumer({"bootstrap.servers": single.bootstrap, "group.id": group,
                  "group.protocol": "consumer", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    try:
        consume_and_commit(c, 4)
        g = wait_member(api, group)
        (member,) = g["members"]
        assigned = sorted((a["topic"], p) for a in member["assignments"] for p in a["partitions"])
        assert assigned == [(topic, 0), (topic, 1)]
        assert g["protocol_type"] == "consumer" and g["lag"] == 0
        listed = ok(api, "GET", f"/groups?search={group}")
        assert listed["groups"][0]["members"] == 1
    finally:
        c.close()
    assert_no_panic(single)


def test_read_committed_leaves_out_aborted_records(single):
    api = single.admin_address()
    topic = unique_topic("api-txn")
    create(single.bootstrap, topic, partitions=1)
    p = transactional_producer(single.bootstrap, unique_topic("api-txn-id"))
    p.begin_transaction()
    p.produce(topic, value=b"aborted", partition=0)
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic, value=b"committed", partition=0)
    p.commit_transaction(30)
    everything = ok(api, "GET", records_path(topic, **{"from": "oldest"}))
    assert texts(everything) == ["aborted", "committed"]
    committed = ok(api, "GET", records_path(topic, **{"from": "oldest", "read_committed": "true"}))
    assert texts(committed) == ["committed"]
    assert texts(ok(api, "GET", records_path(topic, read_committed="true"))) == ["committed"]


def test_groups_are_listed_by_page_with_their_lag(cluster):
    """Three groups with committed offsets (on whichever coordinators): paged, sorted by name,
    each with its lag."""
    topic = unique_topic("api-pages")
    create(cluster.bootstrap, topic, partitions=2)
    api = cluster.brokers[0].admin_address()
    for i in range(6):
        ok(api, "POST", records_path(topic), {"value": f"r{i}", "partition": i % 2})
    prefix = unique_topic("api-page")
    for i, committed in enumerate([(0, 0), (1, 2), (3, 3)]):
        c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": f"{prefix}-{i}",
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, p, o) for p, o in enumerate(committed)],
                     asynchronous=False)
        finally:
            c.close()
    first = ok(api, "GET", f"/groups?search={prefix}&limit=2")
    assert first["total"] == 3 and first["offset"] == 0 and first["limit"] == 2
    assert [g["group_id"] for g in first["groups"]] == [f"{prefix}-0", f"{prefix}-1"]
    assert [g["lag"] for g in first["groups"]] == [6, 3]
    rest = ok(api, "GET", f"/groups?search={prefix}&limit=2&offset=2")
    assert [(g["group_id"], g["lag"], g["state"]) for g in rest["groups"]] == \
        [(f"{prefix}-2", 0, "Empty")]
    assert all(g["coordinator"] in (1, 2, 3) for g in first["groups"] + rest["groups"])


def test_a_filtered_read_scans_a_bounded_amount_and_says_how_far(single):
    """60,000 records, then one that matches: a search from the oldest stops after its bound
    (50,000 offsets) and says where it got to; asked again from there, it finds the record.
    From the newest it is found at once."""
    from kafka_helpers import confluent_producer
    api = single.admin_address()
    topic = unique_topic("api-scan")
    create(single.bootstrap, topic, partitions=1)
    p = confluent_producer(single.bootstrap, **{"linger.ms": 50, "batch.num.messages": 10000})
    for i in range(60000):
        p.produce(topic, value=b"hay", partition=0)
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    needle = ok(api, "POST", records_path(topic), {"value": "needle", "partition": 0})
    assert needle["offset"] == 60000

    first = ok(api, "GET", records_path(topic, **{"from": "oldest", "text": "needle"}))
    assert first["records"] == []
    reached = first["next_offsets"]["0"]
    assert 0 < reached < 60000
    again = ok(api, "GET", records_path(topic, **{"from": "offset", "offset": f"0:{reached}",
                                                  "text": "needle"}))
    assert texts(again) == ["needle"]
    assert texts(ok(api, "GET", records_path(topic, text="needle"))) == ["needle"]


def test_the_lag_of_a_watched_group_is_sampled(single):
    """Asking for a group's lag history starts watching it: the node's sampler adds points
    (every 10 s) without anyone asking again."""
    api = single.admin_address()
    topic = unique_topic("api-sampled")
    create(single.bootstrap, topic, partitions=1)
    for i in range(4):
        ok(api, "POST", records_path(topic), {"value": f"r{i}", "partition": 0})
    group = unique_topic("api-sampled-group")
    c = Consumer({"bootstrap.servers": single.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    finally:
        c.close()
    first = ok(api, "GET", f"/groups/{group}/lag-history")
    assert [p["lag"] for p in first["points"]] == [3]
    ok(api, "POST", records_path(topic), {"value": "r4", "partition": 0})

    def sampled():
        points = ok(api, "GET", f"/groups/{group}/lag-history")["points"]
        return len(points) >= 2 and points

    # An ask replaces a point younger than 5 s, so asking every 2 s never adds one: a second
    # point comes from the sampler (the asks keep the group watched).
    points = wait_until(sampled, timeout=60, interval=2.0, what="a sampled lag point")
    assert points[-1]["lag"] == 4 or points[-2]["lag"] == 4
    assert all(b["time_ms"] > a["time_ms"] for a, b in zip(points, points[1:]))


def test_the_api_acts_as_its_caller(data_root):
    """With SASL on the inter-broker listener and an authorizer, the API logs in as the HTTP
    Basic user: a user without ACLs is refused the topic's records and the group (403 with
    Kafka's error), missing credentials are a 401, a super user is served."""
    from conftest import free_port
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="admin" password="admin-secret" user_admin="admin-secret" '
            'user_alice="alice-secret";')
    sasl_port = free_port()
    b = Broker(os.path.join(data_root, "data"), extra={
        **FAST_COORDINATORS,
        "listeners": f"PLAINTEXT://127.0.0.1:{free_port()},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin;User:ANONYMOUS",
    })
    b.start()
    try:
        api = b.admin_address()
        topic = unique_topic("api-acl")
        create(b.bootstrap, topic, partitions=1)
        group = unique_topic("api-acl-group")
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
        finally:
            c.close()

        def as_user(user, method, path, body=None):
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(f"http://{api}/api/v1{path}", data=data,
                                             method=method)
            if user:
                token = base64.b64encode(f"{user}:{user}-secret".encode()).decode()
                request.add_header("Authorization", f"Basic {token}")
            if data is not None:
                request.add_header("Content-Type", "application/json")
                request.add_header("X-CSRF-Token", "test")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, json.loads(response.read() or b"null")
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")

        assert as_user(None, "GET", records_path(topic))[0] == 401
        status, refused = as_user("alice", "POST", records_path(topic), {"value": "x"})
        assert status == 403 and refused["error"] == "TOPIC_AUTHORIZATION_FAILED", refused
        status, refused = as_user("alice", "GET", records_path(topic))
        assert status == 403 and refused["error"] == "TOPIC_AUTHORIZATION_FAILED", refused
        status, refused = as_user("alice", "GET", f"/groups/{group}")
        assert status == 403 and refused["error"] == "GROUP_AUTHORIZATION_FAILED", refused

        status, produced = as_user("admin", "POST", records_path(topic), {"value": "x"})
        assert status == 200, produced
        status, read = as_user("admin", "GET", records_path(topic))
        assert status == 200 and texts(read) == ["x"], read
        status, described = as_user("admin", "GET", f"/groups/{group}")
        assert status == 200 and described["lag"] == 1, described
        assert_no_panic(b)
    finally:
        try:
            b.stop(timeout=15)
        except Exception:
            b.kill()


def test_log_append_time_and_offsets_past_the_end(single):
    """A LogAppendTime topic: the produce answer's timestamp is the broker's, and the record
    reads back with it. An offset past the end starts at the end."""
    api = single.admin_address()
    topic = unique_topic("api-append-time")
    a = admin(single.bootstrap)
    a.create_topics([NewTopic(topic, 1, 1, config={"message.timestamp.type": "LogAppendTime"})]
                    )[topic].result(timeout=30)
    wait_for_topic(single.bootstrap, topic, 1, client=a)
    produced = ok(api, "POST", records_path(topic), {"key": "k", "value": "v"})
    (record,) = ok(api, "GET", records_path(topic))["records"]
    assert record["timestamp_type"] == "LogAppendTime"
    assert record["timestamp_ms"] == produced["timestamp_ms"]
    past = ok(api, "GET", records_path(topic, **{"from": "offset", "offset": 99}))
    assert past == {"records": [], "next_offsets": {"0": 1}}
