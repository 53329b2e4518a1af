"""The fault-injecting proxy of fault_proxy.py against a loopback echo server: bytes pass both
ways, a rule blackholes existing and new connections without closing them, healing delivers
what waited, and connections are told apart by the process that opened them.

Silence can only be observed over some time: the checks that nothing arrives wait `QUIET_S`.
"""

import select
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from fault_proxy import CLIENT, FaultNetwork

QUIET_S = 0.3
WAIT_S = 10.0
SERVER = 1


class EchoServer:
    """Echoes every connection on 127.0.0.1 until stopped."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.accept, daemon=True)]
        self.threads[0].start()

    def accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            t = threading.Thread(target=self.echo, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def echo(self, conn):
        conn.settimeout(0.1)
        with conn:
            while not self.stop.is_set():
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    return
                conn.sendall(data)

    def close(self):
        self.stop.set()
        for t in list(self.threads):
            t.join(timeout=5)
        self.listener.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def receive(sock, n, timeout=WAIT_S):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def assert_silent(sock):
    sock.settimeout(QUIET_S)
    with pytest.raises(socket.timeout):
        sock.recv(1)


def test_blackholed_connections_resume_when_healed(echo):
    net = FaultNetwork(lambda: {})
    port = net.route("echo", SERVER, echo.port)
    net.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as before:
            before.sendall(b"ping")
            assert receive(before, 4) == b"ping"

            net.block(CLIENT, SERVER)
            before.sendall(b"held")
            assert_silent(before)
            # A new connection is accepted (the peer cannot tell) but goes nowhere.
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as during:
                during.sendall(b"late")
                assert_silent(during)

                net.heal()
                assert receive(before, 4) == b"held"
                assert receive(during, 4) == b"late"
        assert net.sources("echo") == {CLIENT}
    finally:
        net.close()
    assert net.error is None, net.error


CHILD = textwrap.dedent("""
    import socket, sys
    sys.stdin.readline()  # connects once the parent knows its pid
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    for line in sys.stdin:
        s.sendall(line.encode())
        reply = b""
        while not reply.endswith(b"\\n"):
            reply += s.recv(4096)
        sys.stdout.write(reply.decode())
        sys.stdout.flush()
""")


def test_connections_are_told_apart_by_process(echo):
    pids = {}
    net = FaultNetwork(lambda: dict(pids))
    port = net.route("echo", SERVER, echo.port)
    net.start()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    pids[7] = child.pid
    child.stdin.write("connect\n")

    def ask(line):
        child.stdin.write(line + "\n")
        child.stdin.flush()
        ready, _, _ = select.select([child.stdout], [], [], WAIT_S)
        assert ready, f"no echo of {line!r}"
        return child.stdout.readline().strip()

    try:
        assert ask("hello") == "hello"
        assert net.sources("echo") == {7}
        # A rule for clients leaves the node's connection alone; one for the node cuts it.
        net.block(CLIENT, SERVER)
        assert ask("still") == "still"
        net.block(7, SERVER)
        child.stdin.write("cut\n")
        child.stdin.flush()
        ready, _, _ = select.select([child.stdout], [], [], QUIET_S)
        assert not ready, "a blackholed connection answered"
        net.heal()
        ready, _, _ = select.select([child.stdout], [], [], WAIT_S)
        assert ready and child.stdout.readline().strip() == "cut"
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        child.stdout.close()
        net.close()
    assert net.error is None, net.error
