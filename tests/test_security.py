"""TLS and SASL with real clients (confluent-kafka, kafka-python, kcat) and real certificates
made by the test: SSL, mTLS, SASL_SSL and SASL_PLAINTEXT listeners on one node and on a
3-node cluster whose brokers replicate over SASL_SSL; refusals (wrong password, unknown user,
missing client certificate, plaintext on a TLS port, requests before authentication); a
certificate replaced on disk and served without a restart."""
import json
import os
import socket
import struct
import tempfile
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

import kafka
from conftest import Broker, Cluster, free_port, wait_until
from kafka_helpers import (
    KafkaWire,
    admin,
    assert_no_panic,
    create_topic,
    kcat,
    unique_topic,
)
from tls_helpers import Ca, served_certificate_cn

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="broker" password="broker-secret" user_broker="broker-secret" '
              'user_alice="alice-secret" user_bob="bob-secret";')
PROTOCOL_MAP = ("PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL,"
                "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT")
AUTH_FAILED = "Authentication failed: Invalid username or password"


@pytest.fixture
def tls_dir(data_root):
    d = os.path.join(data_root, "tls")
    os.makedirs(d)
    return d


@pytest.fixture
def ca(tls_dir):
    return Ca(tls_dir)


class SecureBroker:
    """One node with a PLAINTEXT listener (first: the harness waits on it) and SSL, MTLS
    (mTLS), SASL_SSL and SASL_PLAINTEXT listeners."""

    def __init__(self, broker_factory, ca, key_password=None):
        self.ca = ca
        self.keystore = ca.issue("broker", "broker-1", password=key_password)
        self.ports = {name: free_port() for name in
                      ("PLAINTEXT", "SSL", "MTLS", "SASL_SSL", "SASL_PLAINTEXT")}
        extra = {
            "listeners": ",".join(f"{n}://127.0.0.1:{p}" for n, p in self.ports.items()),
            "listener.security.protocol.map": PROTOCOL_MAP,
            "ssl.keystore.location": self.keystore,
            "ssl.truststore.location": ca.pem_path,
            "listener.name.mtls.ssl.client.auth": "required",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        }
        if key_password:
            extra["ssl.key.password"] = key_password
        self.broker = broker_factory(extra)

    def address(self, listener):
        return f"127.0.0.1:{self.ports[listener]}"


@pytest.fixture(scope="module")
def secure():
    """One SecureBroker for the module's tests (each leaves it serving: they check that)."""
    with tempfile.TemporaryDirectory(prefix="sluice-test-") as root:
        tls = os.path.join(root, "tls")
        os.makedirs(tls)
        brokers = []

        def factory(extra=None, name="data"):
            b = Broker(os.path.join(root, name), extra=extra)
            brokers.append(b)
            return b.start()

        yield SecureBroker(factory, Ca(tls))
        for b in brokers:
            try:
                b.stop(timeout=15)
            except Exception:
                b.kill()


def confluent_conf(secure, listener, **extra):
    conf = {"bootstrap.servers": secure.address(listener)}
    if listener in ("SSL", "MTLS", "SASL_SSL"):
        conf["ssl.ca.location"] = secure.ca.pem_path
    conf["security.protocol"] = {"MTLS": "SSL"}.get(listener, listener)
    conf.update(extra)
    return conf


def produce_consume_confluent(conf, topic, n=20, ordered=True):
    producer = Producer({**conf, "acks": "all", "linger.ms": 5})
    for i in range(n):
        producer.produce(topic, key=b"k%d" % i, value=b"v%d" % i)
    assert producer.flush(30) == 0, "every record delivered"
    consumer = Consumer({**conf, "group.id": "g-" + topic, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < n and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None or m.error():
            continue
        seen.append(m.value())
    consumer.close()
    expected = [b"v%d" % i for i in range(n)]
    assert (seen if ordered else sorted(seen)) == (expected if ordered else sorted(expected))


def produce_consume_kafka_python(conf, topic, n=10):
    producer = kafka.KafkaProducer(acks="all", **conf)
    for i in range(n):
        producer.send(topic, key=b"k%d" % i, value=b"kp%d" % i).get(timeout=30)
    producer.close()
    consumer = kafka.KafkaConsumer(topic, auto_offset_reset="earliest",
                                   consumer_timeout_ms=10000, **conf)
    seen = [m.value for m in consumer]
    consumer.close()
    assert [v for v in seen if v.startswith(b"kp")] == [b"kp%d" % i for i in range(n)]


def kcat_round_trip(args, topic):
    kcat(*args, "-P", "-t", topic, "-K:", input=b"a:kc1\nb:kc2\n")
    out = kcat(*args, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s\n")
    assert b"a=kc1\nb=kc2\n" in out, out


def test_ssl_listener_serves_every_client(secure):
    topic = unique_topic("ssl")
    create_topic(secure.broker.bootstrap, topic)
    produce_consume_confluent(confluent_conf(secure, "SSL"), topic)
    produce_consume_kafka_python({"bootstrap_servers": secure.address("SSL"),
                                  "security_protocol": "SSL",
                                  "ssl_cafile": secure.ca.pem_path,
                                  "ssl_check_hostname": True}, topic)
    kcat_round_trip(["-b", secure.address("SSL"), "-X", "security.protocol=ssl",
                     "-X", f"ssl.ca.location={secure.ca.pem_path}"], topic)
    # Metadata through the SSL listener names the SSL endpoint, not the PLAINTEXT one.
    md = admin(secure.address("SSL"), **{"security.protocol": "SSL",
                                         "ssl.ca.location": secure.ca.pem_path}).list_topics(
        timeout=30)
    assert [(b.host, b.port) for b in md.brokers.values()] == [
        ("127.0.0.1", secure.ports["SSL"])]
    assert_no_panic(secure.broker)


def test_mtls_needs_a_client_certificate(secure):
    client = secure.ca.issue("client", "alice", server=False)
    base = os.path.splitext(client)[0]
    ok = confluent_conf(secure, "MTLS", **{"ssl.certificate.location": base + ".crt",
                                            "ssl.key.location": base + ".key"})
    topic = unique_topic("mtls")
    produce_consume_confluent(ok, topic, n=5)
    kcat_round_trip(["-b", secure.address("MTLS"), "-X", "security.protocol=ssl",
                     "-X", f"ssl.ca.location={secure.ca.pem_path}",
                     "-X", f"ssl.certificate.location={base}.crt",
                     "-X", f"ssl.key.location={base}.key"], topic)
    # Without a certificate: no connection, nothing served.
    with pytest.raises(KafkaException):
        admin(secure.address("MTLS"), **{"security.protocol": "SSL",
                                         "ssl.ca.location": secure.ca.pem_path}).list_topics(
            timeout=5)
    # A certificate from another CA is refused too.
    other_dir = os.path.join(os.path.dirname(secure.ca.pem_path), "other-ca")
    os.makedirs(other_dir)
    other = Ca(other_dir, cn="Other CA")
    stranger = os.path.splitext(other.issue("stranger", "mallory", server=False))[0]
    with pytest.raises(KafkaException):
        admin(secure.address("MTLS"), **{"security.protocol": "SSL",
                                         "ssl.ca.location": secure.ca.pem_path,
                                         "ssl.certificate.location": stranger + ".crt",
                                         "ssl.key.location": stranger + ".key"}).list_topics(
            timeout=5)
    produce_consume_confluent(ok, unique_topic("mtls-after"), n=3)
    assert_no_panic(secure.broker)


@pytest.mark.parametrize("listener", ["SASL_SSL", "SASL_PLAINTEXT"])
def test_sasl_plain_with_every_client(secure, listener):
    topic = unique_topic("plain")
    conf = confluent_conf(secure, listener, **{"sasl.mechanism": "PLAIN",
                                                "sasl.username": "alice",
                                                "sasl.password": "alice-secret"})
    produce_consume_confluent(conf, topic)
    kp = {"bootstrap_servers": secure.address(listener), "security_protocol": listener,
          "sasl_mechanism": "PLAIN", "sasl_plain_username": "bob",
          "sasl_plain_password": "bob-secret"}
    if listener == "SASL_SSL":
        kp["ssl_cafile"] = secure.ca.pem_path
    produce_consume_kafka_python(kp, topic)
    args = ["-b", secure.address(listener), "-X", f"security.protocol={listener.lower()}",
            "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice",
            "-X", "sasl.password=alice-secret"]
    if listener == "SASL_SSL":
        args += ["-X", f"ssl.ca.location={secure.ca.pem_path}"]
    kcat_round_trip(args, topic)
    assert_no_panic(secure.broker)


def test_encrypted_key_store(broker_factory, ca):
    secure = SecureBroker(broker_factory, ca, key_password="key-secret")
    produce_consume_confluent(confluent_conf(secure, "SSL"), unique_topic("enc"), n=3)
    assert "key-secret" not in secure.broker.log_text()


def sasl_exchange(address, mechanism, message, handshake_version=1):
    """SaslHandshake then one SaslAuthenticate on a fresh connection: (handshake response,
    authenticate response, whether the broker closed the connection afterwards)."""
    with KafkaWire(address, timeout=10) as wire:
        hs = wire.send(SaslHandshakeRequest(mechanism=mechanism), SaslHandshakeResponse,
                       handshake_version)
        if hs.error_code != 0:
            return hs, None, closed(wire)
        auth = wire.send(SaslAuthenticateRequest(auth_bytes=message), SaslAuthenticateResponse,
                         1)
        return hs, auth, closed(wire)


def closed(wire, within=3.0):
    """Whether the broker closes the connection within `within` seconds."""
    wire._sock.settimeout(within)
    try:
        return wire._sock.recv(1) == b""
    except socket.timeout:
        return False
    except (ConnectionError, OSError):
        return True


def test_failed_logins_are_refused_alike_and_closed(secure):
    address = secure.address("SASL_PLAINTEXT")
    _, wrong, wrong_closed = sasl_exchange(address, "PLAIN", b"\0alice\0wrong")
    _, unknown, unknown_closed = sasl_exchange(address, "PLAIN", b"\0nobody\0whatever")
    assert wrong.error_code == 58 and unknown.error_code == 58, (wrong, unknown)
    assert wrong.error_message == unknown.error_message == AUTH_FAILED
    assert wrong_closed and unknown_closed
    # A mechanism the listener does not enable.
    hs, _, hs_closed = sasl_exchange(address, "GSSAPI", b"")
    assert hs.error_code == 33 and "PLAIN" in hs.mechanisms and hs_closed
    # The same through a real client: an error naming the failure, no data.
    errors = []
    refused = admin(address, **{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                                "sasl.username": "alice", "sasl.password": "nope",
                                "error_cb": lambda e: errors.append(str(e))})
    with pytest.raises(KafkaException):
        refused.list_topics(timeout=10)
    wait_until(lambda: refused.poll(0.2) is not None and any(AUTH_FAILED in e for e in errors),
               timeout=15, what=f"the client to report the failed login (saw {errors})")
    _, good, good_closed = sasl_exchange(address, "PLAIN", b"\0alice\0alice-secret")
    assert good.error_code == 0 and not good_closed
    log = secure.broker.log_text()
    assert "alice-secret" not in log and "wrong" not in log
    assert_no_panic(secure.broker)


def test_requests_before_authentication_close_the_connection(secure):
    # A Produce before SaslAuthenticate: closed without an answer, nothing appended.
    topic = unique_topic("pre-auth")
    create_topic(secure.broker.bootstrap, topic)
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"]), 10) as s:
        client_id = b"sneaky"
        header = struct.pack(">hhih", 0, 9, 7, len(client_id)) + client_id
        body = b"\0" * 64  # never read: the api key alone decides
        s.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        assert s.recv(1) == b""
    md = admin(secure.broker.bootstrap).list_topics(topic=topic, timeout=10)
    assert md.topics[topic].error is None
    assert kcat("-b", secure.broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                "-q") == b""
    for listener in ("SASL_PLAINTEXT", "SASL_SSL"):
        if listener == "SASL_SSL":
            continue  # KafkaWire speaks plain TCP; the SASL_PLAINTEXT port shows the rule
        with KafkaWire(secure.address(listener), timeout=10) as wire:
            with pytest.raises((ConnectionError, OSError)):
                wire.send(MetadataRequest(topics=None), MetadataResponse, 1)
        # A handshake without the exchange that must follow, then a Metadata: closed too.
        with KafkaWire(secure.address(listener), timeout=10) as wire:
            hs = wire.send(SaslHandshakeRequest(mechanism="PLAIN"), SaslHandshakeResponse, 1)
            assert hs.error_code == 0
            with pytest.raises((ConnectionError, OSError)):
                wire.send(MetadataRequest(topics=None), MetadataResponse, 1)
    # An oversized frame before authentication (sasl.server.max.receive.size) closes it.
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"]), 10) as s:
        s.sendall(struct.pack(">i", 10 * 1024 * 1024) + b"\0" * 1024)
        assert s.recv(1) == b""
    produce_consume_confluent(
        confluent_conf(secure, "SASL_PLAINTEXT", **{"sasl.mechanism": "PLAIN",
                                                     "sasl.username": "alice",
                                                     "sasl.password": "alice-secret"}),
        unique_topic("after-refusals"), n=3)
    assert_no_panic(secure.broker)


def test_plaintext_client_on_a_tls_port_is_refused(secure):
    with pytest.raises((ConnectionError, OSError, AssertionError, Exception)):
        KafkaWire(secure.address("SSL"), timeout=5)
    with pytest.raises(KafkaException):
        admin(secure.address("SSL")).list_topics(timeout=5)
    produce_consume_confluent(confluent_conf(secure, "SSL"), unique_topic("after-plain"), n=3)
    assert_no_panic(secure.broker)


def test_sasl_handshake_v0_raw_exchange(secure):
    """Old clients send the mechanism's messages as raw frames after SaslHandshake v0."""
    with KafkaWire(secure.address("SASL_PLAINTEXT"), timeout=10) as wire:
        hs = wire.send(SaslHandshakeRequest(mechanism="PLAIN"), SaslHandshakeResponse, 0)
        assert hs.error_code == 0
        token = b"\0alice\0alice-secret"
        wire._sock.sendall(struct.pack(">i", len(token)) + token)
        (size,) = struct.unpack(">i", wire._read(4))
        assert size == 0
        md = wire.send(MetadataRequest(topics=None), MetadataResponse, 1)
        assert [b.port for b in md.brokers] == [secure.ports["SASL_PLAINTEXT"]]


def test_certificate_replaced_on_disk_is_served_without_restart(secure):
    assert served_certificate_cn("127.0.0.1", secure.ports["SSL"], secure.ca.pem_path) == \
        "broker-1"
    open_conf = confluent_conf(secure, "SSL")
    producer = Producer(open_conf)
    producer.produce(unique_topic("reload"), b"before")
    assert producer.flush(30) == 0
    secure.ca.issue("broker", "broker-1-renewed")
    wait_until(lambda: served_certificate_cn("127.0.0.1", secure.ports["SSL"],
                                             secure.ca.pem_path) == "broker-1-renewed",
               timeout=60, interval=0.5, what="the renewed certificate to be served")
    # The connection opened before the renewal still works.
    producer.produce(unique_topic("reload-after"), b"after")
    assert producer.flush(30) == 0
    assert secure.broker.proc.poll() is None, "no restart"


def test_three_nodes_replicate_over_sasl_ssl(data_root, ca):
    """Clients, brokers and controllers all on SASL_SSL (PLAIN): acks=all needs the followers'
    fetches, which authenticate like any client; the quorum (Raft, registrations, heartbeats)
    runs over the controller listener, which takes only nodes that log in."""
    keystore = ca.issue("broker", "broker")
    extra = {
        "listener.security.protocol.map": "PLAINTEXT:SASL_SSL,CONTROLLER:SASL_SSL",
        "ssl.keystore.location": keystore,
        "ssl.truststore.location": ca.pem_path,
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "listener.name.controller.plain.sasl.jaas.config": PLAIN_JAAS,
        "min.insync.replicas": "2",
    }
    cluster = Cluster(data_root, n=3, extra=extra)
    try:
        conf = {"bootstrap.servers": cluster.bootstrap, "security.protocol": "SASL_SSL",
                "ssl.ca.location": ca.pem_path, "sasl.mechanism": "PLAIN",
                "sasl.username": "alice", "sasl.password": "alice-secret"}
        topic = unique_topic("sasl-ssl-rf3")
        client = AdminClient(conf)
        client.create_topics([NewTopic(topic, 3, 3)])[topic].result(60)
        produce_consume_confluent(conf, topic, n=60, ordered=False)
        controller = f"127.0.0.1:{cluster.controller_ports[0]}"
        assert_controller_listener_refuses_strangers(controller, ca)
        # The quorum still serves: a new topic after the refusals.
        late = unique_topic("after-controller-refusals")
        client.create_topics([NewTopic(late, 1, 3)])[late].result(60)
        for b in cluster.brokers:
            assert_no_panic(b)
            assert "broker-secret" not in b.log_text()
    finally:
        cluster.stop()


def assert_controller_listener_refuses_strangers(address, ca):
    """A SASL_SSL controller listener: plaintext bytes, TLS without a login, a controller RPC
    frame before the login and a wrong password are each refused and closed, no answer."""
    host, port = address.rsplit(":", 1)
    frame = struct.pack(">i", 16) + b"\x01" * 16  # a would-be controller RPC frame
    with socket.create_connection((host, int(port)), 10) as s:
        s.sendall(frame)
        s.settimeout(10)
        try:
            data = s.recv(64)
        except (ConnectionError, OSError):
            data = b""
        # Closed, at most after a TLS alert record (content type 21): never an answer.
        assert data == b"" or data[0] == 21, data
    context = ca.client_context()
    with context.wrap_socket(socket.create_connection((host, int(port)), 10),
                             server_hostname=host) as s:
        s.sendall(frame)
        s.settimeout(10)
        try:
            assert s.recv(1) == b"", "a frame before the login is not answered"
        except (ConnectionError, OSError):
            pass
    with KafkaWire(address, timeout=10, ssl_context=context) as wire:
        hs = wire.send(SaslHandshakeRequest(mechanism="SCRAM-SHA-512"), SaslHandshakeResponse, 1)
        assert hs.error_code == 33 and hs.mechanisms == ["PLAIN"], hs
        assert closed(wire)
    with KafkaWire(address, timeout=10, ssl_context=context) as wire:
        hs = wire.send(SaslHandshakeRequest(mechanism="PLAIN"), SaslHandshakeResponse, 1)
        assert hs.error_code == 0
        auth = wire.send(SaslAuthenticateRequest(auth_bytes=b"\0broker\0wrong"),
                         SaslAuthenticateResponse, 1)
        assert auth.error_code == 58 and auth.error_message == AUTH_FAILED, auth
        assert closed(wire)
    # A real client with a wrong password gets the same refusal.
    errors = []
    refused = admin(address, **{"security.protocol": "SASL_SSL", "ssl.ca.location": ca.pem_path,
                                "sasl.mechanism": "PLAIN", "sasl.username": "broker",
                                "sasl.password": "nope",
                                "error_cb": lambda e: errors.append(str(e))})
    with pytest.raises(KafkaException):
        refused.list_topics(timeout=5)
    wait_until(lambda: refused.poll(0.2) is not None and any(AUTH_FAILED in e for e in errors),
               timeout=15, what=f"the client to report the failed login (saw {errors})")


def test_sessions_expire_unless_the_client_reauthenticates(broker_factory, ca):
    """KIP-368: with connections.max.reauth.ms, SaslAuthenticate tells the session lifetime;
    librdkafka re-authenticates on the same connection in time and keeps working, a client
    that does not is disconnected at its next request."""
    port = free_port()
    broker = broker_factory({
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        "connections.max.reauth.ms": "2000",
    })
    address = f"127.0.0.1:{port}"
    with KafkaWire(address, timeout=10) as wire:
        assert wire.send(SaslHandshakeRequest(mechanism="PLAIN"), SaslHandshakeResponse,
                         1).error_code == 0
        auth = wire.send(SaslAuthenticateRequest(auth_bytes=b"\0alice\0alice-secret"),
                         SaslAuthenticateResponse, 1)
        assert auth.error_code == 0 and auth.session_lifetime_ms == 2000
        wire.send(MetadataRequest(topics=None), MetadataResponse, 1)
        time.sleep(2.5)
        with pytest.raises((ConnectionError, OSError)):
            wire.send(MetadataRequest(topics=None), MetadataResponse, 1)
    conf = {"bootstrap.servers": address, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN", "sasl.username": "alice",
            "sasl.password": "alice-secret"}
    topic = unique_topic("reauth")
    producer = Producer({**conf, "acks": "all"})
    deadline = time.monotonic() + 7
    sent = 0
    while time.monotonic() < deadline:
        producer.produce(topic, b"v%d" % sent)
        sent += 1
        assert producer.flush(10) == 0, "delivered across re-authentications"
        time.sleep(0.2)
    assert sent > 10
    # Only the wire client above was disconnected: librdkafka re-authenticated in time.
    assert broker.log_text().count("after the SASL session expired") == 1, broker.log_text()
    assert_no_panic(broker)


# SCRAM

def create_scram_user(bootstrap, user, password, mechanisms=("SCRAM-SHA-256", "SCRAM-SHA-512"),
                      **conf):
    """Creates `user` through AdminClient.alter_user_scram_credentials (KIP-554)."""
    from confluent_kafka.admin import (ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)
    client = admin(bootstrap, **conf)
    upserts = [UserScramCredentialUpsertion(
        user, ScramCredentialInfo(getattr(ScramMechanism, m.replace("-", "_")), 8192),
        password.encode()) for m in mechanisms]
    for f in client.alter_user_scram_credentials(upserts).values():
        f.result(30)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_over_sasl_ssl_with_every_client(secure, mechanism):
    create_scram_user(secure.broker.bootstrap, "carol", "carol-secret")
    topic = unique_topic("scram")
    conf = confluent_conf(secure, "SASL_SSL", **{"sasl.mechanism": mechanism,
                                                 "sasl.username": "carol",
                                                 "sasl.password": "carol-secret"})
    produce_consume_confluent(conf, topic)
    produce_consume_kafka_python({
        "bootstrap_servers": secure.address("SASL_SSL"), "security_protocol": "SASL_SSL",
        "ssl_cafile": secure.ca.pem_path, "sasl_mechanism": mechanism,
        "sasl_plain_username": "carol", "sasl_plain_password": "carol-secret"}, topic)
    kcat_round_trip(["-b", secure.address("SASL_SSL"), "-X", "security.protocol=sasl_ssl",
                     "-X", f"ssl.ca.location={secure.ca.pem_path}",
                     "-X", f"sasl.mechanisms={mechanism}", "-X", "sasl.username=carol",
                     "-X", "sasl.password=carol-secret"], topic)
    # A wrong password and an unknown user fail alike.
    for user, password in (("carol", "nope"), ("nobody", "nope")):
        errors = []
        refused = admin(secure.address("SASL_SSL"), **{
            "security.protocol": "SASL_SSL", "ssl.ca.location": secure.ca.pem_path,
            "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password,
            "error_cb": lambda e: errors.append(str(e))})
        with pytest.raises(KafkaException):
            refused.list_topics(timeout=5)
        wait_until(lambda: refused.poll(0.2) is not None and any(AUTH_FAILED in e
                                                                  for e in errors),
                   timeout=15, what=f"{user}'s refusal (saw {errors})")
    assert "carol-secret" not in secure.broker.log_text()
    assert_no_panic(secure.broker)


def test_scram_user_logs_in_on_every_broker_also_after_a_restart(data_root, ca):
    keystore = ca.issue("broker", "broker")
    internal_jaas = PLAIN_JAAS
    extra = {
        "listener.security.protocol.map": "PLAINTEXT:SASL_SSL,CONTROLLER:PLAINTEXT",
        "ssl.keystore.location": keystore,
        "ssl.truststore.location": ca.pem_path,
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.plaintext.plain.sasl.jaas.config": internal_jaas,
    }
    cluster = Cluster(data_root, n=3, extra=extra)
    try:
        admin_conf = {"security.protocol": "SASL_SSL", "ssl.ca.location": ca.pem_path,
                      "sasl.mechanism": "PLAIN", "sasl.username": "broker",
                      "sasl.password": "broker-secret"}
        create_scram_user(cluster.brokers[0].bootstrap, "dave", "dave-secret",
                          mechanisms=("SCRAM-SHA-512",), **admin_conf)

        def logs_in_everywhere():
            for b in cluster.brokers:
                client = admin(b.bootstrap, **{
                    "security.protocol": "SASL_SSL", "ssl.ca.location": ca.pem_path,
                    "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "dave",
                    "sasl.password": "dave-secret"})
                md = client.list_topics(timeout=10)
                assert len(md.brokers) == 3
            return True

        wait_until(logs_in_everywhere, timeout=30, interval=0.5, what="dave on every broker")
        for b in cluster.brokers:
            b.kill()
        for b in cluster.brokers:
            b.launch()
        for b in cluster.brokers:
            b.wait_listening(timeout=90)
        wait_until(logs_in_everywhere, timeout=60, interval=0.5,
                   what="dave on every broker after kill -9 and restart")
        for b in cluster.brokers:
            assert_no_panic(b)
    finally:
        cluster.stop()


# OAUTHBEARER

OAUTH_ISSUER = "https://issuer.sluice.test"


class OAuthIssuer:
    """Signs JWTs with keys made here (ES256 and RS256); publishes them as a JWKS file."""

    def __init__(self, directory):
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_path = os.path.join(directory, "jwks.json")
        import jwt
        keys = []
        for kid, key in (("ec-1", self.ec_key), ("rsa-1", self.rsa_key)):
            jwk = json.loads(jwt.algorithms.get_default_algorithms()[
                "ES256" if kid.startswith("ec") else "RS256"].to_jwk(key.public_key()))
            jwk.update(kid=kid, use="sig")
            keys.append(jwk)
        with open(self.jwks_path, "w") as f:
            json.dump({"keys": keys}, f)

    def token(self, sub="erin", alg="ES256", lifetime=300, audience="sluice",
              issuer=OAUTH_ISSUER, key=None):
        import jwt
        now = int(time.time())
        claims = {"sub": sub, "iat": now, "exp": now + lifetime, "aud": audience,
                  "iss": issuer, "scope": "kafka"}
        kid = "ec-1" if alg == "ES256" else "rsa-1"
        signing = key or (self.ec_key if alg == "ES256" else self.rsa_key)
        return jwt.encode(claims, signing, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def oauth(broker_factory, ca, tls_dir):
    issuer = OAuthIssuer(tls_dir)
    keystore = ca.issue("broker", "broker-1")
    ports = {"PLAINTEXT": free_port(), "OAUTH": free_port(), "DEVOAUTH": free_port()}
    broker = broker_factory({
        "listeners": ",".join(f"{n}://127.0.0.1:{p}" for n, p in ports.items()),
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,OAUTH:SASL_SSL,DEVOAUTH:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "ssl.keystore.location": keystore,
        "sasl.enabled.mechanisms": "OAUTHBEARER",
        "listener.name.oauth.oauthbearer.sasl.server.callback.handler.class":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        "listener.name.oauth.sasl.oauthbearer.jwks.endpoint.url": "file://" + issuer.jwks_path,
        "sasl.oauthbearer.expected.audience": "sluice",
        "sasl.oauthbearer.expected.issuer": OAUTH_ISSUER,
        "listener.name.devoauth.oauthbearer.sasl.jaas.config":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
    })
    return issuer, broker, ports, ca


def oauth_exchange(address, token):
    """SaslHandshake OAUTHBEARER and the token: the SaslAuthenticate response, and for a
    refused token the response to the client's \\x01 acknowledgement."""
    with KafkaWire(address, timeout=10) as wire:
        assert wire.send(SaslHandshakeRequest(mechanism="OAUTHBEARER"), SaslHandshakeResponse,
                         1).error_code == 0
        message = b"n,,\x01auth=Bearer " + token.encode() + b"\x01\x01"
        first = wire.send(SaslAuthenticateRequest(auth_bytes=message),
                          SaslAuthenticateResponse, 1)
        if first.error_code != 0 or not first.auth_bytes:
            return first, None
        second = wire.send(SaslAuthenticateRequest(auth_bytes=b"\x01"),
                           SaslAuthenticateResponse, 1)
        return first, second


def test_oauthbearer_signed_tokens_with_real_clients(oauth):
    issuer, broker, ports, ca = oauth
    address = f"127.0.0.1:{ports['OAUTH']}"
    topic = unique_topic("oauth")

    def oauth_cb(_config):
        return issuer.token(), time.time() + 300

    conf = {"bootstrap.servers": address, "security.protocol": "SASL_SSL",
            "ssl.ca.location": ca.pem_path, "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": oauth_cb}
    produce_consume_confluent(conf, topic, n=10)

    from kafka.net.sasl.oauth import AbstractTokenProvider

    class Provider(AbstractTokenProvider):
        def token(self):
            return issuer.token(sub="frank", alg="RS256")

    produce_consume_kafka_python({
        "bootstrap_servers": address, "security_protocol": "SASL_SSL",
        "ssl_cafile": ca.pem_path, "sasl_mechanism": "OAUTHBEARER",
        "sasl_oauth_token_provider": Provider()}, topic)
    assert_no_panic(broker)


def test_oauthbearer_refuses_bad_tokens(oauth, tls_dir):
    issuer, broker, ports, _ = oauth
    from cryptography.hazmat.primitives.asymmetric import ec
    stranger = ec.generate_private_key(ec.SECP256R1())
    bad = {
        "expired": issuer.token(lifetime=-120),
        "badly signed": issuer.token(key=stranger),
        "wrong audience": issuer.token(audience="someone-else"),
        "wrong issuer": issuer.token(issuer="https://evil.test"),
        "garbage": "not.a.jwt",
    }
    import ssl as ssl_module
    for what, token in bad.items():
        context = ssl_module.create_default_context(cafile=os.path.join(tls_dir, "ca.pem"))
        with socket.create_connection(("127.0.0.1", ports["OAUTH"]), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                first, second = tls_oauth_exchange(tls, token)
        refused = first.error_code == 58 or (second is not None and second.error_code == 58)
        assert refused, f"{what}: {first} {second}"
        if first.error_code == 0:
            assert b"invalid_token" in first.auth_bytes, (what, first)
    # Unsecured (development) mode takes unsigned tokens, as Kafka's default validator does;
    # kcat makes one itself.
    topic = unique_topic("dev-oauth")
    kcat_round_trip(["-b", f"127.0.0.1:{ports['DEVOAUTH']}", "-X",
                     "security.protocol=sasl_plaintext", "-X", "sasl.mechanisms=OAUTHBEARER",
                     "-X", "enable.sasl.oauthbearer.unsecure.jwt=true",
                     "-X", "sasl.oauthbearer.config=principal=grace"], topic)
    # ...but not an expired one.
    first, second = oauth_exchange(f"127.0.0.1:{ports['DEVOAUTH']}",
                                   unsigned_token("grace", -60))
    assert first.error_code == 58 or (second is not None and second.error_code == 58)
    assert_no_panic(broker)


def unsigned_token(sub, lifetime):
    import base64

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{b64({'alg': 'none'})}.{b64({'sub': sub, 'iat': now, 'exp': now + lifetime})}."


def tls_oauth_exchange(sock, token):
    """oauth_exchange over an already open TLS socket (frames by hand)."""
    def send(request, response_class, version, correlation_id):
        request.API_VERSION = version
        request.with_header(correlation_id=correlation_id, client_id="sluice-tests")
        sock.sendall(request.encode(header=True, framed=True))
        (size,) = struct.unpack(">i", read(4))
        return response_class.decode(read(size), version=version, header=True)

    def read(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    assert send(SaslHandshakeRequest(mechanism="OAUTHBEARER"), SaslHandshakeResponse, 1,
                1).error_code == 0
    message = b"n,,\x01auth=Bearer " + token.encode() + b"\x01\x01"
    first = send(SaslAuthenticateRequest(auth_bytes=message), SaslAuthenticateResponse, 1, 2)
    if first.error_code != 0 or not first.auth_bytes:
        return first, None
    second = send(SaslAuthenticateRequest(auth_bytes=b"\x01"), SaslAuthenticateResponse, 1, 3)
    return first, second


def sluice_cli(*args, input=None, timeout=60):
    import subprocess
    from conftest import SLUICE_BIN
    proc = subprocess.run([SLUICE_BIN, *args], input=input, capture_output=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(
        errors="replace")


def test_cli_over_sasl_ssl_with_a_command_config(secure, tls_dir):
    """The sluice CLI as an admin over SASL_SSL (PLAIN, from a client.properties file):
    creates a SCRAM user with `sluice user create`, who then produces and consumes through
    the CLI with -X settings."""
    props = os.path.join(tls_dir, "admin.properties")
    with open(props, "w") as f:
        f.write("security.protocol=SASL_SSL\n"
                f"ssl.truststore.location={secure.ca.pem_path}\n"
                "sasl.mechanism=PLAIN\n"
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                "required username=\"alice\" password=\"alice-secret\";\n")
    address = secure.address("SASL_SSL")
    rc, out, err = sluice_cli("user", "create", "heidi", "-b", address, "--command-config",
                              props, "--mechanism", "SCRAM-SHA-512", "--password-file", "-",
                              input=b"heidi-secret\n")
    assert rc == 0, err
    rc, out, err = sluice_cli("user", "list", "-b", address, "--command-config", props)
    assert rc == 0 and "heidi" in out and "SCRAM-SHA-512" in out, (out, err)
    assert "heidi-secret" not in out + err
    heidi = ["-b", address, "-X", "security.protocol=SASL_SSL",
             "-X", f"ssl.ca.location={secure.ca.pem_path}", "-X", "sasl.mechanism=SCRAM-SHA-512",
             "-X", "sasl.username=heidi", "-X", "sasl.password=heidi-secret"]
    topic = unique_topic("cli-sasl")
    rc, out, err = sluice_cli("produce", topic, *heidi, input=b"one\ntwo\n")
    assert rc == 0, err
    rc, out, err = sluice_cli("consume", topic, *heidi, "--from-beginning", "--exit-at-end")
    assert rc == 0 and out.split() == ["one", "two"], (out, err)
    # A wrong password: one clear line, non-zero.
    wrong = [a if a != "sasl.password=heidi-secret" else "sasl.password=nope" for a in heidi]
    rc, out, err = sluice_cli("topic", "list", *wrong)
    assert rc != 0 and "Authentication failed" in err, (rc, out, err)
    assert_no_panic(secure.broker)
