"""A raw JSON-RPC peer of a `ripvec mcp` / `ripvec lsp` child over pipes, for the tests that
need what a protocol SDK hides: whether a response came at all, exact error codes, timing, and the
server's pid (to kill it). Messages are read on a thread and kept with their arrival time."""
import json
import os
import subprocess
import threading
import time


class Raw:
    """Newline-delimited JSON-RPC (MCP, framed=False) or Content-Length framing (LSP)."""

    def __init__(self, cmd, framed):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env={**os.environ,
                                                                  "HF_HUB_OFFLINE": "1"})
        self.framed = framed
        self.msgs = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        out = self.p.stdout
        while True:
            if self.framed:
                n = None
                while True:
                    line = out.readline()
                    if not line:
                        return self._eof()
                    if line in (b"\r\n", b"\n"):
                        break
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                body = out.read(n)
            else:
                body = out.readline()
                if not body:
                    return self._eof()
            m = json.loads(body)
            with self.cv:
                self.msgs.append((time.monotonic(), m))
                self.cv.notify_all()

    def _eof(self):
        with self.cv:
            self.msgs.append((time.monotonic(), None))
            self.cv.notify_all()

    def send(self, msg):
        body = json.dumps(msg).encode()
        data = (b"Content-Length: %d\r\n\r\n" % len(body) + body) if self.framed else body + b"\n"
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def wait_for(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for t, m in self.msgs:
                    if m is not None and pred(m):
                        return t, m
                left = end - time.monotonic()
                if left <= 0:
                    return None, None
                self.cv.wait(left)

    def request(self, i, method, params, timeout=300):
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        return self.wait_for(lambda m: m.get("id") == i and "method" not in m, timeout)[1]

    def shutdown(self, i):
        """The LSP end of a session: shutdown (request id i), exit, then close."""
        self.request(i, "shutdown", None)
        self.send({"jsonrpc": "2.0", "method": "exit"})
        self.close()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=120)
        self.t.join(timeout=10)


def start_mcp(ripvec, model, cache, tree, client, extra=()):
    """A `ripvec mcp` child serving `tree` on the CPU, initialized as `client` (the initialized
    notification sent); `extra`: more command-line arguments (e.g. "--no-watch")."""
    c = Raw([ripvec, "mcp", "--root", tree, "--model", model, "--device", "cpu", "--cache-dir",
             cache] + list(extra), framed=False)
    c.request(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                "clientInfo": {"name": client, "version": "0"}})
    c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return c
