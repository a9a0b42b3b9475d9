#!/usr/bin/env python3
"""A tiny stand-in for the Hugging Face Hub's file endpoint, for the download tests.

Serves ROOT/<org>/<name>/resolve/<revision>/<file> on 127.0.0.1 only, with the parts of the
Hub's behaviour the client relies on:
  - HEAD and GET; X-Repo-Commit from ROOT/<org>/<name>/.commit when that file exists;
  - Range: bytes=N- and bytes=N-M (206 + Content-Range; 416 + "bytes */SIZE" past the end),
    unless --no-range or ROOT/<org>/<name>/.no-range exists (then the whole file, 200, like a
    server that ignores Range);
  - 404 with X-Error-Code RepoNotFound / EntryNotFound; 401 + GatedRepo when
    ROOT/<org>/<name>/.gated exists;
  - --cut-after N (or N in ROOT/<org>/<name>/.cut-after): the first full (non-Range) GET of any
    file larger than N bytes announces the full Content-Length, sends N bytes and drops the
    connection (an interrupted download).
Every request is appended to --log as one JSON line: method, path, range header, status.
The chosen port is written to --port-file once listening.
"""
import argparse
import json
import os
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--no-range", action="store_true")
    ap.add_argument("--cut-after", type=int, default=-1)
    args = ap.parse_args()
    cut_done = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *a):
            pass

        def record(self, status):
            with open(args.log, "a") as fh:
                fh.write(json.dumps({"method": self.command, "path": self.path,
                                     "range": self.headers.get("Range"), "status": status,
                                     "auth": self.headers.get("Authorization")}) + "\n")

        def reply(self, status, headers, body=b""):
            self.record(status)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_file(self):
            # Match before unquoting: a revision like refs/pr/1 arrives as refs%2Fpr%2F1.
            raw = urllib.parse.urlsplit(self.path).path
            m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", raw)
            if not m:
                return self.reply(400, {}, b"bad request")
            repo, rev, file = (urllib.parse.unquote(g) for g in m.groups())
            if ".." in repo.split("/") + rev.split("/") + file.split("/"):
                return self.reply(400, {}, b"bad request")
            repo_dir = os.path.join(args.root, repo)
            common = {}
            commit_file = os.path.join(repo_dir, ".commit")
            if os.path.exists(commit_file):
                with open(commit_file) as fh:
                    common["X-Repo-Commit"] = fh.read().strip()
            if not os.path.isdir(repo_dir):
                return self.reply(404, {"X-Error-Code": "RepoNotFound",
                                        "X-Error-Message": "Repository not found"},
                                  b'{"error":"Repository not found"}')
            if os.path.exists(os.path.join(repo_dir, ".gated")):
                return self.reply(401, {"X-Error-Code": "GatedRepo",
                                        "X-Error-Message": "Access to this model is restricted"},
                                  b'{"error":"gated"}')
            fpath = os.path.join(repo_dir, "resolve", rev, file)
            if not os.path.isfile(fpath):
                return self.reply(404, {**common, "X-Error-Code": "EntryNotFound",
                                        "X-Error-Message": "Entry not found"},
                                  b'{"error":"Entry not found"}')
            with open(fpath, "rb") as fh:
                data = fh.read()
            size = len(data)
            no_range = args.no_range or os.path.exists(os.path.join(repo_dir, ".no-range"))
            cut_after = args.cut_after
            cut_file = os.path.join(repo_dir, ".cut-after")
            if os.path.exists(cut_file):
                with open(cut_file) as fh:
                    cut_after = int(fh.read().strip())
            rng = self.headers.get("Range")
            if rng and not no_range:
                rm = re.match(r"^bytes=(\d+)-(\d*)$", rng.strip())
                if not rm:
                    return self.reply(400, common, b"bad range")
                start = int(rm.group(1))
                end = int(rm.group(2)) if rm.group(2) else size - 1
                if start >= size:
                    return self.reply(416, {**common, "Content-Range": f"bytes */{size}"})
                end = min(end, size - 1)
                return self.reply(206, {**common, "Content-Range": f"bytes {start}-{end}/{size}",
                                        "Accept-Ranges": "bytes"}, data[start:end + 1])
            if (self.command == "GET" and cut_after >= 0 and size > cut_after
                    and fpath not in cut_done):
                cut_done.add(fpath)
                self.record(200)
                self.send_response(200)
                for k, v in common.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.write(data[:cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            return self.reply(200, {**common, "Accept-Ranges": "bytes"}, data)

        def do_GET(self):
            self.handle_file()

        def do_HEAD(self):
            self.handle_file()

    class Server(HTTPServer):
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(srv.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
