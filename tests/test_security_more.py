"""TLS and SASL features end to end with real clients (issue 12), beyond test_security.py:

- `ssl.client.auth=requested`: a client certificate names the principal (`User:CN=...`), a
  client without one is `User:ANONYMOUS`; ACLs with the authorizer on tell them apart.
- `ssl.principal.mapping.rules`: the mapped name is the principal ACLs and the audit log see.
- SCRAM-SHA-512 between brokers on a 3-node cluster whose brokers replicate over SASL_SSL, the
  brokers' own credential given by `sluice storage format --add-scram`; a node with a wrong
  password cannot rejoin the ISR.
- OAUTHBEARER with the JWK set at an `https:` endpoint on a private CA, trusted through
  SSL_CERT_FILE, or, as Kafka's validator takes it, through the `ssl.truststore.*` options of the
  listener's OAUTHBEARER JAAS config; the endpoint named under the listener-and-mechanism
  prefix (`listener.name.<l>.oauthbearer.sasl.oauthbearer.jwks.endpoint.url`).
"""
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AclOperation as Op
from confluent_kafka.admin import AdminClient, NewTopic, ResourcePatternType
from confluent_kafka.admin import ResourceType as Rt
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

from conftest import SLUICE_BIN, Cluster, free_port, wait_until
from kafka_helpers import (
    KafkaWire,
    Rec,
    admin,
    assert_no_panic,
    assert_same_records,
    confluent_consume,
    confluent_produce,
    kafka_python_consume,
    kafka_python_produce,
    unique_topic,
)
from test_acls import AUTHORIZER, acl, create_acls, wait_for_acls
from test_security import (  # noqa: F401 (ca, tls_dir: fixtures)
    OAUTH_ISSUER,
    OAuthIssuer,
    ca,
    produce_consume_confluent,
    tls_dir,
    tls_oauth_exchange,
)
from tls_helpers import Ca

ADMIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" user_admin="admin-secret";')
ADMIN = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
         "sasl.username": "admin", "sasl.password": "admin-secret"}
# Ca.issue's subject is O=Sluice Tests, CN=<cn>: RFC 2253 writes the most specific first.
DN_SUFFIX = ",O=Sluice Tests"


class CertBroker:
    """One node with the authorizer on: INTERNAL (SASL_PLAINTEXT, PLAIN `admin`, a super user;
    the inter-broker listener), REQUESTED (SSL, `ssl.client.auth=requested`) and REQUIRED
    (SSL, `ssl.client.auth=required`). Audit lines go to <data_root>/audit."""

    def __init__(self, broker_factory, ca, audit_dir, **extra):
        self.ca = ca
        self.audit_dir = audit_dir
        self.ports = {n: free_port() for n in ("INTERNAL", "REQUESTED", "REQUIRED")}
        settings = {
            "listeners": ",".join(f"{n}://127.0.0.1:{p}" for n, p in self.ports.items()),
            "listener.security.protocol.map":
                "INTERNAL:SASL_PLAINTEXT,REQUESTED:SSL,REQUIRED:SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "INTERNAL",
            "sasl.enabled.mechanisms": "PLAIN",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.internal.plain.sasl.jaas.config": ADMIN_JAAS,
            "ssl.keystore.location": ca.issue("broker", "broker-1"),
            "ssl.truststore.location": ca.pem_path,
            "listener.name.requested.ssl.client.auth": "requested",
            "listener.name.required.ssl.client.auth": "required",
            "authorizer.class.name": AUTHORIZER,
            "super.users": "User:admin",
            "audit.enabled": "true",
            "audit.log.dir": audit_dir,
        }
        settings.update(extra)
        self.broker = broker_factory(settings)
        self.root = admin(self.address("INTERNAL"), **ADMIN)

    def address(self, listener):
        return f"127.0.0.1:{self.ports[listener]}"

    def ssl_conf(self, listener, cert=None):
        """confluent-kafka settings for an SSL client of `listener`, with the client
        certificate `cert` (a path Ca.issue returned) or none."""
        conf = {"bootstrap.servers": self.address(listener), "security.protocol": "SSL",
                "ssl.ca.location": self.ca.pem_path}
        if cert:
            base = os.path.splitext(cert)[0]
            conf.update({"ssl.certificate.location": base + ".crt",
                         "ssl.key.location": base + ".key"})
        return conf

    def create_topic(self, topic):
        self.root.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)

    def grant_produce_consume(self, topic, principal):
        """The ACLs `principal` needs to produce to `topic` and to consume it in the group
        produce_consume_confluent uses."""
        return [acl(Rt.TOPIC, topic, principal, Op.WRITE),
                acl(Rt.TOPIC, topic, principal, Op.READ),
                acl(Rt.GROUP, "g-" + topic, principal, Op.READ)]

    def denied(self, principal, topic):
        """Whether the audit log has a DENIED decision for `principal` on topic `topic`."""
        path = os.path.join(self.audit_dir, "audit.log")
        if not os.path.exists(path):
            return False
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        return any(e["kind"] == "authorization" and e["result"] == "DENIED"
                   and e["principal"] == principal and e["resource_name"] == topic
                   for e in lines)


@pytest.fixture
def cert_broker(broker_factory, ca, data_root):
    def make(**extra):
        return CertBroker(broker_factory, ca, os.path.join(data_root, "audit"), **extra)
    return make


def records(prefix, n):
    return [Rec(None, b"%s-%d" % (prefix.encode(), i), b"%s-value-%d" % (prefix.encode(), i))
            for i in range(n)]


def produce_error(conf, topic):
    """The delivery error of one record produced with `conf` (None: delivered)."""
    errors = []
    producer = Producer({**conf, "message.timeout.ms": 10000, "enable.idempotence": False})
    producer.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(20)
    assert errors, "a delivery report"
    return errors[0]


def assert_refused_by_acl(conf, topic):
    err = produce_error(conf, topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err


def test_client_auth_requested_takes_certificate_and_anonymous_clients(cert_broker, ca):
    """On a `requested` listener a client with a certificate acts as User:CN=...,O=..., one
    without as User:ANONYMOUS: each may use the topic its ACLs name and not the other's. The
    same certificate-less client is refused on a `required` listener; a certificate the trust
    store does not vouch for never makes its holder the user it names."""
    node = cert_broker()
    carol = ca.issue("carol", "carol", server=False)
    carol_principal = "User:CN=carol" + DN_SUFFIX
    with_cert = node.ssl_conf("REQUESTED", carol)
    without_cert = node.ssl_conf("REQUESTED")
    carols, anonymous = unique_topic("carol"), unique_topic("anonymous")
    for t in (carols, anonymous):
        node.create_topic(t)
    create_acls(node.root, node.grant_produce_consume(carols, carol_principal)
                + node.grant_produce_consume(anonymous, "User:ANONYMOUS"))
    assert len(wait_for_acls(node.root, 6)) == 6
    produce_consume_confluent(with_cert, carols, n=10)
    produce_consume_confluent(without_cert, anonymous, n=10)
    # Each is refused the other's topic: the principals differ, and are what the ACLs name.
    assert_refused_by_acl(with_cert, anonymous)
    assert_refused_by_acl(without_cert, carols)
    wait_until(lambda: node.denied(carol_principal, anonymous)
               and node.denied("User:ANONYMOUS", carols), timeout=10,
               what="both denials in the audit log, with the principals")
    # `required` refuses the client `requested` let in, for want of a certificate.
    errors = []
    refused = AdminClient({**without_cert, "bootstrap.servers": node.address("REQUIRED"),
                           "error_cb": lambda e: errors.append(str(e))})
    with pytest.raises(KafkaException):
        refused.list_topics(timeout=1)
    wait_until(lambda: refused.poll(0.2) is not None and any(
        "certificate required" in e for e in errors), timeout=15,
        what=f"a TLS alert 'certificate required' (saw {errors[:3]})")
    # A certificate from another CA with carol's name: librdkafka does not send it (its
    # issuer is not among the CAs the broker asks for), so it is ANONYMOUS, not carol...
    other_dir = os.path.join(os.path.dirname(ca.pem_path), "other-ca")
    os.makedirs(other_dir)
    stranger = Ca(other_dir, cn="Other CA").issue("stranger", "carol", server=False)
    assert_refused_by_acl(node.ssl_conf("REQUESTED", stranger), carols)
    # ...and a client that presents it anyway is refused at the handshake, while the same
    # client with carol's certificate is served.
    for cert, served in ((carol, True), (stranger, False)):
        base = os.path.splitext(cert)[0]
        context = ca.client_context()
        context.load_cert_chain(base + ".crt", base + ".key")
        try:
            with KafkaWire(node.address("REQUESTED"), timeout=10, ssl_context=context) as wire:
                wire.send(MetadataRequest(topics=None), MetadataResponse, 1)
            answered = True
        except OSError:  # ssl.SSLError, ConnectionError
            answered = False
        assert answered == served, cert
    assert produce_error(with_cert, carols) is None, "still serving carol"
    assert_no_panic(node.broker)


def test_principal_mapping_rules_name_the_certificate_principal(cert_broker, ca):
    """`ssl.principal.mapping.rules` on the mTLS listener maps CN=Alice.Example,O=Sluice Tests
    to `alice.example`: with ACLs for User:alice.example only, librdkafka and kafka-python
    produce and read back. Bob.Example maps to `bob.example`, which no ACL names: he is refused
    (TOPIC_AUTHORIZATION_FAILED, audited as User:bob.example) even with an ACL for his
    certificate's full DN."""
    node = cert_broker(**{"listener.name.required.ssl.principal.mapping.rules":
                          "RULE:^CN=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT"})
    alice = ca.issue("alice", "Alice.Example", server=False)
    bob = ca.issue("bob", "Bob.Example", server=False)
    topic = unique_topic("mapped")
    node.create_topic(topic)
    # confluent_consume names a group "sluice-tests-<random>" (librdkafka asks its coordinator).
    create_acls(node.root, [acl(Rt.TOPIC, topic, "User:alice.example", Op.WRITE),
                            acl(Rt.TOPIC, topic, "User:alice.example", Op.READ),
                            acl(Rt.GROUP, "sluice-tests-", "User:alice.example", Op.READ,
                                pattern=ResourcePatternType.PREFIXED),
                            acl(Rt.TOPIC, topic, "User:CN=Bob.Example" + DN_SUFFIX, Op.WRITE)])
    assert len(wait_for_acls(node.root, 4)) == 4
    conf = node.ssl_conf("REQUIRED", alice)
    del conf["bootstrap.servers"]
    base = os.path.splitext(alice)[0]
    kp_conf = {"security_protocol": "SSL", "ssl_cafile": ca.pem_path,
               "ssl_certfile": base + ".crt", "ssl_keyfile": base + ".key",
               "ssl_check_hostname": True}
    address = node.address("REQUIRED")
    acked = confluent_produce(address, topic, records("rdkafka", 10), **conf)
    acked += kafka_python_produce(address, topic, records("kafka-python", 10), **kp_conf)
    assert_same_records(acked, confluent_consume(address, topic, 1, **conf))
    assert_same_records(acked, kafka_python_consume(address, topic, 1, **kp_conf))
    assert_refused_by_acl(node.ssl_conf("REQUIRED", bob), topic)
    wait_until(lambda: node.denied("User:bob.example", topic), timeout=10,
               what="bob's denial in the audit log as User:bob.example")
    assert_no_panic(node.broker)


# SCRAM between brokers

def scram_jaas(password):
    return ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="broker" password="{password}";')


BROKER_JAAS_KEY = "listener.name.plaintext.scram-sha-512.sasl.jaas.config"


def format_with_scram_users(broker):
    """`sluice storage format` of a node with the config it will run with: the metadata log
    starts with the brokers' own SCRAM-SHA-512 credential and a client's."""
    out = subprocess.run(
        [SLUICE_BIN, "storage", "format", *broker.set_args(),
         "--add-scram", "SCRAM-SHA-512=[name=broker,password=broker-secret]",
         "--add-scram", "SCRAM-SHA-512=[name=alice,iterations=8192,password=alice-secret]"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "2 SCRAM credential(s)" in out.stdout, out.stdout


def isr_of(client, topic):
    """{partition: sorted ISR} as the metadata says."""
    md = client.list_topics(topic=topic, timeout=10).topics[topic]
    if md.error is not None:
        return {}
    return {p.id: sorted(p.isrs) for p in md.partitions.values()}


def refused_fetcher_logins(broker, node_id):
    """Lines of `broker`'s log where node `node_id`'s replica fetcher failed to log in."""
    return [line for line in broker.log_text().splitlines()
            if f'client_id="sluice-replica-fetcher-{node_id}"' in line
            and "SCRAM-SHA-512 authentication failed" in line]


def test_brokers_replicate_over_scram_sha_512(data_root, ca):
    """The inter-broker listener is SASL_SSL with SCRAM-SHA-512 only (no PLAIN anywhere): a
    replication factor 3 topic gets every replica in the ISR, acks=all records come back from
    the cluster. A node restarted with a wrong inter-broker password is alive and registered
    but cannot fetch, so it stays out of every ISR (acks=all goes on with the other two); with
    the password right again it catches up and rejoins."""
    extra = {
        "listener.security.protocol.map": "PLAINTEXT:SASL_SSL,CONTROLLER:PLAINTEXT",
        "ssl.keystore.location": ca.issue("broker", "broker"),
        "ssl.truststore.location": ca.pem_path,
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        BROKER_JAAS_KEY: scram_jaas("broker-secret"),
        "min.insync.replicas": "2",
        "replica.lag.time.max.ms": "2000",
    }
    cluster = Cluster(data_root, n=3, extra=extra, prepare=format_with_scram_users)
    try:
        alice = {"security.protocol": "SASL_SSL", "ssl.ca.location": ca.pem_path,
                 "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice",
                 "sasl.password": "alice-secret"}
        client = admin(cluster.bootstrap, **alice)
        topic = unique_topic("scram-rf3")
        client.create_topics([NewTopic(topic, 3, 3)])[topic].result(60)
        full = {p: [1, 2, 3] for p in range(3)}
        wait_until(lambda: isr_of(client, topic) == full, timeout=30, interval=0.2,
                   what=f"every replica in the ISR (saw {isr_of(client, topic)})")
        acked = confluent_produce(cluster.bootstrap, topic, records("a", 60), **alice)
        assert_same_records(acked, confluent_consume(cluster.bootstrap, topic, 3, **alice))
        assert isr_of(client, topic) == full

        # Node 3 with a wrong password: it starts and registers, its fetches are refused.
        node3 = cluster.brokers[2]
        node3.stop()
        node3.extra[BROKER_JAAS_KEY] = scram_jaas("wrong-secret")
        node3.start()
        without_3 = {p: [1, 2] for p in range(3)}
        wait_until(lambda: isr_of(client, topic) == without_3, timeout=30, interval=0.2,
                   what=f"node 3 out of every ISR (saw {isr_of(client, topic)})")
        wait_until(lambda: len(client.list_topics(timeout=10).brokers) == 3, timeout=30,
                   what="node 3 registered")
        # The leaders say why: node 3's replica fetcher retries and fails its SCRAM login. Three
        # refusals at each leader take seconds (a retry per fetch backoff); with the right
        # password node 3 rejoins in a fraction of that (below), so the ISR staying short
        # meanwhile is the refusal, not a slow catch-up. Node 3 itself warns that its fetches
        # fail.
        for b in cluster.brokers[:2]:
            wait_until(lambda: len(refused_fetcher_logins(b, 3)) >= 3, timeout=20,
                       what=f"node 3's refused SCRAM logins in the log of {b.bootstrap}")
        wait_until(lambda: any("WARN" in line and "failed, retrying" in line
                               for line in node3.log_text().splitlines()),
                   timeout=20, what="node 3 warning that its fetches fail")
        acked += confluent_produce(cluster.bootstrap, topic, records("b", 30), **alice)
        assert_same_records(acked, confluent_consume(cluster.bootstrap, topic, 3, **alice))
        assert isr_of(client, topic) == without_3

        # The right password again: node 3 catches up and rejoins every ISR.
        node3.stop()
        node3.extra[BROKER_JAAS_KEY] = scram_jaas("broker-secret")
        node3.start()
        wait_until(lambda: isr_of(client, topic) == full, timeout=30, interval=0.2,
                   what=f"node 3 back in every ISR (saw {isr_of(client, topic)})")
        acked += confluent_produce(cluster.bootstrap, topic, records("c", 10), **alice)
        assert_same_records(acked, confluent_consume(cluster.bootstrap, topic, 3, **alice))
        for b in cluster.brokers:
            assert_no_panic(b)
            assert "broker-secret" not in b.log_text() and "wrong-secret" not in b.log_text()
    finally:
        cluster.stop()


# OAUTHBEARER with an https JWKS endpoint

class JwksServer:
    """An https server on 127.0.0.1 (certificate from the test's CA) serving one JWK set
    file at /jwks.json; counts the GETs served and the connections that failed."""

    def __init__(self, ca, jwks_path):
        cert = os.path.splitext(ca.issue("jwks-server", "jwks-server"))[0]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert + ".crt", cert + ".key")
        server = self
        self.gets = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10

            def do_GET(self):
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                with open(jwks_path, "rb") as f:
                    body = f.read()
                server.gets += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                server.failed_handshakes += 1  # e.g. a client that does not trust the CA

        self.failed_handshakes = 0
        self.httpd = Server(("127.0.0.1", 0), Handler)
        # The handshake in the handler's thread, not in accept(): a stalled client cannot
        # block the server.
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def jwks_server(ca, tls_dir):
    issuer = OAuthIssuer(tls_dir)
    server = JwksServer(ca, issuer.jwks_path)
    yield issuer, server
    server.stop()


def oauth_listener_settings(ca, port, jwks_url):
    return {
        # PLAINTEXT: the broker's own (inter-broker) listener.
        "listeners": f"PLAINTEXT://127.0.0.1:{free_port()},OAUTH://127.0.0.1:{port}",
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,OAUTH:SASL_SSL,CONTROLLER:PLAINTEXT",
        "ssl.keystore.location": ca.issue("broker", "broker-1"),
        "sasl.enabled.mechanisms": "OAUTHBEARER",
        "listener.name.oauth.oauthbearer.sasl.server.callback.handler.class":
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        "listener.name.oauth.sasl.oauthbearer.jwks.endpoint.url": jwks_url,
        "sasl.oauthbearer.expected.audience": "sluice",
        "sasl.oauthbearer.expected.issuer": OAUTH_ISSUER,
    }


def oauth_conf(ca, port, token):
    return {"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_SSL",
            "ssl.ca.location": ca.pem_path, "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": lambda _config: (token(), time.time() + 300)}


def oauth_login(ca, port, token):
    """Whether the OAUTH listener takes `token` (SaslHandshake and SaslAuthenticate on a new
    TLS connection)."""
    context = ca.client_context()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            first, second = tls_oauth_exchange(tls, token)
    # Refused: error 58 at once, or an error JSON the client must acknowledge first.
    return first.error_code == 0 and second is None


def rotate_in_a_new_key(issuer, kid):
    """Publishes a new EC key `kid` beside the old ones; returns a token it signs."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig")
    with open(issuer.jwks_path) as f:
        jwks = json.load(f)
    jwks["keys"].append(jwk)
    with open(issuer.jwks_path + ".tmp", "w") as f:
        json.dump(jwks, f)
    os.replace(issuer.jwks_path + ".tmp", issuer.jwks_path)
    now = int(time.time())
    return jwt.encode({"sub": "rotated", "iat": now, "exp": now + 300, "aud": "sluice",
                       "iss": OAUTH_ISSUER}, key, algorithm="ES256", headers={"kid": kid})


def test_oauthbearer_keys_from_an_https_jwks_endpoint(broker_factory, ca, jwks_server):
    """The broker fetches the JWK set over https from a server whose certificate its trust
    store vouches for (the system's CAs, here replaced by the CA file SSL_CERT_FILE names): librdkafka with a token signed by the published key produces and consumes; a token
    signed by another key is refused. A key published later (a rotation) is fetched over https
    again once a token names it."""
    issuer, server = jwks_server
    port = free_port()
    broker = broker_factory(oauth_listener_settings(ca, port, server.url),
                            env={"SSL_CERT_FILE": ca.pem_path})
    assert server.gets >= 1, "the keys were fetched before the listener served"
    produce_consume_confluent(oauth_conf(ca, port, issuer.token), unique_topic("https-jwks"),
                              n=10)
    from cryptography.hazmat.primitives.asymmetric import ec
    stranger = ec.generate_private_key(ec.SECP256R1())
    errors = []
    refused = AdminClient({**oauth_conf(ca, port, lambda: issuer.token(key=stranger)),
                           "error_cb": lambda e: errors.append(str(e))})
    with pytest.raises(KafkaException):
        refused.list_topics(timeout=2)
    wait_until(lambda: refused.poll(0.2) is not None and any(
        "Authentication failed" in e or "invalid_token" in e for e in errors),
        timeout=15, what=f"the refusal of a token signed by another key (saw {errors})")
    assert not oauth_login(ca, port, issuer.token(key=stranger))
    # Rotation: the first token with the new kid is refused (the broker does not have the key
    # yet) and makes it fetch the set again; a later login with it succeeds.
    gets = server.gets
    rotated = rotate_in_a_new_key(issuer, "ec-2")
    wait_until(lambda: oauth_login(ca, port, rotated), timeout=20, interval=0.5,
               what="a token signed by the rotated-in key to be accepted")
    assert server.gets > gets
    assert oauth_login(ca, port, issuer.token()), "the old key is still published"
    assert "OAUTHBEARER keys not" not in broker.log_text()
    assert_no_panic(broker)


# Kafka's own ways to configure the https JWKS endpoint.

def jaas_trust_store(ca):
    return ("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
            f'ssl.truststore.type="PEM" ssl.truststore.location="{ca.pem_path}";')


def test_oauthbearer_https_jwks_trust_store_from_the_jaas_options(broker_factory, ca,
                                                                  jwks_server):
    issuer, server = jwks_server
    port = free_port()
    settings = oauth_listener_settings(ca, port, server.url)
    settings["listener.name.oauth.oauthbearer.sasl.jaas.config"] = jaas_trust_store(ca)
    broker_factory(settings)
    assert server.gets >= 1, (f"the keys were fetched before the listener served "
                              f"({server.failed_handshakes} failed handshakes)")
    produce_consume_confluent(oauth_conf(ca, port, issuer.token), unique_topic("jaas-trust"),
                              n=3)


def test_oauthbearer_jwks_url_under_the_mechanism_prefix(broker_factory, ca, jwks_server):
    issuer, server = jwks_server
    port = free_port()
    settings = oauth_listener_settings(ca, port, server.url)
    settings["listener.name.oauth.oauthbearer.sasl.oauthbearer.jwks.endpoint.url"] = \
        settings.pop("listener.name.oauth.sasl.oauthbearer.jwks.endpoint.url")
    broker_factory(settings, env={"SSL_CERT_FILE": ca.pem_path})
    assert server.gets >= 1, "the keys were fetched before the listener served"
    produce_consume_confluent(oauth_conf(ca, port, issuer.token), unique_topic("mech-prefix"),
                              n=3)
