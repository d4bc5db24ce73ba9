#!/usr/bin/env python3
"""http_server.py - the fstat-cache HTTP example, on fstatcache.

Serves the size and modification time of the files in one directory,
with the original fstat-cache example's two endpoints:

    GET /cache/<name>  -> {"ts": mtime, "size": bytes} from
                          FStatCache.get_file_stats(DIR/<name>)
    GET /stat/<name>   -> the same from os.stat(DIR/<name>)
                          (FStatCache.get_file_stats_using_stat)

A missing file, or anything but a regular file, is 404 with {"error": ...}; a name holding '/', '..' or
a NUL (after %-decoding), or ".", is 400: nothing outside DIR is served.
Python standard library only (http.server), plus the fstatcache package.

At start every regular file already in DIR is put in the cache
(FStatCache.build); a file created later is cached at its first request.
Without a running fstatcached every answer still comes, from stat(2).

    PYTHONPATH=build/python python3 examples/http_server.py /var/log \\
        --port 8080 --name NAME
    curl http://127.0.0.1:8080/cache/syslog

The first line on stdout is "listening on http://HOST:PORT/" (with
--port 0 the kernel picks the port).  SIGTERM or Ctrl-C stops it (exit 0).
"""

import argparse
import json
import os
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fstatcache


class Handler(BaseHTTPRequestHandler):
    server_version = "fstatcache-example/1"

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path).path.split("/", 2)
        if len(parts) != 3 or parts[0] or parts[1] not in ("cache", "stat"):
            return self.reply(404, {"error": "not found: use /cache/<name> "
                                             "or /stat/<name>"})
        name = urllib.parse.unquote(parts[2], errors="surrogateescape")
        if name in ("", ".") or "/" in name or ".." in name or "\0" in name:
            return self.reply(400, {"error": "bad file name %r: no '/', "
                                             "'..' or NUL" % name})
        path = os.path.join(self.server.directory, name)
        cache = self.server.cache
        try:
            if parts[1] == "cache":
                stats = cache.get_file_stats(path)
            else:
                stats = cache.get_file_stats_using_stat(path)
        except PermissionError:
            return self.reply(403, {"error": "permission denied: %s" % name})
        except OSError as e:
            return self.reply(500, {"error": "%s: %s" % (name, e.strerror)})
        if stats is None:                   # not a regular file
            return self.reply(404, {"error": "no such file: %s" % name})
        self.reply(200, stats)

    def reply(self, status, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            super().log_message(fmt, *args)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", help="the directory whose files are served")
    ap.add_argument("--port", type=int, default=8080,
                    help="TCP port (default 8080; 0: any free port)")
    ap.add_argument("--bind", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--name", default=None,
                    help="fstatcache instance (default $FSTATCACHE_NAME, "
                         "else 'fstatcache')")
    ap.add_argument("--quiet", action="store_true",
                    help="do not log every request on stderr")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    directory = os.path.realpath(args.directory)
    if not os.path.isdir(directory):
        sys.exit("http_server.py: not a directory: %s" % args.directory)
    cache = fstatcache.FStatCache(name=args.name)
    files = [e.path for e in os.scandir(directory) if e.is_file()]
    try:
        cache.build(files)
    except OSError as e:
        print("http_server.py: warning: cannot fill the cache (%s); "
              "answers come from stat(2) until a writer runs" % e,
              file=sys.stderr)
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.daemon_threads = True
    server.directory, server.cache, server.quiet = directory, cache, args.quiet
    host, port = server.server_address[:2]
    print("listening on http://%s:%d/" % (host, port), flush=True)
    # SIGTERM stops serve_forever() through shutdown(), from a thread
    # because shutdown() waits for the loop it stops.  Raising SystemExit
    # in the handler instead is lost when the signal lands inside code
    # whose exceptions Python ignores (a weakref callback, a __del__).
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
