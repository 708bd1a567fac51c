"""Load figures for the HTTP API: latency of POST /api/predict over N
sequential requests on one keep-alive connection (median, p99), then the
rate sustained by C concurrent clients for S seconds, counting every answer
that is not 200 as an error. Loopback only; bounded in count and time.

usage: api_load.py PORT PNG [N=1000] [C=8] [S=10]"""
import http.client, sys, threading, time

port, png = int(sys.argv[1]), open(sys.argv[2], "rb").read()
n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
clients = int(sys.argv[4]) if len(sys.argv) > 4 else 8
secs = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
hdr = {"Content-Type": "image/png"}

def post(conn):
    conn.request("POST", "/api/predict", body=png, headers=hdr)
    r = conn.getresponse()
    r.read()
    return r.status

conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for _ in range(20):
    post(conn)
lat = []
for _ in range(n):
    t = time.perf_counter()
    st = post(conn)
    lat.append(time.perf_counter() - t)
    if st != 200:
        sys.exit(f"status {st}")
conn.close()
lat.sort()
print(f"sequential: {n} requests, median {lat[n // 2] * 1e3:.3f} ms, "
      f"p99 {lat[int(n * 0.99) - 1] * 1e3:.3f} ms")

counts, errors = [0] * clients, [0] * clients
stop = time.perf_counter() + secs

def worker(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.perf_counter() < stop:
        try:
            if post(c) == 200:
                counts[i] += 1
            else:
                errors[i] += 1
        except Exception:
            errors[i] += 1
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.close()

ts = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
t0 = time.perf_counter()
for t in ts:
    t.start()
for t in ts:
    t.join()
el = time.perf_counter() - t0
print(f"concurrent: {clients} clients for {el:.1f} s, {sum(counts)} requests, "
      f"{sum(counts) / el:.0f} requests/s, {sum(errors)} errors")
