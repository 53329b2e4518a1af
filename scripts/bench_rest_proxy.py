#!/usr/bin/env python3
"""REST proxy produce throughput (issue 16, docs/benchmarks.md): starts `sluice server` on a temp
dir with every listener on an ephemeral port, creates a topic through the proxy's v3 API, then
posts v2 produce requests of BATCH records (binary, SIZE-byte values, keyless) one after the
other on one keep-alive connection for SECONDS seconds, and prints records/s.

    target/test-venv/bin/python scripts/bench_rest_proxy.py target/release/sluice \
        [--seconds 10] [--batch 100] [--size 100] [--partitions 3] [--clients 1]

--clients N runs N such loops at once (threads, one connection each). Needs `requests`
(tests/requirements.txt)."""
import argparse
import base64
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import requests

REST = re.compile(r"rest proxy listener serving (http://[\d.:]+)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("sluice")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--clients", type=int, default=1)
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="sluice-rest-bench-")
    log_path = os.path.join(root, "server.log")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [args.sluice, "server", "--set", "listeners=PLAINTEXT://127.0.0.1:0",
             "--set", "admin.listeners=http://127.0.0.1:0",
             "--set", "rest.proxy.listeners=http://127.0.0.1:0",
             "--set", f"log.dirs={os.path.join(root, 'data')}"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        base = None
        while base is None:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(open(log_path).read())
            m = REST.search(open(log_path).read())
            base = m and m.group(1)
            time.sleep(0.05)
        s = requests.Session()
        while True:
            r = s.get(f"{base}/v3/clusters", timeout=10)
            if r.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise SystemExit(r.text)
            time.sleep(0.1)
        cid = r.json()["data"][0]["cluster_id"]
        r = s.post(f"{base}/v3/clusters/{cid}/topics",
                   json={"topic_name": "bench", "partitions_count": args.partitions})
        assert r.status_code == 201, r.text
        value = base64.b64encode(b"x" * args.size).decode()
        body = {"records": [{"value": value} for _ in range(args.batch)]}
        headers = {"Content-Type": "application/vnd.kafka.binary.v2+json"}
        # Wait for leaders: the first produce that succeeds.
        while s.post(f"{base}/topics/bench", json=body, headers=headers).status_code != 200:
            time.sleep(0.1)
        counts = [0] * args.clients
        stop = time.monotonic() + args.seconds

        def loop(i):
            session = requests.Session()
            while time.monotonic() < stop:
                r = session.post(f"{base}/topics/bench", json=body, headers=headers)
                assert r.status_code == 200, r.text
                offsets = r.json()["offsets"]
                assert all(o["error_code"] is None for o in offsets), r.text
                counts[i] += len(offsets)

        started = time.monotonic()
        threads = [threading.Thread(target=loop, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        total = sum(counts)
        print(f"{total} records of {args.size} B in {elapsed:.1f} s, batches of {args.batch}, "
              f"{args.clients} client(s): {total / elapsed:,.0f} records/s, "
              f"{total / elapsed / args.batch:,.0f} requests/s")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
