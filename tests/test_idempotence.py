"""Idempotent producer through a faulty network: a confluent-kafka producer with
enable.idempotence=true sends 100k records to a 3-partition topic through a TCP proxy that drops
responses and cuts connections at random. librdkafka retries every batch whose answer it did
not get, so the broker sees batches it already appended; its producer state must answer them as
duplicates with their original offsets. Afterwards every record is in the log exactly once, in
the order it was produced, per partition.

The broker advertises the proxy's address, so every client connection (including the ones the
producer opens after a cut) goes through the proxy. At the end the proxy stops injecting faults
and a plain consumer reads the partitions back through it.
"""
import random
import socket
import struct
import threading

from confluent_kafka import Producer

from kafka_helpers import assert_no_panic, confluent_consume, create_topic, unique_topic

PARTITIONS = 3
RECORDS = 100_000
# Chance that a response from the broker is dropped (and the connection cut with it), and that
# a chunk of bytes from a client is not forwarded (the connection cut before the broker sees
# the rest of that request).
DROP_RESPONSE = 0.05
CUT_REQUEST = 0.02


class FaultProxy:
    """A TCP proxy on 127.0.0.1 that forwards to the broker and injects faults while they are
    on (`set_faults`). Responses are relayed frame by frame (4-byte size, then the frame), so a dropped
    response is always a whole one, followed by closing both sides: the client then retries
    on a new connection, as after any network failure."""

    def __init__(self, seed):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.upstream = None
        self.faults = False
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats = {"connections": 0, "dropped_responses": 0, "cut_requests": 0}
        self.stopping = threading.Event()
        self.threads = []
        self.sockets = set()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self._spawn(self._accept_loop)

    def stop(self):
        self.stopping.set()
        with self.lock:
            for s in list(self.sockets):
                _close(s)
        for t in self.threads:
            t.join(timeout=5)
        self.listener.close()

    def _spawn(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def set_faults(self, on):
        with self.lock:
            self.faults = on

    def _chance(self, p):
        with self.lock:
            return self.faults and self.rng.random() < p

    def _count(self, what):
        with self.lock:
            self.stats[what] += 1

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                broker = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                _close(client)
                continue
            for s in (client, broker):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
            with self.lock:
                self.sockets.update((client, broker))
                self.stats["connections"] += 1
            self._spawn(self._requests, client, broker)
            self._spawn(self._responses, client, broker)

    def _cut(self, client, broker):
        with self.lock:
            self.sockets.discard(client)
            self.sockets.discard(broker)
        _close(client)
        _close(broker)

    def _requests(self, client, broker):
        try:
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                if self._chance(CUT_REQUEST):
                    self._count("cut_requests")
                    break
                broker.sendall(chunk)
        except OSError:
            pass
        self._cut(client, broker)

    def _responses(self, client, broker):
        try:
            while True:
                size = _recv_exact(broker, 4)
                if size is None:
                    break
                frame = _recv_exact(broker, struct.unpack(">i", size)[0])
                if frame is None:
                    break
                if self._chance(DROP_RESPONSE):
                    self._count("dropped_responses")
                    break
                client.sendall(size + frame)
        except OSError:
            pass
        self._cut(client, broker)


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def test_idempotent_producer_through_faults_writes_each_record_once(broker_factory):
    seed = random.randrange(1 << 30)
    proxy = FaultProxy(seed)
    # The proxy's port is known before the broker starts, so the broker can advertise it.
    broker = broker_factory({"advertised.listeners": f"PLAINTEXT://{proxy.address}"})
    proxy.start(broker.port)
    try:
        # The admin client follows metadata to the proxy too: faults start after the setup.
        topic = create_topic(broker.bootstrap, unique_topic("idem"), PARTITIONS)
        proxy.set_faults(True)

        delivered = {p: [] for p in range(PARTITIONS)}
        errors = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                delivered[msg.partition()].append((msg.offset(), msg.value()))

        producer = Producer({
            "bootstrap.servers": proxy.address,
            "enable.idempotence": True,
            "linger.ms": 5,
            "batch.num.messages": 500,
            "message.timeout.ms": 120_000,
            "socket.timeout.ms": 10_000,
            "reconnect.backoff.ms": 10,
            "reconnect.backoff.max.ms": 100,
            "retry.backoff.ms": 10,
        })
        sent = {p: [] for p in range(PARTITIONS)}
        for i in range(RECORDS):
            partition = i % PARTITIONS
            value = b"%d:%08d" % (partition, i)
            sent[partition].append(value)
            while True:
                try:
                    producer.produce(topic, value, partition=partition, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)
            if i % 1000 == 0:
                producer.poll(0)
        remaining = producer.flush(90)
        assert remaining == 0, f"{remaining} records undelivered; proxy {proxy.stats}, seed {seed}"
        assert not errors, f"delivery errors {errors[:5]}; proxy {proxy.stats}, seed {seed}"
        faults = proxy.stats["dropped_responses"] + proxy.stats["cut_requests"]
        assert faults > 0, f"no fault was injected: {proxy.stats}"
        print(f"proxy {proxy.stats}, seed {seed}")

        # Read back through the proxy, now faithful.
        proxy.set_faults(False)
        got = confluent_consume(proxy.address, topic, PARTITIONS, timeout=60)
        for p in range(PARTITIONS):
            values = [r.value for r in got if r.partition == p]
            offsets = [r.offset for r in got if r.partition == p]
            assert offsets == list(range(len(offsets))), f"partition {p}: offsets not contiguous"
            if values != sent[p]:
                seen = set()
                dups = [v for v in values if v in seen or seen.add(v)]
                missing = set(sent[p]) - set(values)
                raise AssertionError(
                    f"partition {p}: {len(values)} records stored for {len(sent[p])} sent, "
                    f"{len(dups)} duplicates (first {dups[:3]}), {len(missing)} missing; "
                    f"proxy {proxy.stats}, seed {seed}")
            # Each acknowledged offset holds the acknowledged record.
            by_offset = dict(zip(offsets, values))
            assert all(by_offset.get(o) == v for o, v in delivered[p]), f"partition {p}"
        assert_no_panic(broker)
    finally:
        proxy.stop()
