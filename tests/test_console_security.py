"""The console's transactions and security pages (issue 15 point 2) and the admin API under them
(/api/v1/transactions, /topics/{t}/producers, /acls, /users, /quotas): bad input over HTTP
(stdlib urllib), and the pages in headless Chromium (Selenium, as tests/test_console.py).

One SASL broker with an authorizer serves the whole module: PLAIN (the JAAS users admin, a
super user, and alice) and SCRAM-SHA-256 on its listener. The admin API logs in with the
strongest password mechanism the listener enables, SCRAM-SHA-256, so admin gets a SCRAM
credential first (through confluent-kafka, logged in with PLAIN). Screenshots go under
target/console-screenshots/.
"""
import base64
import os
import shutil
import subprocess
import json
import tempfile

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (NewTopic, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)

from conftest import SLUICE_BIN, Broker, wait_until
from kafka_helpers import admin, assert_no_panic, unique_topic
from test_console import AUTHORIZER, JAAS, Console, admin_base, http, sasl_conf

ADMIN_AUTH = "Basic " + base64.b64encode(b"admin:admin-secret").decode()
# Without a session cookie any non-empty CSRF token will do.
WRITE = {"Authorization": ADMIN_AUTH, "X-CSRF-Token": "test"}
READ = {"Authorization": ADMIN_AUTH}
# The write controls of the two pages (a read-only console renders none of them).
WRITE_CONTROLS = ["#user-form", "#acl-form", "#quota-form", ".user-delete", ".acl-delete",
                  ".quota-remove"]


class Node:
    def __init__(self, broker, base):
        self.broker = broker
        self.base = base

    def api(self, method, path, body=None, headers=None):
        return http(self.base, method, "/api/v1" + path, body,
                    headers or (READ if method == "GET" else WRITE))


@pytest.fixture(scope="module")
def node():
    root = tempfile.mkdtemp(prefix="sluice-test-")
    broker = Broker(os.path.join(root, "data"), extra={
        "listener.security.protocol.map": "PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
    })
    try:
        broker.start()
        root_admin = admin(broker.bootstrap, **sasl_conf(broker, "admin"))
        upsert = UserScramCredentialUpsertion(
            "admin", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"admin-secret")
        for f in root_admin.alter_user_scram_credentials([upsert]).values():
            f.result(30)
        n = Node(broker, admin_base(broker))
        wait_until(lambda: n.api("GET", "/users").status == 200, timeout=30,
                   what="admin's SCRAM login to the admin API")
        yield n
    finally:
        try:
            broker.stop(timeout=15)
        except Exception:
            broker.kill()
        shutil.rmtree(root, ignore_errors=True)


def full_log(broker):
    with open(broker.log_path, "rb") as f:
        return f.read().decode(errors="replace")


def refused(answer, status, error=None):
    assert answer.status == status, (answer.status, answer.body)
    body = answer.json()
    assert body["message"], body
    if error is not None:
        assert body["error"] == error, body


# ---------------------------------------------------------------------------------------------
# The API over HTTP


def test_api_bad_input_answers_documented_errors(node):
    # Transactions and producers.
    for path in ["/transactions?producer_id=-1", "/transactions?producer_id=x",
                 "/transactions?min_duration_ms=soon", "/transactions?colour=red",
                 "/transactions?limit=0"]:
        refused(node.api("GET", path), 400)
    refused(node.api("GET", "/topics/no-such-topic/producers"), 404,
            "UNKNOWN_TOPIC_OR_PARTITION")
    # ACLs.
    refused(node.api("GET", "/acls?resource_type=planet"), 400)
    refused(node.api("GET", "/acls?colour=red"), 400)
    refused(node.api("POST", "/acls", {"acls": []}), 400)
    refused(node.api("POST", "/acls", {"acls": "everything"}), 400)
    good = {"resource_type": "topic", "resource_name": "t", "principal": "User:bob",
            "operation": "read"}
    refused(node.api("POST", "/acls", {"acls": [{**good, "operation": "fly"}]}), 400)
    refused(node.api("POST", "/acls", {"acls": [{**good, "colour": "red"}]}), 400)
    # The broker's own check: a principal must read as Type:name.
    refused(node.api("POST", "/acls", {"acls": [{**good, "principal": "bob"}]}), 400,
            "INVALID_REQUEST")
    refused(node.api("DELETE", "/acls", {"filters": []}), 400)
    refused(node.api("DELETE", "/acls", {"filters": [{"resource_type": "topic"}]}), 400)
    # Users.
    refused(node.api("POST", "/users", {"user": "", "password": "p"}), 400)
    refused(node.api("POST", "/users", {"user": "u", "password": ""}), 400)
    refused(node.api("POST", "/users", {"user": "u", "password": "p", "mechanism": "MD5"}), 400)
    refused(node.api("POST", "/users", {"user": "u", "password": "p", "iterations": 10}), 400)
    refused(node.api("POST", "/users", {"user": "u", "password": "p", "colour": 1}), 400)
    refused(node.api("DELETE", "/users/nobody"), 404, "RESOURCE_NOT_FOUND")
    refused(node.api("DELETE", "/users/nobody?mechanism=MD5"), 400)
    # Quotas.
    refused(node.api("GET", "/quotas?user=a&user_default=true"), 400)
    refused(node.api("GET", "/quotas?strict=true"), 400)
    refused(node.api("GET", "/quotas?strict=maybe"), 400)
    refused(node.api("PATCH", "/quotas", {"entity": {}, "set": {"producer_byte_rate": 1}}), 400)
    refused(node.api("PATCH", "/quotas", {"entity": {"planet": "x"},
                                          "set": {"producer_byte_rate": 1}}), 400)
    refused(node.api("PATCH", "/quotas", {"entity": {"user": 5},
                                          "set": {"producer_byte_rate": 1}}), 400)
    refused(node.api("PATCH", "/quotas", {"entity": {"user": "u"},
                                          "set": {"producer_byte_rate": "fast"}}), 400)
    refused(node.api("PATCH", "/quotas", {"entity": {"user": "u"},
                                          "set": {"producer_byte_rate": -5}}), 400)
    refused(node.api("PATCH", "/quotas", {"entity": {"user": "u"}, "delete": ["colour"]}), 400)
    refused(node.api("PATCH", "/quotas", {"entity": {"user": "u"}}), 400)
    # Writes need the CSRF token.
    refused(node.api("POST", "/users", {"user": "u", "password": "p"}, headers=READ), 403)
    assert_no_panic(node.broker)


def test_api_users_acls_quotas_round_trip(node):
    password = "round-trip-pw-5b1e"
    created = node.api("POST", "/users", {"user": "erin", "password": password,
                                          "mechanism": "SCRAM-SHA-512", "iterations": 8192})
    assert created.status == 201, created.body
    assert created.json() == {"user": "erin", "credentials": [
        {"mechanism": "SCRAM-SHA-512", "iterations": 8192}]}
    users = {u["user"] for u in node.api("GET", "/users").json()["users"]}
    assert {"admin", "erin"} <= users
    assert password not in full_log(node.broker)

    topic = unique_topic("acl")
    binding = {"resource_type": "TOPIC", "resource_name": topic, "pattern_type": "LITERAL",
               "principal": "User:erin", "host": "*", "operation": "WRITE",
               "permission": "ALLOW"}
    answer = node.api("POST", "/acls", {"acls": [{**binding, "resource_type": "topic",
                                                  "operation": "write"}]})
    assert answer.status == 201, answer.body
    assert answer.json() == {"created": [binding]}
    listed = node.api("GET", f"/acls?principal=User:erin&resource_name={topic}").json()
    assert listed == {"acls": [binding]}
    deleted = node.api("DELETE", "/acls", {"filters": [binding]})
    assert deleted.status == 200 and deleted.json() == {"deleted": [binding]}, deleted.body

    changed = node.api("PATCH", "/quotas", {"entity": {"user": "erin", "client-id": None},
                                            "set": {"consumer_byte_rate": "2048"}})
    assert changed.status == 204, changed.body
    quotas = node.api("GET", "/quotas?user=erin").json()["quotas"]
    assert quotas == [{"entity": {"user": "erin", "client-id": None},
                       "path": "/users/erin/clients/<default>",
                       "values": {"consumer_byte_rate": 2048.0}}], quotas
    node.api("PATCH", "/quotas", {"entity": {"user": "erin", "client-id": None},
                                  "delete": ["consumer_byte_rate"]})
    assert node.api("DELETE", "/users/erin").status == 204
    assert "erin" not in {u["user"] for u in node.api("GET", "/users").json()["users"]}
    assert_no_panic(node.broker)


# ---------------------------------------------------------------------------------------------
# The pages in a browser


@pytest.fixture
def console_factory(request):
    consoles = []

    def make(base):
        c = Console(base, request.node.name)
        consoles.append(c)
        return c

    yield make
    for c in consoles:
        c.close()


def logged_in(console, route, user, password):
    console.open(route)
    console.login(user, password)
    console.wait(lambda: console.text("#user") == user, what=f"{user}'s login")


def test_admin_creates_a_user_and_an_acl_in_the_ui_and_that_user_sees_only_that_topic(
        node, console_factory):
    seen, hidden = unique_topic("seen"), unique_topic("hidden")
    root = admin(node.broker.bootstrap, **sasl_conf(node.broker, "admin"))
    for t in (seen, hidden):
        root.create_topics([NewTopic(t, 1, 1)])[t].result(30)
    console = console_factory(node.base)
    logged_in(console, "/security", "admin", "admin-secret")
    console.element("#user-form")
    console.shot("security")
    console.fill("#user-name", "carol")
    console.fill("#user-password", "carol-ui-secret")
    console.click("#user-submit")
    console.wait(lambda: console.find('#users-table tr[data-user="carol"]'), what="carol listed")
    console.fill("#acl-principal", "User:carol")
    console.select("#acl-operation", "DESCRIBE")
    console.select("#acl-resource-type", "TOPIC")
    console.fill("#acl-resource-name", seen)
    console.click("#acl-submit")
    console.wait(lambda: seen in [e.text for e in console.all("#acls-table .acl-resource")],
                 what="the new ACL listed")
    console.shot("user-and-acl-created")
    assert "carol-ui-secret" not in full_log(node.broker)

    console.click("#logout")
    console.element("#login-form")
    logged_in(console, "/topics", "carol", "carol-ui-secret")
    console.wait(lambda: console.find("#topics-table") or console.find("#main .muted"),
                 what="carol's topic list")
    names = [a.text for a in console.all("#topics-table a.topic-link")]
    console.shot("topics-as-carol")
    assert seen in names and hidden not in names, names
    # Carol may not describe the cluster's users: that section says so, the page still works.
    console.open("/security")
    console.wait(lambda: console.find("#security-users .error"), what="the users refusal")
    console.shot("security-as-carol")
    assert "AUTHORIZATION_FAILED" in console.text("#security-users .error")
    assert_no_panic(node.broker)


def test_an_open_transaction_and_its_producer_are_shown(node, console_factory):
    topic = unique_topic("txn")
    txn_id = unique_topic("console-txn")
    root = admin(node.broker.bootstrap, **sasl_conf(node.broker, "admin"))
    root.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer({**sasl_conf(node.broker, "admin"), "transactional.id": txn_id})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"v")
    assert producer.flush(30) == 0
    try:
        console = console_factory(node.base)
        logged_in(console, f"/transactions?search={txn_id}", "admin", "admin-secret")
        row = f'#transactions-table tr[data-txn="{txn_id}"]'
        console.wait(lambda: console.find(row) and console.text(f"{row} .txn-state") == "Ongoing",
                     what="the open transaction")
        console.shot("transactions")
        assert f"{topic}-0" in console.text(row)
        console.open(f"/topics/{topic}")
        console.click("#topic-producers")
        console.wait(lambda: console.find("#producers-table td.producer-id"),
                     what="the producer with state")
        console.shot("producers")
        described = node.api("GET", f"/topics/{topic}/producers").json()
        producers = described["partitions"][0]["producers"]
        assert len(producers) == 1 and producers[0]["current_txn_start_offset"] == 0, described
        assert console.text("#producers-table td.producer-id") == str(producers[0]["producer_id"])
    finally:
        producer.abort_transaction(30)
    assert_no_panic(node.broker)


def cli_quotas(broker, user):
    """DescribeClientQuotas from a separate Kafka client: `sluice quota describe`."""
    out = subprocess.run(
        [SLUICE_BIN, "quota", "describe", "-b", broker.bootstrap, "--user", user,
         "--output", "json", "-X", "security.protocol=SASL_PLAINTEXT",
         "-X", "sasl.mechanism=PLAIN", "-X", "sasl.username=admin",
         "-X", "sasl.password=admin-secret"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_quota_set_in_the_ui_is_what_a_client_describes(node, console_factory):
    user = unique_topic("dora")
    console = console_factory(node.base)
    logged_in(console, "/security", "admin", "admin-secret")
    console.fill("#quota-user", user)
    console.select("#quota-key", "producer_byte_rate")
    console.fill("#quota-value", "1048576")
    console.click("#quota-submit")
    row = f'#quotas-table tr[data-path="/users/{user}"][data-key="producer_byte_rate"]'
    console.wait(lambda: console.find(row), what="the quota listed")
    console.shot("quota-set")
    wait_until(lambda: cli_quotas(node.broker, user) == [
        {"entity": {"user": user}, "values": {"producer_byte_rate": 1048576.0}}],
        timeout=30, what="the quota described by a client")
    # Removed from the UI (after a confirmation), gone for the client too.
    console.click(f"{row} .quota-remove")
    console.click("#confirm-ok")
    console.wait(lambda: console.find(row) is None, what="the quota removed")
    wait_until(lambda: cli_quotas(node.broker, user) == [], timeout=30,
               what="the quota gone for a client")
    assert_no_panic(node.broker)


def test_read_only_console_offers_no_security_write(broker_factory, console_factory):
    broker = broker_factory({"console.read.only": "true"})
    base = admin_base(broker)
    console = console_factory(base)
    console.open("/security")
    # Without an authorizer the ACL section says so (SECURITY_DISABLED); users and quotas list.
    console.wait(lambda: console.find("#users-table") or console.find("#security-users p"),
                 what="the users section")
    console.wait(lambda: console.find("#quotas-table") or console.find("#security-quotas p"),
                 what="the quotas section")
    console.wait(lambda: console.find("#acls-table") or console.find("#security-acls .error"),
                 what="the ACLs section")
    console.shot("security-read-only")
    assert [c for c in WRITE_CONTROLS if console.find(c)] == []
    assert http(base, "POST", "/api/v1/users", {"user": "u", "password": "p"},
                {"X-CSRF-Token": "t"}).status == 403
    assert_no_panic(broker)
