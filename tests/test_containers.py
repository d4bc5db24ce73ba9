#!/usr/bin/env python3
"""test_containers.py - readers in other namespaces, as docs/SERVICE.md
("Containers") describes them.

A container is modelled with unshare(1): a mount namespace of its own
(as root, or as root of a new user namespace mapped to the caller, so no
privilege is needed where user namespaces are allowed), optionally a
network namespace, and mounts made inside it that die with it.  The
writer runs outside, as on the host.  Checked:

- /dev/shm shared (the host's, as a bind mount of the whole /dev/shm
  gives a container), a different file mounted at a watched path inside:
  the reader, in another mount namespace than the writer's (recorded in
  the segment, format 1.4), is not served: it answers by stat(), its own
  file, and says why.  Opted in (FSTATCACHE_ANY_MOUNT_NS=1) it is served
  from the cache with the *writer's* file: opting in is only right for a
  container that sees the same files at the same paths.
- a private /dev/shm (a container's default): the reader finds no
  segment and answers every path by stat(), its own files, correctly.
- another network namespace, with the socket directory visible: lookups
  are served, a miss still makes the writer watch the path (requests
  are one-way datagrams to the socket's path), but requests that wait
  for a reply (sync, watch) get none: the writer replies to an abstract
  address, which belongs to the reader's network namespace.

Skipped, saying why, where unshare cannot make the namespaces.  Run by
meson with FSTATCACHED and FSTATCACHE_TOOL set.
"""

import json
import os
import select
import shutil
import subprocess
import tempfile
import unittest

WRITER = os.environ.get("FSTATCACHED", "fstatcached")
TOOL = os.environ.get("FSTATCACHE_TOOL", "fstatcache")
GUARD_S = 90  # the longest any wait for a child may take

HOST_TEXT = "host\n"
CONTAINER_TEXT = "the container's own file\n"


def unshare_prefix(net=False):
    """The unshare(1) command for a "container"; None if impossible."""
    base = ["unshare", "--mount", "--propagation", "private"]
    if net:
        base.append("--net")
    candidates = [base] if os.geteuid() == 0 else []
    candidates.append(base[:1] + ["--user", "--map-root-user"] + base[1:])
    for cmd in candidates:
        try:
            r = subprocess.run(cmd + ["true"], capture_output=True,
                               timeout=GUARD_S)
        except OSError:
            return None
        if r.returncode == 0:
            return cmd
    return None


class ContainerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fsc-containers-")
        os.chmod(self.tmp, 0o755)
        self.name = "ctr-%d-%d" % (os.getpid(), id(self) % 100000)
        self.writer = None
        self.logs = os.path.join(self.tmp, "logs")
        os.mkdir(self.logs)
        self.log = os.path.join(self.logs, "app.log")
        with open(self.log, "w") as f:
            f.write(HOST_TEXT)
        self.start_writer()

    def tearDown(self):
        if self.writer and self.writer.poll() is None:
            self.writer.terminate()
            self.writer.wait(GUARD_S)
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

    def tool(self, *args):
        r = subprocess.run([TOOL, "--name", self.name] + list(args),
                           capture_output=True, text=True, timeout=GUARD_S)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def container(self, script, net=False):
        """Run `script` (sh) in a "container"; its CompletedProcess.

        $TOOL, $NAME, $LOGS and $LOG are set; set -e."""
        cmd = unshare_prefix(net)
        if cmd is None:
            self.skipTest("unshare cannot make a mount%s namespace here "
                          "(neither as root nor in a user namespace)"
                          % (" and network" if net else ""))
        env = dict(os.environ, TOOL=TOOL, NAME=self.name, LOGS=self.logs,
                   LOG=self.log, CTEXT=CONTAINER_TEXT)
        r = subprocess.run(cmd + ["sh", "-ec", script], env=env,
                           capture_output=True, text=True, timeout=GUARD_S)
        return r

    # The container's own file at the watched path: a tmpfs over the
    # directory, as a container's root file system would be.
    OWN_FILE = ('mount -t tmpfs none "$LOGS"\n'
                'printf "%s" "$CTEXT" >"$LOG"\n')

    def test_shared_dev_shm_another_mount_namespace_answers_by_stat(self):
        self.tool("sync")
        r = self.container(self.OWN_FILE + '''
            stat -c %s "$LOG"
            "$TOOL" --name "$NAME" stat --json "$LOG"
        ''')
        self.assertEqual(r.returncode, 0, r.stderr)
        own_size, answer = r.stdout.splitlines()
        self.assertEqual(int(own_size), len(CONTAINER_TEXT))
        st = json.loads(answer)
        self.assertEqual(st["source"], "stat")
        self.assertEqual(st["size"], len(CONTAINER_TEXT),
                         "the answer is not the container's own file")
        self.assertIn("another mount namespace", r.stderr)

    def test_shared_dev_shm_opted_in_answers_with_the_writers_files(self):
        self.tool("sync")
        r = self.container(self.OWN_FILE + '''
            stat -c %s "$LOG"
            FSTATCACHE_ANY_MOUNT_NS=1 "$TOOL" --name "$NAME" stat --json "$LOG"
        ''')
        self.assertEqual(r.returncode, 0, r.stderr)
        own_size, answer = r.stdout.splitlines()
        self.assertEqual(int(own_size), len(CONTAINER_TEXT))
        st = json.loads(answer)
        self.assertEqual(st["source"], "cache")
        self.assertEqual(st["size"], len(HOST_TEXT),
                         "the answer is not the writer's file")

    def test_private_dev_shm_answers_by_stat(self):
        self.tool("sync")
        r = self.container(self.OWN_FILE + '''
            mount -t tmpfs none /dev/shm
            "$TOOL" --name "$NAME" stat --json "$LOG"
        ''')
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual(st["source"], "stat")
        self.assertEqual(st["size"], len(CONTAINER_TEXT))
        self.assertIn("no fstatcached is serving", r.stderr)

    def test_other_network_namespace(self):
        other = os.path.join(self.logs, "other.log")
        with open(other, "w") as f:
            f.write("x\n")
        # The same files at the same paths: opted in to the mount
        # namespace, to look at the network namespace alone.
        r = self.container('''
            export FSTATCACHE_ANY_MOUNT_NS=1
            "$TOOL" --name "$NAME" stat --json "$LOG"
            "$TOOL" --name "$NAME" stat --json "$LOGS/other.log"
            if "$TOOL" --name "$NAME" sync --timeout 1 2>sync.err; then
                echo "sync answered"; else cat sync.err; fi
        '''.replace("sync.err", os.path.join(self.tmp, "sync.err")),
            net=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(json.loads(lines[0])["source"], "cache")
        self.assertEqual(json.loads(lines[1])["source"], "stat")  # a miss
        self.assertIn("did not answer within 1 s", lines[2])
        # The miss's request reached the writer all the same.
        self.tool("sync")
        listed = [json.loads(l)["path"]
                  for l in self.tool("ls", "--json").splitlines()]
        self.assertIn(other, listed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
