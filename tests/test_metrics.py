#!/usr/bin/env python3
"""test_metrics.py - `fstatcache metrics` against the real consumers.

The exposition is checked by Prometheus's own promtool, scraped over HTTP
by a real Prometheus server on the loopback address (queried through its
API until the scrape shows up: a state, polled with a bound, not a
sleep), and read by node_exporter's textfile collector.  Each of those
tests skips, saying so, when the Debian package that brings the program
(prometheus, prometheus-node-exporter) is not installed; CI installs them.

Run by meson with FSTATCACHED and FSTATCACHE_TOOL set.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

WRITER = os.environ.get("FSTATCACHED", "fstatcached")
TOOL = os.environ.get("FSTATCACHE_TOOL", "fstatcache")
GUARD_S = 90  # the longest any wait for an outside program may take


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(what, fn):
    """Poll fn() until it returns something true; fail after GUARD_S."""
    end = time.monotonic() + GUARD_S
    while True:
        try:
            got = fn()
        except (OSError, ValueError):
            got = None
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def samples(text):
    """{'metric{labels}': value} of an exposition, comments skipped."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fsc-metrics-")
        self.name = "metrics-%d-%d" % (os.getpid(), id(self) % 100000)
        self.procs = []
        self.writer = None
        self.log = os.path.join(self.tmp, "a.log")
        with open(self.log, "w") as f:
            f.write("x\n")

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stderr:
                p.stderr.close()
        if self.writer and self.writer.poll() is None:
            self.writer.kill()
            self.writer.wait()
        for s in ("", ".use", ".feed", ".req", ".tags"):
            path = "/dev/shm/fstatcache." + self.name + s
            if os.path.exists(path):
                os.unlink(path)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_writer(self):
        r, w = os.pipe()
        self.writer = subprocess.Popen(
            [WRITER, "--name", self.name,
             "--socket", os.path.join(self.tmp, "ctl.sock"),
             "--ready-fd", str(w), "-q", self.log],
            pass_fds=(w,), stdin=subprocess.DEVNULL)
        os.close(w)
        ready, _, _ = select.select([r], [], [], GUARD_S)
        got = os.read(r, 16) if ready else b""
        os.close(r)
        self.assertEqual(got, b"READY\n", "the writer did not start")

    def tool(self, *args, check=True):
        out = subprocess.run([TOOL, "--name", self.name] + list(args),
                             capture_output=True, text=True, timeout=GUARD_S)
        if check:
            self.assertEqual(out.returncode, 0, out.stderr)
        return out

    def serve(self):
        """`metrics --listen 127.0.0.1:0`; its base URL."""
        p = subprocess.Popen([TOOL, "--name", self.name, "metrics",
                              "--listen", "127.0.0.1:0"],
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stderr.readline()
        self.assertIn("serving http://127.0.0.1:", line)
        return line.split("serving ")[1].strip().rsplit("/", 1)[0]

    def need(self, program, package):
        if not shutil.which(program):
            self.skipTest("%s not installed (Debian package %s)"
                          % (program, package))

    def test_live_dead_and_absent_writer(self):
        s = samples(self.tool("metrics").stdout)
        self.assertEqual(s, {'fstatcache_up{name="%s"}' % self.name: 0},
                         "no segment: up 0 and nothing else")
        self.start_writer()
        self.tool("sync")
        s = samples(self.tool("metrics").stdout)
        key = '{name="%s"}' % self.name
        self.assertEqual(s["fstatcache_up" + key], 1)
        self.assertEqual(s["fstatcache_entries" + key], 1)
        self.assertEqual(s["fstatcache_paths" + key], 1)
        self.assertGreaterEqual(s["fstatcache_syncs_total" + key], 1)
        self.assertGreaterEqual(s["fstatcache_feed_records_total" + key], 1)
        self.assertIn("fstatcache_growths_total" + key, s)
        self.assertGreater(s["fstatcache_tag_array_bytes" + key], 64)
        info = [k for k in s if k.startswith("fstatcache_info{")]
        self.assertEqual(len(info), 1, info)
        self.assertIn('format="2.0"', info[0])
        self.writer.send_signal(signal.SIGKILL)
        self.writer.wait()
        s = samples(self.tool("metrics").stdout)
        self.assertEqual(s["fstatcache_up" + key], 0, "a dead writer")
        self.assertEqual(s["fstatcache_entries" + key], 1,
                         "its segment is still reported")

    def test_promtool_accepts_the_exposition(self):
        self.need("promtool", "prometheus")
        self.start_writer()
        text = self.tool("metrics").stdout
        out = subprocess.run(["promtool", "check", "metrics"], input=text,
                             capture_output=True, text=True,
                             timeout=GUARD_S)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_http_server(self):
        self.start_writer()
        base = self.serve()
        status, body = http_get(base + "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(samples(body)['fstatcache_up{name="%s"}'
                                       % self.name], 1)
        self.assertEqual(http_get(base + "/nope")[0], 404)
        req = urllib.request.Request(base + "/metrics", data=b"x",
                                     method="POST")
        try:
            urllib.request.urlopen(req, timeout=10)
            self.fail("POST answered")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 405)
        p = self.procs[-1]
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(GUARD_S), 0)

    def test_bad_listen_address(self):
        out = self.tool("metrics", "--listen", "nonsense", check=False)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("expected ADDR:PORT", out.stderr)

    def test_prometheus_scrapes_it(self):
        self.need("prometheus", "prometheus")
        self.start_writer()
        base = self.serve()
        port = free_port()
        conf = os.path.join(self.tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "scrape_configs:\n  - job_name: fstatcache\n"
                    "    static_configs:\n      - targets: ['%s']\n"
                    % base.split("//")[1])
        prom = subprocess.Popen(
            ["prometheus", "--config.file=" + conf,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % port,
             "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(prom)
        api = "http://127.0.0.1:%d/api/v1/query?query=" % port

        def scraped(query):
            status, body = http_get(api + query)
            return status == 200 and '"result":[{' in body and body

        body = wait_for("Prometheus to scrape fstatcache_up",
                        lambda: scraped('fstatcache_up{name="%s"}'
                                        % self.name))
        self.assertIn('"1"]', body, body)
        body = scraped("fstatcache_paths")
        self.assertTrue(body and '"1"]' in body, body)

    def test_node_exporter_textfile_collector(self):
        self.need("prometheus-node-exporter", "prometheus-node-exporter")
        self.start_writer()
        d = os.path.join(self.tmp, "textfile")
        os.mkdir(d)
        with open(os.path.join(d, "fstatcache.prom.tmp"), "w") as f:
            f.write(self.tool("metrics").stdout)
        os.rename(os.path.join(d, "fstatcache.prom.tmp"),
                  os.path.join(d, "fstatcache.prom"))
        port = free_port()
        ne = subprocess.Popen(
            ["prometheus-node-exporter", "--collector.disable-defaults",
             "--collector.textfile",
             "--collector.textfile.directory=" + d,
             "--web.listen-address=127.0.0.1:%d" % port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(ne)
        url = "http://127.0.0.1:%d/metrics" % port
        body = wait_for("node_exporter to serve its metrics",
                        lambda: http_get(url)[1])
        s = samples(body)
        self.assertEqual(s.get("node_textfile_scrape_error"), 0, body)
        self.assertEqual(s.get('fstatcache_up{name="%s"}' % self.name), 1)


if __name__ == "__main__":
    unittest.main()
