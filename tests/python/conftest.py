"""Fixtures: private octostored daemons from the build tree (local backend, and remote
backend in front of the fake upstream tests/fake-upstream/octofake), in fresh 0700
directories, with readiness awaited by deadline and everything stopped at the end."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
sys.path.insert(0, os.path.join(os.path.abspath(SRCDIR), "client", "python"))

OCTOSTORED = os.path.join(BUILDDIR, "daemon", "octostored")
OCTOFAKE = os.path.join(BUILDDIR, "tests", "fake-upstream", "octofake")


def wait_until(pred, timeout=10.0, what="condition"):
    """Poll ``pred`` every 10 ms until true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _pings(path):
    import msgpack
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1.0)
            s.connect(path)
            s.sendall(msgpack.packb([0, 1, "ping", []]))
            return msgpack.unpackb(s.recv(4096))[0] == 1
    except (OSError, ValueError):
        return False


class Daemon:
    """One octostored process on its own socket."""

    def __init__(self, tmp, args, name="d", config="/dev/null"):
        self.tmp = tmp
        self.args = args
        self.config = config
        self.sock = os.path.join(tmp, name + ".sock")
        self.log = os.path.join(tmp, name + ".log")
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [OCTOSTORED, "--socket", self.sock, "--config", self.config] + self.args,
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is not None or _pings(self.sock), 20,
                   "the daemon to answer")
        assert self.proc.poll() is None, open(self.log).read()[-2000:]
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()


class Fake:
    """The fake OctoStore server with one user token."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.token_file = os.path.join(tmp, "token")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("pytok-" + os.urandom(16).hex() + "\n")
        port_file = os.path.join(tmp, "port")
        self.proc = subprocess.Popen([OCTOFAKE, "--token-file", self.token_file,
                                      "--port-file", port_file, "--min-session-ttl", "1"],
                                     stderr=open(os.path.join(tmp, "fake.log"), "ab"))
        wait_until(lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                   10, "octofake's port file")
        self.url = "http://127.0.0.1:" + open(port_file).read().strip()

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=5) as r:
            return json.loads(r.read() or b"{}")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="session")
def tmpdir_private():
    d = tempfile.mkdtemp(prefix="octo-py.")
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _local(tmp, name):
    state = os.path.join(tmp, name + "-state")
    os.mkdir(state, 0o700)
    return Daemon(tmp, ["--backend=local", "--state-dir", state], name).start()


@pytest.fixture(scope="session")
def local_daemon(tmpdir_private):
    d = _local(tmpdir_private, "local")
    yield d
    d.stop()


@pytest.fixture
def fresh_local(tmpdir_private):
    """A local daemon of the test's own (to restart or kill)."""
    d = _local(tmpdir_private, "fresh%d" % time.monotonic_ns())
    yield d
    d.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def remote_daemon(tmpdir_private):
    if not os.access(OCTOFAKE, os.X_OK):
        pytest.fail(f"{OCTOFAKE} is not built")
    fake = Fake(tmpdir_private)
    conf = os.path.join(tmpdir_private, "remote.conf")
    with open(conf, "w") as f:
        # A state_dir of its own: detached leases are recorded there.
        state = os.path.join(tmpdir_private, "remote-state")
        os.mkdir(state, 0o700)
        f.write(f"base_url = {fake.url}\ntoken_file = {fake.token_file}\n"
                f"state_dir = {state}\n")
    d = Daemon(tmpdir_private, [], "remote", config=conf)
    d.fake = fake
    d.start()
    yield d
    d.stop()
    fake.stop()


@pytest.fixture(params=["local", "remote"])
def daemon(request):
    """Each test that takes it runs against both backends."""
    return request.getfixturevalue(request.param + "_daemon")


_names = iter(range(1, 1 << 30))


@pytest.fixture
def name(request):
    """A lock name of this test's own."""
    base = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")
    return f"py/{base[:40]}/{next(_names)}"
