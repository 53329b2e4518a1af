"""A fault-injecting TCP proxy for cluster tests: network partitions between sluice nodes.

Every node of a test cluster gets one proxy port in front of each port it serves (the client
PLAINTEXT port and the CONTROLLER port). The node binds its real ports (`listeners`) but tells
everyone else to use the proxy ports (`advertised.listeners` for brokers and clients,
`controller.quorum.voters` for controllers), so every connection between two nodes, and every
client connection, crosses a proxy owned by one `FaultNetwork`.

Who connects. A rule names the two ends of a connection, so the proxy must know who opened it.
On accept the peer address is 127.0.0.1:<source port>; the kernel's socket tables
(/proc/net/tcp and /proc/net/tcp6) give the inode of the socket whose local port is that source
port and whose remote port is the proxy's, and the node process holding `socket:[<inode>]` among
its /proc/<pid>/fd entries opened it. A connection no node process holds is from a client (in
these tests, the test process and its client libraries). Labels are node ids (ints) and
`CLIENT`.

Rules. `block(src, dst)` blackholes every connection that `src` opens to `dst`'s proxies:
existing ones at once, new ones from their accept on. A blackholed connection stays open at both
ends but no byte moves in either direction: the proxy stops reading and writing it, so the
kernel buffers fill and the peers see silence, as in a real partition where packets are dropped
(which exercises their timeouts, not their reaction to a reset). A connection accepted while
blocked is not connected upstream at all, as a SYN that never arrived; the proxy forgets it when
its initiator gives up and closes it (its socket reaches CLOSE_WAIT, read through TCP_INFO,
without consuming its bytes). `heal()` removes every rule: blackholed connections resume where
they stopped (TCP retransmits after a partition heals, if neither end gave up) and waiting ones
are connected upstream. The end of either side, or an error, closes the whole connection (Kafka
and controller RPC never half-close).

One thread runs every proxy with a selector; a socket pair wakes it when rules change. Nothing
here blocks without a bound: sockets are non-blocking, upstream connects are non-blocking with a
deadline, the loop wakes at least every `TICK_S`, and `close()` joins the thread with a timeout.
Only loopback addresses are used.
"""

import errno
import os
import selectors
import socket
import struct
import threading
import time

CLIENT = "client"

TICK_S = 0.1
CHUNK_BYTES = 64 * 1024
CONNECT_TIMEOUT_S = 5.0
MAX_LINKS = 4096
TCP_CLOSE_WAIT = 8  # tcpi_state, include/net/tcp_states.h
LOOPBACK = "127.0.0.1"


def _socket_inode(source_port, dest_port):
    """The inode of the socket at 127.0.0.1:source_port connected to port dest_port (the side
    that connected to a proxy), or None when the kernel no longer lists it."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == source_port and remote_port == dest_port and fields[9] != "0":
                return fields[9]
    return None


def _holds_socket(pid, inode):
    """Whether process `pid` has `socket:[inode]` open (False if it is gone)."""
    wanted = f"socket:[{inode}]"
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(os.path.join(fd_dir, fd)) == wanted:
                return True
        except OSError:
            continue  # closed since the listing
    return False


def _tcp_state(sock):
    """The kernel's TCP state of `sock` (first byte of struct tcp_info), or None."""
    try:
        return struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]
    except OSError:
        return None


class _Route:
    """One proxy port: connections accepted there go to `dst`'s port `target_port`."""

    def __init__(self, name, dst, target_port):
        self.name = name
        self.dst = dst
        self.target_port = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]


class _Link:
    """One proxied connection: `downstream` was accepted from `src`, `upstream` goes to the
    route's target once the pair is not blocked. `to_upstream` / `to_downstream` hold bytes
    read from one side and not yet written to the other (at most one chunk each: a side is only
    read while its outgoing buffer is empty, which passes back-pressure through)."""

    def __init__(self, route, src, downstream):
        self.route = route
        self.src = src
        self.downstream = downstream
        self.upstream = None
        self.connecting_since = None  # monotonic time of a non-blocking connect in progress
        self.to_upstream = bytearray()
        self.to_downstream = bytearray()
        self.blocked = False
        self.closed = False

    @property
    def dst(self):
        return self.route.dst


class FaultNetwork:
    """The proxies of one test cluster and the partition rules between its nodes.

    `node_pids` is a callable returning {node id: pid} for the node processes running now; it is
    asked on every accept, so restarted nodes are recognised by their new pid.
    """

    def __init__(self, node_pids):
        self._node_pids = node_pids
        self._lock = threading.Lock()
        self._rules = set()  # (src, dst) pairs whose connections are blackholed; under _lock
        self._rules_changed = False  # under _lock
        self._routes = {}  # listener socket -> _Route; fixed once the thread runs
        self._links = set()  # loop thread only
        self._interest = {}  # socket -> (link, events) as registered; loop thread only
        self._selector = selectors.DefaultSelector()
        self._wake_recv, self._wake_send = socket.socketpair()
        self._wake_recv.setblocking(False)
        self._wake_send.setblocking(False)
        self._stop = threading.Event()
        self._thread = None
        self._closed = False
        self._accepted_lock = threading.Lock()
        # Every accepted connection as (route name, source label), for assertions and reports.
        self.accepted = []
        self.error = None  # an exception that ended the loop thread

    # --- setup and teardown (test thread) ---

    def route(self, name, dst, target_port):
        """Opens a proxy port in front of node `dst`'s 127.0.0.1:`target_port`; returns the
        proxy port. Call before `start`."""
        assert self._thread is None, "routes are added before the network starts"
        r = _Route(name, dst, target_port)
        self._routes[r.listener] = r
        return r.port

    def start(self):
        for listener in self._routes:
            self._selector.register(listener, selectors.EVENT_READ)
        self._selector.register(self._wake_recv, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="fault-network", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout=10.0):
        """Stops the thread (bounded by `timeout`) and closes every socket it holds."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the fault network thread did not stop within {timeout}s")
        for link in list(self._links):
            self._close_link(link)
        for listener in self._routes:
            listener.close()
        self._selector.close()
        self._wake_recv.close()
        self._wake_send.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- rules (test thread) ---

    def block(self, src, dst):
        """Blackholes connections that `src` opens to `dst` (a node id or CLIENT)."""
        self._change(lambda rules: rules.add((src, dst)))

    def isolate(self, node, others, clients=True):
        """Cuts `node` from every node in `others` both ways, and from clients if `clients`."""

        def cut(rules):
            for other in others:
                if other != node:
                    rules.add((node, other))
                    rules.add((other, node))
            if clients:
                rules.add((CLIENT, node))

        self._change(cut)

    def heal(self):
        """Removes every rule."""
        self._change(lambda rules: rules.clear())

    def rules(self):
        with self._lock:
            return set(self._rules)

    def sources(self, route_name):
        """The labels of everything that connected to `route_name` so far."""
        with self._accepted_lock:
            return {src for name, src in self.accepted if name == route_name}

    def _change(self, edit):
        with self._lock:
            edit(self._rules)
            self._rules_changed = True
        self._wake()

    def _wake(self):
        try:
            self._wake_send.send(b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (a wake-up is pending anyway) or closed

    # --- the loop (its own thread) ---

    def _run(self):
        try:
            while not self._stop.is_set():
                for key, events in self._selector.select(TICK_S):
                    sock = key.fileobj
                    if sock is self._wake_recv:
                        self._drain_wake()
                    elif sock in self._routes:
                        self._accept(self._routes[sock])
                    else:
                        link = self._interest.get(sock, (None, 0))[0]
                        if link is not None and not link.closed:
                            self._service(link, sock, events)
                self._apply_rules()
                self._tick()
        except Exception as e:  # reported by the test through `error`
            self.error = e
            raise

    def _drain_wake(self):
        try:
            while self._wake_recv.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _is_blocked(self, src, dst):
        with self._lock:
            return (src, dst) in self._rules

    def _apply_rules(self):
        with self._lock:
            if not self._rules_changed:
                return
            self._rules_changed = False
            rules = set(self._rules)
        for link in list(self._links):
            link.blocked = (link.src, link.dst) in rules
            self._refresh(link)

    def _tick(self):
        now = time.monotonic()
        for link in list(self._links):
            if link.closed:
                continue
            connecting = link.connecting_since is not None
            if connecting and now - link.connecting_since > CONNECT_TIMEOUT_S:
                self._close_link(link)
            elif (link.blocked and link.upstream is None
                  and _tcp_state(link.downstream) == TCP_CLOSE_WAIT):
                # Opened during the partition and given up on by its initiator: nothing on the
                # other side ever knew of it.
                self._close_link(link)

    def _identify(self, peer_port, proxy_port):
        inode = _socket_inode(peer_port, proxy_port)
        if inode is not None:
            for node, pid in self._node_pids().items():
                if _holds_socket(pid, inode):
                    return node
        return CLIENT

    def _accept(self, route):
        while True:
            try:
                conn, (_, peer_port) = route.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of descriptors, or the peer gave up: the next accept tries again
            try:
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                conn.close()
                continue
            src = self._identify(peer_port, route.port)
            with self._accepted_lock:
                self.accepted.append((route.name, src))
            if len(self._links) >= MAX_LINKS:
                conn.close()
                continue
            link = _Link(route, src, conn)
            link.blocked = self._is_blocked(src, route.dst)
            self._links.add(link)
            self._refresh(link)

    def _connect_upstream(self, link):
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        up.setblocking(False)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link.upstream = up
        code = up.connect_ex((LOOPBACK, link.route.target_port))
        if code in (0, errno.EISCONN):
            return
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            link.connecting_since = time.monotonic()
            return
        self._close_link(link)  # refused: the node is down; the client sees its connection end

    def _service(self, link, sock, events):
        if sock is link.upstream and link.connecting_since is not None:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code != 0:
                self._close_link(link)
                return
            link.connecting_since = None
        if link.blocked:
            self._refresh(link)
            return
        if events & selectors.EVENT_READ:
            other_buffer = link.to_upstream if sock is link.downstream else link.to_downstream
            try:
                data = sock.recv(CHUNK_BYTES)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self._close_link(link)
                return
            if data == b"":
                self._close_link(link)
                return
            if data:
                other_buffer += data
        if not link.closed and not self._flush(link):
            return
        self._refresh(link)

    def _flush(self, link):
        """Writes what each side has pending; False if the link closed."""
        for sock, buffer in ((link.upstream, link.to_upstream),
                             (link.downstream, link.to_downstream)):
            if not buffer or sock is None or (sock is link.upstream and
                                               link.connecting_since is not None):
                continue
            try:
                sent = sock.send(buffer)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self._close_link(link)
                return False
            del buffer[:sent]
        return True

    def _refresh(self, link):
        """Registers the events the link waits for now: none while blackholed (but a connect
        in progress completes), else reads on a side whose bytes the other side has taken and
        writes where bytes are pending."""
        if link.closed:
            return
        if not link.blocked and link.upstream is None:
            self._connect_upstream(link)
            if link.closed:
                return
        if not link.blocked and not self._flush(link):
            return
        connecting = link.connecting_since is not None
        down = up = 0
        if connecting:
            up = selectors.EVENT_WRITE
        elif not link.blocked:
            if not link.to_upstream:
                down |= selectors.EVENT_READ
            if link.to_downstream:
                down |= selectors.EVENT_WRITE
            if link.upstream is not None:
                if not link.to_downstream:
                    up |= selectors.EVENT_READ
                if link.to_upstream:
                    up |= selectors.EVENT_WRITE
        self._register(link, link.downstream, down)
        if link.upstream is not None:
            self._register(link, link.upstream, up)

    def _register(self, link, sock, events):
        current = self._interest.get(sock, (None, 0))[1]
        if events == current:
            return
        if current and events:
            self._selector.modify(sock, events)
        elif events:
            self._selector.register(sock, events)
        else:
            self._selector.unregister(sock)
        if events:
            self._interest[sock] = (link, events)
        else:
            self._interest.pop(sock, None)

    def _close_link(self, link):
        if link.closed:
            return
        link.closed = True
        for sock in (link.downstream, link.upstream):
            if sock is None:
                continue
            if self._interest.pop(sock, None) is not None:
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
            sock.close()
        self._links.discard(link)
