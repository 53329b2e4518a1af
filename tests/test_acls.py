"""Authorization with real clients (issue 13, first part): with Kafka's StandardAuthorizer
named in `authorizer.class.name`, a principal without ACLs is refused with Kafka's error codes
(TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED for an
idempotent producer), Metadata hides the topics it may not describe, `super.users` pass,
and `allow.everyone.if.no.acl.found=true` opens resources no ACL names."""
import json
import subprocess
import time

import pytest

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import NewTopic

from conftest import free_port
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

from kafka_helpers import KafkaWire, admin, assert_no_panic, kcat, unique_topic

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="alice-secret";')
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def secured(broker_factory, **extra):
    port = free_port()
    settings = {
        "listeners": f"PLAINTEXT://127.0.0.1:{free_port()},SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        # The PLAINTEXT listener (the harness's and the brokers' own) acts as ANONYMOUS.
        "super.users": "User:admin;User:ANONYMOUS",
    }
    settings.update(extra)
    broker = broker_factory(settings)
    return broker, f"127.0.0.1:{port}"


def conf(address, user):
    return {"bootstrap.servers": address, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN", "sasl.username": user,
            "sasl.password": f"{user}-secret"}


def produce_error(address, user, topic, **extra):
    """The delivery error of one record produced as `user` (None: delivered)."""
    errors = []
    producer = Producer({**conf(address, user), "message.timeout.ms": 10000,
                         "enable.idempotence": False, **extra})
    producer.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(20)
    assert errors, "a delivery report"
    return errors[0]


def test_principals_without_acls_are_refused_with_kafkas_codes(broker_factory):
    broker, address = secured(broker_factory)
    topic = unique_topic("acl")
    root = admin(address, **conf(address, "admin"))
    root.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    # The super user produces; alice, with no ACL, is refused per partition.
    assert produce_error(address, "admin", topic) is None
    err = produce_error(address, "alice", topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    # An idempotent producer needs IDEMPOTENT_WRITE (or WRITE on some topic): InitProducerId
    # is refused with CLUSTER_AUTHORIZATION_FAILED, a fatal error for librdkafka.
    errors = []
    idem = Producer({**conf(address, "alice"), "enable.idempotence": True,
                     "message.timeout.ms": 10000,
                     "error_cb": lambda e: errors.append(e)})
    idem.produce(topic, b"v")
    deadline = time.monotonic() + 15
    while not errors and time.monotonic() < deadline:
        try:
            idem.poll(0.2)
        except KafkaException as e:  # the fatal error surfaces here
            errors.append(e.args[0])
    assert any(e.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED for e in errors), errors
    # Metadata as alice hides the topic; named, it is refused without saying it exists, and
    # so is a name that does not exist.
    alice = admin(address, **conf(address, "alice"))
    assert topic not in alice.list_topics(timeout=10).topics
    named = alice.list_topics(topic=topic, timeout=10).topics[topic]
    assert named.error is not None and \
        named.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    ghost = unique_topic("ghost")
    unknown = alice.list_topics(topic=ghost, timeout=10).topics[ghost]
    assert unknown.error is not None and \
        unknown.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert ghost not in admin(address, **conf(address, "admin")).list_topics(timeout=10).topics
    # A consumer group without READ on the group: GROUP_AUTHORIZATION_FAILED.
    consumer = Consumer({**conf(address, "alice"), "group.id": "g-" + topic,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    seen = None
    deadline = time.monotonic() + 20
    while seen is None and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error() and m.error().code() in (
                KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED):
            seen = m.error().code()
    consumer.close()
    assert seen == KafkaError.GROUP_AUTHORIZATION_FAILED, seen
    assert "alice-secret" not in broker.log_text()
    assert_no_panic(broker)


def test_allow_everyone_if_no_acl_found(broker_factory):
    broker, address = secured(broker_factory, **{"allow.everyone.if.no.acl.found": "true"})
    topic = unique_topic("open")
    assert produce_error(address, "alice", topic) is None  # auto-created, written
    assert topic in admin(address, **conf(address, "alice")).list_topics(timeout=10).topics
    assert_no_panic(broker)


def test_authorizer_class_name_must_be_known(tmp_path):
    import subprocess

    from conftest import SLUICE_BIN
    out = subprocess.run([SLUICE_BIN, "server", "--set", "authorizer.class.name=com.example.X",
                          "--set", f"log.dirs={tmp_path}"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0
    assert "StandardAuthorizer" in out.stderr, out.stderr


# The acceptance scenario: ACLs created with AdminClient.create_acls.

def acl(resource_type, name, principal, operation, permission=None, pattern=None):
    from confluent_kafka.admin import (AclBinding, AclPermissionType, ResourcePatternType)
    return AclBinding(resource_type, name, pattern or ResourcePatternType.LITERAL, principal,
                      "*", operation, permission or AclPermissionType.ALLOW)


def create_acls(client, bindings):
    for f in client.create_acls(bindings, request_timeout=30).values():
        assert f.result(30) is None


def wait_for_acls(client, count):
    from confluent_kafka.admin import AclBindingFilter, AclOperation, AclPermissionType, \
        ResourcePatternType, ResourceType
    any_filter = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    deadline = time.monotonic() + 30
    while True:
        found = client.describe_acls(any_filter, request_timeout=30).result(30)
        if len(found) == count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_alice_and_bob_with_acls_and_the_audit_log(broker_factory, tmp_path):
    from confluent_kafka.admin import AclOperation as Op, AclPermissionType, \
        ResourcePatternType, ResourceType as Rt
    audit_dir = tmp_path / "audit"
    jaas = JAAS.replace('user_alice="alice-secret";',
                        'user_alice="alice-secret" user_bob="bob-secret";')
    broker, address = secured(broker_factory, **{
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "audit.enabled": "true", "audit.log.dir": str(audit_dir)})
    root = admin(address, **conf(address, "admin"))
    orders = "orders-" + unique_topic("eu")  # under alice's prefix
    payments, hidden = unique_topic("payments"), unique_topic("hidden")
    for t in (orders, payments, hidden):
        root.create_topics([NewTopic(t, 1, 1)])[t].result(30)
    create_acls(root, [
        acl(Rt.TOPIC, "orders-", "User:alice", Op.WRITE, pattern=ResourcePatternType.PREFIXED),
        acl(Rt.TOPIC, orders, "User:bob", Op.READ),
        acl(Rt.TOPIC, payments, "User:bob", Op.READ),
        acl(Rt.TOPIC, payments, "User:bob", Op.READ, AclPermissionType.DENY),
    ])
    assert len(wait_for_acls(root, 4)) == 4
    # alice writes under her prefix, not elsewhere (librdkafka and kcat alike).
    assert produce_error(address, "alice", orders) is None
    err = produce_error(address, "alice", payments)
    assert err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    kcat_args = ["-b", address, "-X", "security.protocol=SASL_PLAINTEXT",
                 "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice",
                 "-X", "sasl.password=alice-secret"]
    kcat("-P", "-t", orders, *kcat_args, input=b"from-kcat\n")
    refused = subprocess.run(["kcat", "-P", "-t", payments, *kcat_args], input=b"x\n",
                             capture_output=True, timeout=60)
    assert b"authorization failed" in refused.stderr.lower(), refused.stderr
    # bob may read `orders` but has no READ on his group: GROUP_AUTHORIZATION_FAILED.
    consumer = Consumer({**conf(address, "bob"), "group.id": "bobs-group",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([orders])
    seen = None
    deadline = time.monotonic() + 20
    while seen is None and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error():
            seen = m.error().code()
    consumer.close()
    assert seen == KafkaError.GROUP_AUTHORIZATION_FAILED, seen
    # Metadata as bob hides the topic he has no ACL on. READ implies DESCRIBE; the DENY on
    # READ does not deny DESCRIBE (only ALLOWs imply), so payments stays visible.
    bob = admin(address, **conf(address, "bob"))
    visible = set(bob.list_topics(timeout=10).topics)
    assert orders in visible and payments in visible and hidden not in visible
    # kafka-python as bob: DENY beats ALLOW on payments.
    import kafka
    from kafka.errors import TopicAuthorizationFailedError
    kp = kafka.KafkaConsumer(bootstrap_servers=address, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="PLAIN", sasl_plain_username="bob",
                             sasl_plain_password="bob-secret", consumer_timeout_ms=5000,
                             auto_offset_reset="earliest")
    from kafka import TopicPartition
    kp.assign([TopicPartition(payments, 0)])
    try:
        kp.poll(timeout_ms=5000)
        denied = False
    except TopicAuthorizationFailedError:
        denied = True
    finally:
        kp.close()
    assert denied, "kafka-python read a topic a DENY covers"
    # The audit log has each denial with principal and resource; no secret.
    def audit_lines():
        path = audit_dir / "audit.log"
        return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []

    def denied_for(principal, resource):
        return any(l["kind"] == "authorization" and l["result"] == "DENIED"
                   and l["principal"] == principal and l["resource_name"] == resource
                   for l in audit_lines())

    deadline = time.monotonic() + 10
    while not (denied_for("User:alice", payments) and denied_for("User:bob", "bobs-group")
               and denied_for("User:bob", payments)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert denied_for("User:alice", payments), audit_lines()[-5:]
    assert denied_for("User:bob", "bobs-group")
    assert denied_for("User:bob", payments)
    assert any(l["kind"] == "authorization" and l["api"] == "CreateAcls"
               and l["result"] == "ALLOWED" for l in audit_lines())
    text = (audit_dir / "audit.log").read_text()
    assert "secret" not in text
    assert_no_panic(broker)


def test_acls_on_three_nodes_survive_kill_9(data_root):
    """ACLs live in the metadata log: every broker enforces the same set (partition leaders on
    all three, produced to through each), and a cluster killed with SIGKILL and restarted
    still has them. The brokers log in to each other as admin, a super user (replica fetches
    need CLUSTER_ACTION)."""
    from confluent_kafka.admin import AclOperation as Op, ResourceType as Rt

    from conftest import Cluster
    cluster = Cluster(data_root, n=3, extra={
        "listener.security.protocol.map": "PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.plaintext.plain.sasl.jaas.config": JAAS,
        "listener.name.controller.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
        "min.insync.replicas": "2",
    })
    try:
        root = admin(cluster.bootstrap, **conf(cluster.bootstrap, "admin"))
        topic = unique_topic("acl-rf3")
        root.create_topics([NewTopic(topic, 3, 3)])[topic].result(60)
        create_acls(root, [acl(Rt.TOPIC, topic, "User:alice", Op.WRITE),
                           acl(Rt.TOPIC, topic, "User:alice", Op.DESCRIBE)])
        assert len(wait_for_acls(root, 2)) == 2

        def alice_writes_everywhere():
            producer = Producer({**conf(cluster.bootstrap, "alice"), "acks": "all",
                                 "enable.idempotence": False, "message.timeout.ms": 10000})
            errors = []
            for p in range(3):
                producer.produce(topic, b"v", partition=p,
                                 on_delivery=lambda err, msg: errors.append(err))
            producer.flush(20)
            return len(errors) == 3 and all(e is None for e in errors)

        deadline = time.monotonic() + 30
        while not alice_writes_everywhere():
            assert time.monotonic() < deadline, "alice's ACL applies on every leader"
            time.sleep(0.5)
        # The controller listener takes only principals with CLUSTER_ACTION: alice logs in,
        # and is shown the door before any controller RPC.
        controller = f"127.0.0.1:{cluster.controller_ports[1]}"
        with KafkaWire(controller, timeout=10) as wire:
            assert wire.send(SaslHandshakeRequest(mechanism="PLAIN"), SaslHandshakeResponse,
                             1).error_code == 0
            auth = wire.send(SaslAuthenticateRequest(auth_bytes=b"\0alice\0alice-secret"),
                             SaslAuthenticateResponse, 1)
            assert auth.error_code == 0
            wire._sock.settimeout(5)
            assert wire._sock.recv(1) == b"", "the connection is closed"
        for b in cluster.brokers:
            b.kill()
        for b in cluster.brokers:
            b.launch()
        for b in cluster.brokers:
            b.wait_listening(timeout=90)
        root = admin(cluster.bootstrap, **conf(cluster.bootstrap, "admin"))
        assert len(wait_for_acls(root, 2)) == 2
        deadline = time.monotonic() + 60
        while not alice_writes_everywhere():
            assert time.monotonic() < deadline, "alice's ACL after kill -9 and restart"
            time.sleep(0.5)
        other = unique_topic("no-acl")
        root.create_topics([NewTopic(other, 1, 3)])[other].result(60)
        err = produce_error(cluster.bootstrap, "alice", other)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
        for b in cluster.brokers:
            assert_no_panic(b)
    finally:
        cluster.stop()


def test_transactional_producer_needs_write_on_its_transactional_id(broker_factory):
    """A transactional producer (librdkafka) without WRITE on its transactional id is refused
    at init_transactions (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); with it (and WRITE on the
    topic) it commits a transaction."""
    from confluent_kafka.admin import AclOperation as Op, ResourceType as Rt
    broker, address = secured(broker_factory)
    root = admin(address, **conf(address, "admin"))
    topic = unique_topic("txn-acl")
    root.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    create_acls(root, [acl(Rt.TOPIC, topic, "User:alice", Op.WRITE)])
    assert len(wait_for_acls(root, 1)) == 1

    def producer(txn_id):
        return Producer({**conf(address, "alice"), "transactional.id": txn_id,
                         "transaction.timeout.ms": 10000})

    refused = producer("tx-alice")
    with pytest.raises(KafkaException) as e:
        refused.init_transactions(20)
    assert e.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, e.value
    create_acls(root, [acl(Rt.TRANSACTIONAL_ID, "tx-alice", "User:alice", Op.WRITE)])
    assert len(wait_for_acls(root, 2)) == 2
    allowed = producer("tx-alice")
    allowed.init_transactions(30)
    allowed.begin_transaction()
    allowed.produce(topic, b"in-a-transaction")
    allowed.commit_transaction(30)
    assert_no_panic(broker)


def test_audit_lines_also_go_to_the_audit_topic(broker_factory, tmp_path):
    """audit.topic.enabled: the same JSON lines as the file, as records of __sluice_audit."""
    broker, address = secured(broker_factory, **{
        "audit.enabled": "true", "audit.log.dir": str(tmp_path / "audit"),
        "audit.topic.enabled": "true"})
    topic = unique_topic("audited")
    root = admin(address, **conf(address, "admin"))
    root.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    err = produce_error(address, "alice", topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    consumer = Consumer({**conf(address, "admin"), "group.id": "auditor",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["__sluice_audit"])
    found = None
    deadline = time.monotonic() + 30
    while found is None and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None or m.error():
            continue
        line = json.loads(m.value())
        if line.get("principal") == "User:alice" and line.get("resource_name") == topic:
            found = line
    consumer.close()
    assert found is not None, "alice's denial in the audit topic"
    # librdkafka asks Metadata first and gives up there: the denial is DESCRIBE.
    assert found["result"] == "DENIED" and found["kind"] == "authorization", found
    assert_no_panic(broker)
