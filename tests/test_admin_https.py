"""The admin listener over TLS (`admin.listeners=https://...`): served with the certificate of
`listener.name.admin.ssl.*`, refusing plain HTTP, requiring a client certificate when
`ssl.client.auth=required`, serving a renewed certificate without a restart. (An https listener
without a key store is a startup error: tests/test_metrics.py.)"""

import os
import socket
import ssl
import urllib.request

import pytest

from conftest import Broker, wait_until
from tls_helpers import Ca, served_certificate_cn


@pytest.fixture
def ca(data_root):
    d = os.path.join(data_root, "tls")
    os.makedirs(d)
    return Ca(d)


def get(url, context):
    with urllib.request.urlopen(url, context=context, timeout=10) as r:
        return r.status, r.read()


def test_https_admin_listener_serves_its_own_certificate_and_reloads_it(data_root, ca):
    kafka_store = ca.issue("broker", "kafka-listener")
    admin_store = ca.issue("admin", "admin-listener")
    b = Broker(os.path.join(data_root, "n1"), extra={
        "admin.listeners": "https://127.0.0.1:0",
        # The broker-wide store is the fallback; the admin listener's own prefix wins.
        "ssl.keystore.location": kafka_store,
        "listener.name.admin.ssl.keystore.location": admin_store,
    }).start()
    try:
        assert "admin listener serving https://" in b.log_text()
        host, port = b.admin_address().split(":")
        assert served_certificate_cn(host, int(port), ca.pem_path) == "admin-listener"
        status, body = get(f"https://{host}:{port}/livez", ca.client_context())
        assert status == 200
        wait_until(lambda: get(f"https://{host}:{port}/readyz", ca.client_context())[0] == 200,
                   timeout=30, interval=0.2, what="readyz over https")

        # Plain HTTP on the TLS port gets no HTTP answer.
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                answer = b""
        assert not answer.startswith(b"HTTP/"), answer

        # A client that does not trust the CA is refused by its own check.
        with pytest.raises(urllib.error.URLError):
            get(f"https://{host}:{port}/livez", ssl.create_default_context())

        # The admin key store renewed on disk is served without a restart.
        ca.issue("admin", "admin-listener-renewed")
        wait_until(lambda: served_certificate_cn(host, int(port), ca.pem_path)
                   == "admin-listener-renewed",
                   timeout=40, interval=0.5, what="the renewed admin certificate")
        assert b.proc.poll() is None
    finally:
        b.stop()


def test_https_admin_listener_with_required_client_certificates(data_root, ca):
    store = ca.issue("admin", "admin-listener")
    client = ca.issue("client", "operator", server=False)
    b = Broker(os.path.join(data_root, "n1"), extra={
        "admin.listeners": "https://127.0.0.1:0",
        "listener.name.admin.ssl.keystore.location": store,
        "listener.name.admin.ssl.truststore.location": ca.pem_path,
        "listener.name.admin.ssl.client.auth": "required",
    }).start()
    try:
        address = b.admin_address()
        without = ca.client_context()
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionResetError)):
            get(f"https://{address}/livez", without)
        with_cert = ca.client_context()
        with_cert.load_cert_chain(client)
        assert get(f"https://{address}/livez", with_cert)[0] == 200
    finally:
        b.stop()

