"""The HTTP example (examples/http_server.py) against a real writer."""

import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys

import fsctest
import fstatcache

EXAMPLE = os.path.join(os.environ.get("FSC_SOURCE_ROOT", os.path.join(
    os.path.dirname(__file__), "..", "..")), "examples", "http_server.py")


class HttpExampleTest(fsctest.WriterTest):

    def setUp(self):
        super().setUp()
        self.served = self.w.path("served")
        os.mkdir(self.served)
        self.server = None

    def start_server(self):
        self.server = subprocess.Popen(
            [sys.executable, EXAMPLE, self.served, "--port", "0", "--name",
             self.w.name, "--quiet"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=fsctest.python_child_env())
        self.addCleanup(self.kill_server)
        ready, _, _ = select.select([self.server.stdout], [], [], fsctest.GUARD_S)
        self.assertTrue(ready, "the example printed nothing")
        line = self.server.stdout.readline().decode()
        m = re.match(r"listening on http://([\d.]+):(\d+)/$", line)
        self.assertTrue(m, "first line: %r" % line)
        self.port = int(m.group(2))

    def kill_server(self):
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait(fsctest.GUARD_S)
        if self.server is not None:
            self.server.stdout.close()

    def stop_server(self):
        self.server.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(fsctest.GUARD_S), 0)

    def get(self, url):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=fsctest.GUARD_S)
        try:
            conn.request("GET", url)
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.getheader("Content-Type"), "application/json")
            return r.status, json.loads(body)
        finally:
            conn.close()

    def put(self, name, data, mode="a"):
        path = os.path.join(self.served, name)
        with open(path, mode) as f:
            f.write(data)
        return path

    def expect(self, name):
        st = os.stat(os.path.join(self.served, name))
        return {"ts": st.st_mtime, "size": st.st_size}

    def test_endpoints_agree(self):
        a = self.put("a.log", "first line\n")
        self.start_server()                 # builds the cache: a.log
        h = fstatcache.Handle(self.w.name)
        self.addCleanup(h.close)
        self.assertEqual(h.lookup(a).source, "cache")
        for step in range(3):
            self.assertEqual(self.get("/cache/a.log"), (200, self.expect("a.log")))
            self.assertEqual(self.get("/stat/a.log"), (200, self.expect("a.log")))
            self.put("a.log", "more %d\n" % step)
            h.sync()
        # A file created after the start: answered, then cached.
        b = self.put("b.log", "b")
        self.assertEqual(self.get("/cache/b.log"), (200, self.expect("b.log")))
        h.sync()
        self.assertEqual(h.lookup(b).source, "cache")
        self.assertEqual(self.get("/cache/b.log"), self.get("/stat/b.log"))
        # Names that need %-encoding.
        self.put("with space", "s")
        self.assertEqual(self.get("/cache/with%20space"),
                         (200, self.expect("with space")))
        self.stop_server()

    def test_errors(self):
        self.start_server()
        for ep in ("cache", "stat"):
            status, body = self.get("/%s/missing" % ep)
            self.assertEqual(status, 404)
            self.assertIn("no such file", body["error"])
            for bad in ("..", "a%2Fb", "%2E%2E", "..%2Fetc%2Fpasswd",
                        "%2Fetc%2Fpasswd", ".", "a%00b", ""):
                status, body = self.get("/%s/%s" % (ep, bad))
                self.assertEqual(status, 400, bad)
                self.assertIn("error", body)
            status, _ = self.get("/%s/../../etc/passwd" % ep)
            self.assertIn(status, (400, 404))
            self.assertEqual(self.get("/%s/a/b" % ep)[0], 400)
        self.assertEqual(self.get("/other/x")[0], 404)
        self.assertEqual(self.get("/")[0], 404)
        self.stop_server()


class HttpNoWriterTest(HttpExampleTest):
    start_writer = False

    def test_endpoints_agree(self):
        self.put("a.log", "no writer")
        self.start_server()
        self.assertEqual(self.get("/cache/a.log"), (200, self.expect("a.log")))
        self.assertEqual(self.get("/stat/a.log"), (200, self.expect("a.log")))
        self.assertEqual(self.get("/cache/nope")[0], 404)
        self.stop_server()

    test_errors = None


if __name__ == "__main__":
    fsctest.main()
