"""stress.py -- load and abuse tests for `digitnet serve` (run by tests/load.sh
and tests/abuse.sh; python3 standard library only).

    stress.py load  [SECONDS=10] [CLIENTS=6] [WARMUP=3]
    stress.py abuse
    stress.py load|abuse --port PORT --pid PID ...   (against a running server)

Without --port it starts `$DIGITNET serve MODEL --port 0 --workers 4`
(DIGITNET defaults to build/digitnet, MODEL to models/mnist-mlp.dnm), reads
the port it prints, and at the end stops it with SIGTERM, which must exit
with status 0 within 10 s.

load: CLIENTS threads send a fixed mix of valid and invalid requests to
/api/predict (and a few other routes) for WARMUP + SECONDS, each answer's
status is compared with the one it must have, and the server's resident
memory (VmRSS in /proc/PID/status) is sampled.  Fails on any wrong status,
dropped connection or malformed 200 answer, or when RSS after the warm-up
grows by more than 10% (not checked for a sanitizer build, whose allocator
keeps freed memory on purpose).  Prints requests/s and latency percentiles.

abuse: runs each attack from its own loopback address (127.0.0.x, so the
per-address connection limit applies to the attacker, not to the normal
client on 127.0.0.1) while a normal client sends a real digit every
second; every attack must be answered or dropped as specified, and every
normal request must get 200 within PROBE_LIMIT seconds.  Then a server
with more workers than its connection limit must serve and stop, and one
with a single worker must answer /healthz while uploads queue for it.

Everything is loopback only and bounded in time and count.  Exit status: 0
pass, 1 fail, 77 skipped (no server binary or model; for abuse, no
127.0.0.2 to bind).
"""
import gzip
import http.client
import json
import os
import random
import select
import signal
import socket
import subprocess
import struct
import sys
import threading
import time
import zlib

HOST = "127.0.0.1"
PER_IP_LIMIT = 16  # as in src/server/http.c
BODY_DEADLINE = 30.0  # as in src/server/http.c
HEAD_DEADLINE = 10.0  # as in src/server/http.c
SECURITY_HEADERS = (b"content-security-policy:", b"x-content-type-options: nosniff")
PROBE_LIMIT = 5.0  # seconds a normal request may take during an attack

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL  " + msg, flush=True)


def ok(msg):
    print("ok    " + msg, flush=True)


def check(cond, msg):
    ok(msg) if cond else fail(msg)
    return cond


# ---------------------------------------------------------------- fixtures


def png_chunk(kind, data):
    c = kind + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c))


def png_gray(w, h, rows, level=6):
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, level)) + png_chunk(b"IEND", b""))


def png_header_only(w, h):
    """A PNG whose IHDR declares w x h but whose data is a few bytes."""
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))


def mnist_digits(count):
    """The first `count` MNIST test images as 784-byte strings, or synthetic
    strokes when the data set is not there."""
    d = os.environ.get("DN_MNIST_DIR", "data/mnist")
    for name, opener in (("t10k-images-idx3-ubyte", open), ("t10k-images-idx3-ubyte.gz", gzip.open)):
        path = os.path.join(d, name)
        if os.path.exists(path):
            with opener(path, "rb") as f:
                data = f.read(16 + 784 * count)
            return [data[16 + 784 * i:16 + 784 * (i + 1)] for i in range(count)]
    out = []
    for i in range(count):  # a slanted bar: the network sees ink, whatever it calls it
        px = bytearray(784)
        for y in range(5, 23):
            x = 12 + (i % 5) - (y - 14) // 6
            for dx in range(3):
                px[y * 28 + x + dx] = 255
        out.append(bytes(px))
    return out


DIGITS = mnist_digits(16)
DIGIT_PNGS = [png_gray(28, 28, [d[r * 28:(r + 1) * 28] for r in range(28)]) for d in DIGITS]
DIGIT_JSON = [json.dumps({"pixels": list(d)}).encode() for d in DIGITS]
DIGIT_PGM = [b"P5\n28 28\n255\n" + d for d in DIGITS]

PNG = {"Content-Type": "image/png"}
JSONT = {"Content-Type": "application/json"}
PGM = {"Content-Type": "image/x-portable-graymap"}

# (name, method, path, headers, bodies, expected status, weight): each request
# picks a case by weight and one of its bodies.  "RAW413" declares a 3 MiB
# Content-Length on a fresh connection and sends no body.
LOAD_MIX = [
    ("png digit", "POST", "/api/predict", PNG, DIGIT_PNGS, 200, 8),
    ("json pixels", "POST", "/api/predict", JSONT, DIGIT_JSON, 200, 4),
    ("pgm digit", "POST", "/api/predict", PGM, DIGIT_PGM, 200, 2),
    ("truncated png", "POST", "/api/predict", PNG, [DIGIT_PNGS[0][:60]], 400, 1),
    ("garbage png", "POST", "/api/predict", PNG, [b"\x89PNG\r\n\x1a\n" + b"\0" * 200], 400, 1),
    ("malformed json", "POST", "/api/predict", JSONT, [b'{"pixels": [1, 2,'], 400, 1),
    ("invalid utf-8", "POST", "/api/predict", JSONT, [b'{"pixels":[1],"n":"\xc3\x28"}'], 400, 1),
    ("deep nesting", "POST", "/api/predict", JSONT, [b'{"pixels":' + b"[" * 5000 + b"]" * 5000 + b"}"],
     400, 1),
    ("783 pixels", "POST", "/api/predict", JSONT, [json.dumps({"pixels": [0] * 783}).encode()], 400, 1),
    ("png bomb header", "POST", "/api/predict", PNG, [png_header_only(100000, 100000)], 413, 1),
    ("blank image", "POST", "/api/predict", PNG, [png_gray(64, 64, [b"\0" * 64] * 64)], 422, 1),
    ("text/plain", "POST", "/api/predict", {"Content-Type": "text/plain"}, [b"hello"], 415, 1),
    ("empty body", "POST", "/api/predict", JSONT, [b""], 400, 1),
    ("GET predict", "GET", "/api/predict", {}, [None], 405, 1),
    ("unknown path", "GET", "/nope", {}, [None], 404, 1),
    ("healthz", "GET", "/healthz", {}, [None], 200, 1),
    ("declared 3 MiB", "RAW413", "/api/predict", PNG, [None], 413, 1),
]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * p))]


# ---------------------------------------------------------------- raw sockets


def connect(port, src=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((HOST, port))
    return s


def recv_until(s, marker, timeout=5.0):
    """What s receives until marker arrives, the peer closes or timeout."""
    s.settimeout(timeout)
    buf = b""
    try:
        while marker not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except OSError:
        pass
    return buf


def read_status(s, timeout=5.0):
    """The status code of the answer on s, or None when the server closed or
    reset the connection without one (or nothing came within timeout)."""
    buf = recv_until(s, b"\r\n", timeout)
    if buf.startswith(b"HTTP/1.") and len(buf) >= 12:
        try:
            return int(buf[9:12])
        except ValueError:
            return None
    return None


def closed_by_peer(s):
    """True when the server has closed (or reset) s; never blocks."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        return s.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def declared_too_large(port, length="3145728", src=None):
    s = connect(port, src)
    try:
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                  b"Content-Length: " + length.encode() + b"\r\n\r\n")
        return read_status(s)
    finally:
        s.close()


def http_request(conn, method, path, headers, body):
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


# ---------------------------------------------------------------- load


def run_load(port, pid, seconds, clients, warmup, sanitized):
    weights = [m[6] for m in LOAD_MIX]
    lock = threading.Lock()
    lat_warm, lat = [], []
    per_case = {m[0]: 0 for m in LOAD_MIX}
    wrong, nwrong = [], [0]
    t_start = time.perf_counter()
    t_warm = t_start + warmup
    t_end = t_warm + seconds
    max_requests = 400000

    def client(idx):
        rng = random.Random(1000 + idx)
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        n = 0
        mine, mine_warm = [], []
        while n < max_requests // clients:
            now = time.perf_counter()
            if now >= t_end:
                break
            case = rng.choices(LOAD_MIX, weights)[0]
            name, method, path, headers, bodies, want = case[:6]
            body = rng.choice(bodies)
            t0 = time.perf_counter()
            try:
                if method == "RAW413":
                    got, payload = declared_too_large(port), b""
                else:
                    got, payload = http_request(conn, method, path, headers, body)
            except Exception as e:  # a dropped connection is an error too
                got, payload = repr(e), b""
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
            dt = time.perf_counter() - t0
            n += 1
            (mine if t0 >= t_warm else mine_warm).append(dt)
            bad = got != want
            if not bad and want == 200 and path == "/api/predict":
                try:
                    j = json.loads(payload)
                    bad = not (0 <= j["label"] <= 9 and len(j["probabilities"]) == 10
                               and len(j["image"]) == 784)
                except Exception:
                    bad = True
            with lock:
                per_case[name] += 1
                if bad:
                    nwrong[0] += 1
                    if len(wrong) < 20:
                        wrong.append(f"{name}: expected {want}, got {got} {payload[:120]!r}")
        conn.close()
        with lock:
            lat.extend(mine)
            lat_warm.extend(mine_warm)

    rss_before = rss_kib(pid)
    samples = []  # (time since start, KiB)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    rss_warm = None
    while any(t.is_alive() for t in threads):
        time.sleep(0.25)
        now = time.perf_counter()
        r = rss_kib(pid)
        if r is None:
            break
        samples.append((now - t_start, r))
        if rss_warm is None and now >= t_warm:
            rss_warm = r
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_warm
    rss_end = rss_kib(pid)
    alive = rss_end is not None

    total = len(lat)
    lat.sort()
    rate = total / elapsed
    print(f"load: {clients} clients, {warmup:.0f} s warm-up ({len(lat_warm)} requests) then "
          f"{elapsed:.1f} s: {total} requests, {rate:.0f} requests/s, latency median "
          f"{pct(lat, 0.5) * 1e3:.2f} ms, p99 {pct(lat, 0.99) * 1e3:.2f} ms, "
          f"max {lat[-1] * 1e3 if lat else 0:.1f} ms")
    print("load: mix " + ", ".join(f"{k} {v}" for k, v in per_case.items()))
    after = [r for (ts, r) in samples if ts >= warmup]
    peak = max(after) if after else None
    print(f"load: server RSS {rss_before} KiB before, {rss_warm} KiB after warm-up, "
          f"peak {peak} KiB after warm-up, {rss_end} KiB at the end")
    check(alive, "the server is still running")
    check(not nwrong[0], f"every answer had the expected status ({nwrong[0]} wrong)")
    for w in wrong[:20]:
        print("      " + w)
    check(total > 0 and all(v > 0 for v in per_case.values()),
          "every kind of request was sent")
    if sanitized:
        print("note  RSS is not checked (sanitizer build)")
    elif rss_warm and peak:
        growth = (peak - rss_warm) / rss_warm
        check(growth <= 0.10, f"RSS flat after warm-up ({growth * 100:+.1f}%, limit +10%)")
    else:
        fail("RSS could not be read")
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        st, _ = http_request(conn, "GET", "/healthz", {}, None)
        conn.close()
    except Exception as e:
        st = repr(e)
    check(st == 200, f"healthy after the load (got {st})")


# ---------------------------------------------------------------- abuse


class Prober:
    """Sends a real digit from 127.0.0.1 every `every` seconds in a thread and
    records (status, seconds) for each request."""

    def __init__(self, port, every=1.0):
        self.port, self.every = port, every
        self.results = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def once(self):
        t0 = time.perf_counter()
        try:
            c = http.client.HTTPConnection(HOST, self.port, timeout=PROBE_LIMIT)
            st, _ = http_request(c, "POST", "/api/predict", PNG, DIGIT_PNGS[3])
            c.close()
        except Exception as e:
            st = type(e).__name__
        return st, time.perf_counter() - t0

    def run(self):
        while not self.stop.is_set():
            self.results.append(self.once())
            self.stop.wait(self.every)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.results.append(self.once())  # and one right after the attack

    def report(self, what):
        good = [dt for st, dt in self.results if st == 200 and dt <= PROBE_LIMIT]
        worst = max((dt for _, dt in self.results), default=0.0)
        bad = [(st, round(dt, 2)) for st, dt in self.results if st != 200 or dt > PROBE_LIMIT]
        check(self.results and not bad,
              f"{what}: normal requests answered 200 ({len(good)}/{len(self.results)}, "
              f"slowest {worst:.2f} s){' ' + str(bad[:5]) if bad else ''}")


def attacker_addresses():
    """Loopback source addresses for attackers (Linux routes all of
    127.0.0.0/8 to the loopback interface); skips the test elsewhere."""
    try:
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.close()
    except OSError:
        print("skip: cannot bind 127.0.0.2 (attackers need their own loopback address)")
        sys.exit(77)
    return [f"127.0.0.{i}" for i in range(2, 40)]


def drip_sockets(socks, payload, seconds, closed):
    """Sends payload on every socket once a second for `seconds`; records in
    `closed` the sockets the server closed."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for s in socks:
            if s in closed:
                continue
            if closed_by_peer(s):
                closed.add(s)
                continue
            try:
                s.send(payload)
            except OSError:
                closed.add(s)
        time.sleep(1.0)


def open_many(port, src, n, first=b""):
    socks = []
    for _ in range(n):
        try:
            s = connect(port, src)
            if first:
                s.sendall(first)
            socks.append(s)
        except OSError:
            pass  # refused or reset at once: also a drop
    return socks


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def attack_slowloris(port, src):
    n = PER_IP_LIMIT + 8
    socks = open_many(port, src, n, b"POST /api/predict HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    closed = set()
    with Prober(port) as p:
        drip_sockets(socks, b"a", 6.0, closed)
    kept = len(socks) - len(closed)
    print(f"      slowloris: {n} sockets from {src}, {kept} still open after 6 s")
    check(kept <= PER_IP_LIMIT, f"slowloris: at most {PER_IP_LIMIT} held per address ({kept})")
    close_all(socks)
    p.report("slowloris (headers one byte per second)")


def attack_slow_chunked(port, src):
    head = (b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    socks = open_many(port, src, PER_IP_LIMIT, head)
    closed = set()
    with Prober(port) as p:
        drip_sockets(socks, b"1\r\na\r\n", 5.0, closed)
    close_all(socks)
    p.report(f"chunked bodies that never end, {PER_IP_LIMIT} slow senders")


def drip_until_cut(port, src, result):
    """One chunked body trickling a byte a second; result gets the seconds
    after which the server cut it (None if it did not within the deadline
    plus 15 s)."""
    s = connect(port, src)
    s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    t0 = time.perf_counter()
    result["cut"] = None
    while time.perf_counter() - t0 < BODY_DEADLINE + 15:
        if closed_by_peer(s):
            result["cut"] = time.perf_counter() - t0
            break
        try:
            s.send(b"1\r\na\r\n")
        except OSError:
            result["cut"] = time.perf_counter() - t0
            break
        time.sleep(1.0)
    s.close()


def attack_fast_chunked(port, src):
    """Two clients streaming a chunked body as fast as they can, without end:
    the server must cut them after DN_API_MAX_BODY plus its drain limit."""
    results = []
    cap = 64 << 20

    def stream():
        s = connect(port, src)
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"\0" * 65536 + b"\r\n"
        sent, t0 = 0, time.perf_counter()
        cut = False
        s.settimeout(10)
        try:
            while sent < cap and time.perf_counter() - t0 < 20:
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            cut = True
        status = read_status(s, 2.0) if cut else None
        results.append((cut, sent, time.perf_counter() - t0, status))
        s.close()

    ts = [threading.Thread(target=stream) for _ in range(2)]
    with Prober(port) as p:
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    for cut, sent, dt, status in results:
        print(f"      endless chunked body: {'cut' if cut else 'NOT cut'} after "
              f"{sent / 2**20:.1f} MiB in {dt:.1f} s")
    check(all(c and sent < 48 << 20 for c, sent, _, _ in results),
          "endless fast chunked bodies are cut (2 MiB limit + 16 MiB drain + buffers)")
    p.report("endless fast chunked bodies")


def send_body_and_read(port, src, head, body):
    """Sends head+body (stopping when the server closes) and returns the
    status it answered, or None when it only closed."""
    s = connect(port, src, timeout=10)
    try:
        s.sendall(head)
        for i in range(0, len(body), 65536):
            s.sendall(body[i:i + 65536])
    except OSError:
        pass
    st = read_status(s)
    s.close()
    return st


def attack_oversized(port, src):
    big = b"\0" * (3 << 20)
    cases = [
        ("declared 3 MiB", lambda: declared_too_large(port, "3145728", src), {413}),
        ("declared 1 TB", lambda: declared_too_large(port, "1000000000000", src), {413}),
        ("declared 10^30", lambda: declared_too_large(port, "1" + "0" * 30, src), {400, 413}),
        ("3 MiB body", lambda: send_body_and_read(
            port, src, b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
            b"Content-Length: 3145728\r\n\r\n", big), {413, None}),
        ("3 MiB chunked body", lambda: send_body_and_read(
            port, src, b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            b"".join(b"10000\r\n" + big[i:i + 65536] + b"\r\n" for i in range(0, len(big), 65536))
            + b"0\r\n\r\n"), {413, None}),
    ]
    for name, fn, want in cases:
        st = fn()
        check(st in want, f"oversized: {name} -> {st} (want {sorted(want, key=str)})")
    # The same from six clients at once for three seconds.
    wrong, count = [], [0]
    stop = time.perf_counter() + 3.0

    def hammer(i):
        while time.perf_counter() < stop:
            name, fn, want = cases[i % len(cases)]
            st = fn()
            count[0] += 1
            if st not in want:
                wrong.append((name, st))

    ts = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
    with Prober(port, 0.5) as p:
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    check(not wrong, f"oversized bodies from 6 clients: {count[0]} requests, "
          f"{len(wrong)} unexpected {wrong[:3]}")
    p.report("oversized bodies")


def parallel_cases(port, src, cases, seconds, what, clients=4):
    """Sends (name, headers, body, statuses) cases in a loop from `clients`
    keep-alive connections bound to src while probing."""
    wrong, count = [], [0]
    stop = time.perf_counter() + seconds

    def hammer(i):
        conn = http.client.HTTPConnection(HOST, port, timeout=10, source_address=(src, 0))
        k = i
        while time.perf_counter() < stop:
            name, headers, body, want = cases[k % len(cases)]
            k += 1
            try:
                st, _ = http_request(conn, "POST", "/api/predict", headers, body)
            except Exception as e:
                st = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=10, source_address=(src, 0))
            count[0] += 1
            if st not in want:
                wrong.append((name, st))
        conn.close()

    for name, headers, body, want in cases:  # one of each first, reported
        c = http.client.HTTPConnection(HOST, port, timeout=10, source_address=(src, 0))
        t0 = time.perf_counter()
        try:
            st, _ = http_request(c, "POST", "/api/predict", headers, body)
        except Exception as e:
            st = type(e).__name__
        c.close()
        check(st in want, f"{what}: {name} -> {st} in {time.perf_counter() - t0:.2f} s")
    ts = [threading.Thread(target=hammer, args=(i,)) for i in range(clients)]
    with Prober(port, 0.5) as p:
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    check(not wrong, f"{what} from {clients} clients for {seconds:.0f} s: {count[0]} requests, "
          f"{len(wrong)} unexpected {wrong[:3]}")
    p.report(what)


def attack_json(port, src):
    deep = b"[" * (1 << 20)
    many = b"[" + b"0," * 500000 + b"0]"
    cases = [
        ("invalid UTF-8 (C3 28)", JSONT, b'{"pixels":[1],"n":"\xc3\x28"}', {400}),
        ("overlong UTF-8 (C0 AF)", JSONT, b'{"pixels":[1],"n":"\xc0\xaf"}', {400}),
        ("UTF-8 surrogate (ED A0 80)", JSONT, b'{"n":"\xed\xa0\x80"}', {400}),
        ("byte F8", JSONT, b'{"n":"\xf8\x88\x80\x80\x80"}', {400}),
        ("lone surrogate escape", JSONT, b'{"n":"\\ud800"}', {400}),
        ("1 MiB of '['", JSONT, deep, {400}),
        ("deep objects", JSONT, b'{"a":' * 100000 + b"1" + b"}" * 100000, {400}),
        ("500,001 values", JSONT, many, {400}),
        ("1,000-digit number", JSONT, b'{"pixels":[' + b"1" * 1000 + b"]}", {400}),
        ("byte-order mark", JSONT, b'\xef\xbb\xbf{"pixels":[]}', {400}),
        ("sniffed JSON, bad UTF-8", {"Content-Type": "application/octet-stream"},
         b'{"\xff":1}', {400}),
    ]
    parallel_cases(port, src, cases, 3.0, "JSON abuse")


def attack_bombs(port, src):
    row = b"\0" * 6000
    bomb = (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 6000, 6000, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"".join(b"\0" + row for _ in range(6000)), 9))
            + png_chunk(b"IEND", b""))
    inflating = zlib.compress(b"\0" * (100 << 20), 9)

    def with_chunk(kind, data):  # after IHDR (8 + 25 bytes) of a real digit
        return DIGIT_PNGS[0][:33] + png_chunk(kind, data) + DIGIT_PNGS[0][33:]

    jpeg = (b"\xff\xd8" + b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65000, 65000, 1)
            + b"\x01\x11\x00" + b"\xff\xd9")
    cases = [
        ("PNG 6000x6000 (%d KiB, 36 MB decoded)" % (len(bomb) // 1024), PNG, bomb, {413}),
        ("PNG header 100000x100000", PNG, png_header_only(100000, 100000), {413}),
        ("PNG header 4097x4097", PNG, png_header_only(4097, 4097), {413}),
        ("PNG header 1x20000000", PNG, png_header_only(1, 20000000), {413}),
        ("PNG header 0x0", PNG, png_header_only(0, 0), {400}),
        ("JPEG frame 65000x65000", {"Content-Type": "image/jpeg"}, jpeg, {413}),
        ("PGM header 100000x100000", PGM, b"P5\n100000 100000\n255\n" + b"\0" * 100, {413}),
        ("PGM header 2^40+", PGM, b"P5\n9999999999999999999999 1\n255\n\0", {413}),
        # Ancillary chunks that inflate to 100 MiB: skipped or bounded by libpng.
        ("digit + 100 MiB zTXt", PNG, with_chunk(b"zTXt", b"k\0\0" + inflating), {200, 400}),
        ("digit + 100 MiB iCCP", PNG, with_chunk(b"iCCP", b"p\0\0" + inflating), {200, 400}),
    ]
    parallel_cases(port, src, cases, 3.0, "image bombs")
    # The largest image that is accepted costs real work; two clients
    # sending it back to back must not starve the others either.
    big = png_gray(4096, 4096, [b"\0" * 4096] * 4096, 9)
    parallel_cases(port, src, [("blank 4096x4096 PNG (the largest accepted)", PNG, big, {422})],
                   3.0, "largest images", clients=2)


def attack_flood(port, addrs):
    n = 300
    socks = open_many(port, addrs[0], n)
    for _ in range(20):  # the server accepts and closes the excess at its pace
        time.sleep(0.25)
        kept = sum(1 for s in socks if not closed_by_peer(s))
        if kept <= PER_IP_LIMIT:
            break
    print(f"      flood: {n} connections from {addrs[0]}, {kept} still open")
    check(kept <= PER_IP_LIMIT, f"flood: at most {PER_IP_LIMIT} connections held per address")
    with Prober(port, 0.5) as p:
        time.sleep(2.0)
    p.report(f"{n} connections at once from one address")
    close_all(socks)
    # Four addresses at their limit: 64 connections, still under the total.
    socks = []
    for a in addrs[1:5]:
        socks += open_many(port, a, PER_IP_LIMIT, b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    time.sleep(0.5)
    kept = sum(1 for s in socks if not closed_by_peer(s))
    print(f"      flood: {len(socks)} slow connections from 4 addresses, {kept} still open")
    with Prober(port, 0.5) as p:
        time.sleep(2.0)
    p.report("slow connections from 4 addresses at their limit")
    close_all(socks)
    with Prober(port, 0.5) as p:
        time.sleep(0.5)
    p.report("after the floods")


def attack_headers(port, src):
    for name, req in [
        ("100 KiB header", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 102400 + b"\r\n\r\n"),
        ("5,000 headers", b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n"),
        ("100 KiB URL", b"GET /" + b"a" * 102400 + b" HTTP/1.1\r\nHost: t\r\n\r\n"),
        ("garbage request line", b"\x00\xff\xfe GARBAGE\r\n\r\n"),
    ]:
        s = connect(port, src)
        try:
            s.sendall(req)
        except OSError:
            pass
        st = read_status(s)
        s.close()
        check(st is None or 400 <= st < 500, f"headers: {name} -> {st or 'closed'}")
    # two Content-Length headers (request smuggling behind a proxy): 400 at
    # once, whichever comes first, and the connection closed
    for first, second in [(5, 50), (50, 5)]:
        s = connect(port, src)
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nContent-Length: %d\r\n\r\nhello" % (first, second))
        st = read_status(s)
        closed = False
        s.settimeout(5.0)
        try:  # the rest of the answer, then the end of the stream
            while s.recv(65536):
                pass
            closed = True
        except OSError:
            pass
        s.close()
        check(st == 400 and closed,
              f"headers: Content-Length {first} then {second} -> {st or 'no answer'}, "
              f"{'closed' if closed else 'left open'}")


def read_answers(s, timeout=5.0, buf=b""):
    """Everything the server sends on s until it closes (or timeout), after
    buf, split into answers: a list of (status, header bytes lower-cased,
    body)."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except OSError:
        pass
    answers, raw = [], buf
    while buf.startswith(b"HTTP/1."):
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            break
        head = buf[:end].lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        answers.append((int(buf[9:12]), head, buf[end + 4:end + 4 + length]))
        buf = buf[end + 4 + length:]
    # a status line inside a body: the server sent an answer's head twice
    # bytes after the last answer, or an answer's head inside a body: the
    # server sent more than it announced (a head twice, say)
    if buf or any(body.startswith(b"HTTP/1.") for _, _, body in answers):
        fail(f"http: {len(answers)} answers and more: {raw[:300]!r}")
    return answers


def exchange(port, src, data, timeout=5.0):
    s = connect(port, src)
    try:
        s.sendall(data)
    except OSError:
        pass
    answers = read_answers(s, timeout)
    s.close()
    return answers


def attack_http_edge(port, src):
    """The HTTP edge: long query strings, bad lengths, the server's own error
    answers, pipelining."""
    def get(target, extra=b""):
        return (b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra
                + b"\r\n")

    many = b"&".join(b"a%d=b" % i for i in range(1000))  # 6.9 KB
    cases = [
        ("1,000 query parameters (%d bytes)" % len(many), get(b"/healthz?" + many), 200),
        ("a 23 KB query string", get(b"/healthz?" + b"&".join(b"a%d=b" % i for i in range(3000))),
         414),
        ("Content-Length -1", b"POST /api/predict HTTP/1.1\r\nHost: t\r\n"
         b"Content-Length: -1\r\n\r\n", 400),
        ("Content-Length of 100 digits", b"POST /api/predict HTTP/1.1\r\nHost: t\r\n"
         b"Content-Length: " + b"1" * 100 + b"\r\n\r\n", 413),
        ("Content-Length +5", b"POST /api/predict HTTP/1.1\r\nHost: t\r\n"
         b"Content-Length: +5\r\n\r\nhello", 400),
        ("Content-Length with Transfer-Encoding", b"POST /api/predict HTTP/1.1\r\nHost: t\r\n"
         b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("Transfer-Encoding gzip", b"POST /api/predict HTTP/1.1\r\nHost: t\r\n"
         b"Transfer-Encoding: gzip\r\n\r\n", 501),
        ("HTTP/2.0", b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n", 400),
        ("folded header", get(b"/healthz", b"X-A: b\r\n c\r\n"), 400),
        ("space before colon", get(b"/healthz", b"Host : t\r\n"), 400),
        ("garbage request line", b"\x01\xff GARBAGE\r\n\r\n", 400),
        # empty lines before a request are skipped, also in packets of their
        # own (a head of nothing but empty lines once crashed the server)
        ("empty lines, then a request", b"\r\n\r\n\n\n" + get(b"/healthz"), 200),
        ("100 KiB header", get(b"/healthz", b"X-Big: " + b"a" * 102400 + b"\r\n"), 431),
        ("unknown expectation", b"POST /api/predict HTTP/1.1\r\nHost: t\r\n"
         b"Expect: magic\r\nContent-Length: 2\r\n\r\n{}", 417),
    ]
    for name, data, want in cases:
        answers = exchange(port, src, data)
        st = answers[0][0] if answers else None
        check(st == want and len(answers) == 1,
              f"http: {name} -> {[a[0] for a in answers] or 'no answer'} (want [{want}])")
        if answers and st != 200:
            check(all(h in answers[0][1] for h in SECURITY_HEADERS),
                  f"http: the {st} answer to {name} has the CSP and nosniff headers")
            check(answers[0][2].startswith(b'{"error":'), f"http: the {st} answer is JSON")
    s = connect(port, src)
    for part in (b"\r\n\r\n", b"\n\n", get(b"/healthz")):
        s.sendall(part)
        time.sleep(0.2)
    answers = read_answers(s)
    s.close()
    check([a[0] for a in answers] == [200],
          f"http: empty lines sent on their own, then a request -> {[a[0] for a in answers]}")
    # 40 requests back to back on one connection, before reading anything:
    # all answered, in order (the paths alternate between 200 and 404)
    reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % (b"/healthz" if i % 2 else b"/no")
                    for i in range(40))
    reqs += get(b"/healthz")
    answers = exchange(port, src, reqs)
    got = [a[0] for a in answers]
    want = [200 if i % 2 else 404 for i in range(40)] + [200]
    check(got == want, f"http: 41 pipelined requests -> {len(got)} answers"
          f"{', in order' if got == want else ', wrong: ' + str(got[:12])}")
    # a body sent with Expect: 100-continue, as curl does for large uploads
    s = connect(port, src)
    s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
              b"Connection: close\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(DIGIT_PNGS[3]))
    buf = recv_until(s, b"\r\n\r\n")
    first = buf[:buf.find(b"\r\n\r\n") + 4]
    s.sendall(DIGIT_PNGS[3])
    rest = read_answers(s, buf=buf[len(first):])
    s.close()
    check(first == b"HTTP/1.1 100 Continue\r\n\r\n" and [a[0] for a in rest] == [200],
          f"http: Expect: 100-continue -> {first!r}, then {[a[0] for a in rest]}")


def trickle_head(port, src, result):
    """A request head trickling a byte a second; result gets the seconds
    after which the server answered 408 or cut it."""
    s = connect(port, src)
    t0 = time.perf_counter()
    result["cut"], result["status"] = None, None
    data = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"a" * 100
    for i in range(len(data)):
        if time.perf_counter() - t0 > HEAD_DEADLINE + 15:
            break
        if closed_by_peer(s) or select.select([s], [], [], 0)[0]:
            break
        try:
            s.send(data[i:i + 1])
        except OSError:
            break
        time.sleep(1.0)
    result["cut"] = time.perf_counter() - t0
    answers = read_answers(s, 2.0)
    result["status"] = answers[0][0] if answers else None
    s.close()


def run_abuse(port, pid):
    addrs = attacker_addresses()
    drip, trickle = {}, {}
    dripper = threading.Thread(target=drip_until_cut, args=(port, addrs[-1], drip))
    dripper.start()  # runs through all the attacks below
    trickler = threading.Thread(target=trickle_head, args=(port, addrs[-2], trickle))
    trickler.start()
    rss0 = rss_kib(pid)
    attack_slowloris(port, addrs[0])
    attack_slow_chunked(port, addrs[1])
    attack_fast_chunked(port, addrs[2])
    attack_oversized(port, addrs[3])
    attack_json(port, addrs[4])
    attack_bombs(port, addrs[5])
    attack_flood(port, addrs[6:])
    attack_headers(port, addrs[12])
    attack_http_edge(port, addrs[13])
    trickler.join()
    check(trickle["cut"] <= HEAD_DEADLINE + 10 and trickle["status"] == 408,
          f"a request head trickling a byte a second gets 408 after {trickle['cut']:.0f} s "
          f"(deadline {HEAD_DEADLINE:.0f} s; answer {trickle['status']})")
    dripper.join()
    cut = drip.get("cut")
    check(cut is not None and cut <= BODY_DEADLINE + 10,
          f"a chunked body trickling a byte a second is cut by the server "
          f"({'after %.0f s' % cut if cut is not None else 'not cut'}, deadline {BODY_DEADLINE:.0f} s)")
    print(f"abuse: server RSS {rss0} KiB before the attacks, {rss_kib(pid)} KiB after")
    check(rss_kib(pid) is not None, "the server is still running")
    p = Prober(port)
    st, dt = p.once()
    check(st == 200, f"predicts after all attacks ({st} in {dt:.2f} s)")


# ---------------------------------------------------------------- server


class Server:
    """`digitnet serve` on loopback with --port 0, started and stopped here."""

    def __init__(self, *args):
        exe = os.environ.get("DIGITNET", "build/digitnet")
        model = os.environ.get("DN_MODEL", "models/mnist-mlp.dnm")
        for path in (exe, model):
            if not os.path.exists(path):
                print(f"skip: {path} does not exist")
                sys.exit(77)
        with open(exe, "rb") as f:
            self.sanitized = b"__asan_init" in f.read()
        self.proc = subprocess.Popen([exe, "serve", model, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        guard = threading.Timer(30.0, self.proc.kill)  # should it never print
        guard.start()
        line = self.proc.stdout.readline().decode(errors="replace")
        guard.cancel()
        if "http://127.0.0.1:" not in line:
            self.proc.kill()
            sys.exit(f"FAIL  the server did not print its URL: {line!r} "
                     f"{self.proc.stderr.read().decode(errors='replace')}")
        self.port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))

    def stop(self, what):
        if self.proc.poll() is not None:
            fail(f"{what}: the server exited early with status {self.proc.returncode}")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
                check(rc == 0, f"{what}: SIGTERM stops the server (exit {rc})")
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail(f"{what}: the server did not stop within 10 s of SIGTERM")
        err = self.proc.stderr.read().decode(errors="replace")
        if failures and err.strip():
            print("--- server stderr\n" + err[-4000:])
        self.proc.stdout.close()
        self.proc.stderr.close()


def many_workers():
    """More inference contexts (160) than the connection limit of 128:
    the server must still start, serve and stop."""
    srv = Server("--workers", "160")
    try:
        c = http.client.HTTPConnection(HOST, srv.port, timeout=5)
        st, _ = http_request(c, "GET", "/healthz", {}, None)
        c.close()
    except Exception as e:
        st = repr(e)
    check(st == 200, f"160 workers: serves ({st})")
    srv.stop("160 workers")


def decodes_queue():
    """One context (--workers 1) and four clients uploading the largest
    accepted image at once: the decodes queue for the context, and a health
    check sent behind them is answered before the last of them."""
    srv = Server("--workers", "1")
    big = png_gray(4096, 4096, [b"\0" * 4096] * 4096, 9)
    done = []

    def upload(i):
        c = http.client.HTTPConnection(HOST, srv.port, timeout=60)
        try:
            st, _ = http_request(c, "POST", "/api/predict", PNG, big)
        except Exception as e:
            st = type(e).__name__
        c.close()
        done.append(("decode", st, time.perf_counter()))

    ts = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.05)
    c = http.client.HTTPConnection(HOST, srv.port, timeout=60)
    st, _ = http_request(c, "GET", "/healthz", {}, None)
    c.close()
    health = time.perf_counter()
    for t in ts:
        t.join()
    last = max(t for _, _, t in done)
    check(st == 200 and health < last and all(d[1] == 422 for d in done),
          f"decodes queue: /healthz {st}, answered {last - health:.2f} s before the last of 4 "
          f"decodes on one context ({[d[1] for d in done]})")
    srv.stop("decodes queue")


def main():
    args = sys.argv[1:]
    if not args or args[0] not in ("load", "abuse"):
        sys.exit(__doc__)
    mode, args = args[0], args[1:]
    srv = None
    if args[:1] == ["--port"] and len(args) >= 4 and args[2] == "--pid":
        port, pid, sanitized, args = int(args[1]), int(args[3]), False, args[4:]
    else:
        srv = Server("--workers", "4")
        port, pid, sanitized = srv.port, srv.pid, srv.sanitized
    print(f"server on port {port}, pid {pid}{' (sanitizer build)' if sanitized else ''}")
    if mode == "load":
        run_load(port, pid, float(args[0]) if args else 10.0, int(args[1]) if len(args) > 1 else 6,
                 float(args[2]) if len(args) > 2 else 3.0, sanitized)
    else:
        run_abuse(port, pid)
    if srv:
        srv.stop(mode)
        if mode == "abuse":
            many_workers()
            decodes_queue()
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
