#!/usr/bin/env python3
"""Drives `ripvec mcp` with the official MCP Python SDK (`mcp` on PyPI) as the client.

Usage: mcp_sdk_client.py RIPVEC MODEL_DIR CACHE_DIR TREE

TREE holds a small project written by the calling test (mcp_sdk_test.cpp). The script
initializes, lists and validates every tool's schemas with jsonschema, calls every tool and checks
what comes back, reads both resources, pings, sets the log level, checks argument errors, then
edits the tree and waits for the file watcher to make the new code searchable.
Exit status 0 = every check passed; 77 = the SDK is not installed (the test skips); 1 = failure.
Prints one line per check.
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_checks import check, finish  # noqa: E402

try:
    import jsonschema
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp.shared.exceptions import MCPError
except ImportError as e:  # pragma: no cover - environment without the SDK
    print(f"SKIP: the MCP Python SDK is not importable ({e}); pip install mcp jsonschema")
    sys.exit(77)

EXPECTED_TOOLS = {"search_code", "search_text", "find_similar", "find_duplicates",
                  "get_repo_map", "index_status", "reindex"}


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main(ripvec, model_dir, cache_dir, tree):
    params = StdioServerParameters(
        command=ripvec,
        args=["mcp", "--root", tree, "--model", model_dir, "--device", "cpu",
              "--cache-dir", cache_dir],
        env={"HF_HUB_OFFLINE": "1"},
        cwd=tree,
    )
    logs = []

    async def on_log(params):
        logs.append(params)

    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, logging_callback=on_log) as s:
            init = await s.initialize()
            check(init.server_info.name == "ripvec", "initialize: serverInfo.name is ripvec")
            caps = init.capabilities
            check(caps.tools is not None and caps.resources is not None and
                  caps.logging is not None, "initialize: tools, resources and logging capabilities")
            print("     protocol", init.protocol_version, flush=True)

            await s.send_ping()
            check(True, "ping answered")
            await s.set_logging_level("debug")
            check(True, "logging/setLevel answered")

            tools = (await s.list_tools()).tools
            names = {t.name for t in tools}
            check(names == EXPECTED_TOOLS, f"tools/list names {sorted(names)}")
            for t in tools:
                try:
                    jsonschema.Draft202012Validator.check_schema(t.input_schema)
                    ok = t.input_schema.get("type") == "object"
                except jsonschema.SchemaError as e:
                    ok = False
                    print("     ", e)
                check(ok, f"{t.name}: inputSchema is a valid JSON Schema object")
                if t.output_schema is not None:
                    try:
                        jsonschema.Draft202012Validator.check_schema(t.output_schema)
                        ok = True
                    except jsonschema.SchemaError:
                        ok = False
                    check(ok, f"{t.name}: outputSchema is a valid JSON Schema")
            schemas = {t.name: t for t in tools}

            def validate(name, args):
                try:
                    jsonschema.validate(args, schemas[name].input_schema)
                    return True
                except jsonschema.ValidationError:
                    return False

            def validate_out(name, result):
                if schemas[name].output_schema is None:
                    return True
                try:
                    jsonschema.validate(result.structured_content, schemas[name].output_schema)
                    return True
                except jsonschema.ValidationError as e:
                    print("     ", e.message)
                    return False

            # search_code: the first search indexes the tree, with progress.
            progress = []

            async def on_progress(p, total, message):
                progress.append((p, total, message))

            args = {"query": "check whether a number is prime", "top_k": 3}
            check(validate("search_code", args), "search_code arguments match its schema")
            t0 = time.time()
            r = await s.call_tool("search_code", args, progress_callback=on_progress)
            print(f"     first search (indexing) {time.time() - t0:.2f}s, "
                  f"{len(progress)} progress notifications", flush=True)
            check(not r.is_error, "search_code succeeds: " + text_of(r)[:200])
            # Written at once, before the watcher has set its watches on the new index: no
            # inotify event for it (the watcher missed such changes; it now updates once after
            # setting them). Regression check: watcher_catches_changes_before_its_watches.
            with open(os.path.join(tree, "early_edit.py"), "w") as f:
                f.write("def zebra_unique_early(x):\n    return x + 7\n")
            t0 = time.time()
            found = False
            while time.time() - t0 < 30 and not found:
                r2 = await s.call_tool("search_code", {"query": "zebra_unique_early",
                                                       "mode": "keyword", "top_k": 1})
                res2 = (r2.structured_content or {}).get("results", [])
                found = bool(res2) and res2[0]["symbol"] == "zebra_unique_early"
                if not found:
                    await asyncio.sleep(0.5)
            check(found, "watcher: a file written right after the first search (before the "
                  f"watches were set) is searchable after {time.time() - t0:.1f}s")

            res = (r.structured_content or {}).get("results", [])
            # The original and its copy in legacy/ are the two best answers.
            check(len(res) >= 2 and {(x["path"], x["symbol"]) for x in res[:2]} ==
                  {("math_utils.py", "is_prime"), ("legacy/primes_copy.py", "is_prime")},
                  "search_code ranks is_prime and its copy first")
            if res:
                h = next(x for x in res if x["path"] == "math_utils.py")
                check(h["range"]["start"]["line"] == h["start_line"] - 1 and
                      h["range"]["end"]["line"] == h["end_line"],
                      "hit carries 1-based lines and the 0-based LSP range")
                check(h["language"] == "python" and h["kind"] == "function" and h["score"] > 0,
                      "hit carries kind, language and score")
            check("```python\ndef is_prime" in text_of(r), "content in a fenced python block")
            check(validate_out("search_code", r), "search_code structuredContent matches outputSchema")
            check(len(progress) >= 1, "progress notifications during the first indexing")

            t0 = time.time()
            for _ in range(5):
                await s.call_tool("search_code", {"query": "read settings from a text file"})
            print(f"     warm search {(time.time() - t0) / 5 * 1000:.1f} ms", flush=True)

            r = await s.call_tool("search_code", {"query": "parse_settings", "mode": "keyword",
                                                  "language": "rust"})
            res = (r.structured_content or {}).get("results", [])
            check(not r.is_error and res and all(x["language"] == "rust" for x in res) and
                  res[0]["symbol"] == "parse_settings", "keyword mode with a language filter")
            r = await s.call_tool("search_code", {"query": "download", "path_glob": "net/**",
                                                  "mode": "semantic"})
            res = (r.structured_content or {}).get("results", [])
            check(not r.is_error and res and all(x["path"].startswith("net/") for x in res),
                  "semantic mode with path_glob")

            r = await s.call_tool("search_text", {"query": "how to install the package"})
            res = (r.structured_content or {}).get("results", [])
            check(not r.is_error and res and res[0]["path"] == "README.md" and
                  all(x["path"].endswith((".md", ".rst", ".txt")) for x in res),
                  "search_text finds the README and only prose")
            check(validate_out("search_text", r), "search_text structuredContent matches outputSchema")

            r = await s.call_tool("find_similar", {"file_path": "math_utils.py", "line": 3,
                                                   "top_k": 5})
            res = (r.structured_content or {}).get("results", [])
            check(not r.is_error and res and
                  not any(x["path"] == "math_utils.py" and x["start_line"] <= 3 <= x["end_line"]
                          for x in res), "find_similar excludes the chunk itself")
            check(any(x["path"] == "legacy/primes_copy.py" for x in res[:2]),
                  "find_similar finds the copied function")
            check(validate_out("find_similar", r), "find_similar structuredContent matches outputSchema")

            r = await s.call_tool("find_duplicates", {"threshold": 0.9, "max_pairs": 5})
            pairs = (r.structured_content or {}).get("pairs", [])
            check(not r.is_error, "find_duplicates succeeds: " + text_of(r)[:200])
            check(any({p["a"]["path"], p["b"]["path"]} ==
                      {"math_utils.py", "legacy/primes_copy.py"} for p in pairs),
                  "find_duplicates pairs the copied function with its original")
            check(all(p["similarity"] >= 0.9 for p in pairs), "every pair is above the threshold")
            check(validate_out("find_duplicates", r), "find_duplicates structuredContent matches outputSchema")

            r = await s.call_tool("get_repo_map", {"token_budget": 300})
            md = text_of(r)
            check(not r.is_error and md.startswith("# Repo map") and (len(md) + 3) // 4 <= 300,
                  f"get_repo_map fits 300 tokens ({(len(md) + 3) // 4})")
            check("math_utils.py" in md, "repo map lists the files")
            r = await s.call_tool("get_repo_map", {"focus_file": "net/fetch.py"})
            check(not r.is_error and "focused on net/fetch.py" in text_of(r), "get_repo_map with focus_file")

            r = await s.call_tool("index_status", {})
            st = (r.structured_content or {}).get("roots", [{}])[0]
            check(not r.is_error and st.get("files", 0) >= 4 and st.get("chunks", 0) >= 4,
                  f"index_status: {st.get('files')} files, {st.get('chunks')} chunks")

            progress.clear()
            r = await s.call_tool("reindex", {"full": True}, progress_callback=on_progress)
            check(not r.is_error and "Rebuilt" in text_of(r), "reindex full=true rebuilds")
            check(len(progress) >= 1, f"reindex sends progress ({len(progress)})")

            # Argument errors are tool errors the model can read; unknown tools are protocol errors.
            r = await s.call_tool("search_code", {"query": "x", "top_k": "ten"})
            check(r.is_error and "top_k" in text_of(r), "wrong argument type -> isError")
            r = await s.call_tool("search_code", {})
            check(r.is_error and "query" in text_of(r), "missing argument -> isError")
            r = await s.call_tool("search_code", {"query": "x" * 200000})
            check(r.is_error and "longer" in text_of(r), "huge argument -> isError")
            r = await s.call_tool("search_code", {"query": "x", "bogus": 1})
            check(r.is_error and "bogus" in text_of(r), "unknown argument -> isError")
            r = await s.call_tool("find_similar", {"file_path": "nope.py", "line": 1})
            check(r.is_error, "find_similar on a file that is not indexed -> isError")
            try:
                await s.call_tool("no_such_tool", {})
                check(False, "unknown tool -> protocol error")
            except MCPError as e:
                check(e.error.code == -32602, f"unknown tool -> protocol error {e.error.code}")

            resources = (await s.list_resources()).resources
            uris = {str(x.uri) for x in resources}
            check(uris == {"ripvec://repo-map", "ripvec://status"}, f"resources/list {sorted(uris)}")
            rm = await s.read_resource("ripvec://repo-map")
            check(rm.contents[0].text.startswith("# Repo map"), "resources/read ripvec://repo-map")
            rs = await s.read_resource("ripvec://status")
            check('"chunks"' in rs.contents[0].text, "resources/read ripvec://status")
            try:
                await s.read_resource("ripvec://nope")
                check(False, "unknown resource -> error")
            except MCPError as e:
                check(e.error.code == -32002, f"unknown resource -> error {e.error.code}")

            # The watcher: a new file becomes searchable without reindex.
            with open(os.path.join(tree, "net", "checksum.py"), "w") as f:
                f.write("def crc32_of_stream(stream):\n"
                        "    \"\"\"Compute the CRC-32 checksum of a binary stream in blocks.\"\"\"\n"
                        "    import zlib\n    crc = 0\n"
                        "    for block in iter(lambda: stream.read(65536), b''):\n"
                        "        crc = zlib.crc32(block, crc)\n    return crc\n")
            t0 = time.time()
            found = False
            while time.time() - t0 < 30 and not found:
                await asyncio.sleep(0.5)
                r = await s.call_tool("search_code", {"query": "crc32_of_stream", "mode": "keyword",
                                                      "top_k": 1})
                res = (r.structured_content or {}).get("results", [])
                found = bool(res) and res[0]["symbol"] == "crc32_of_stream"
            check(found, f"watcher: a new file is searchable after {time.time() - t0:.1f}s")
            os.remove(os.path.join(tree, "net", "checksum.py"))
            t0 = time.time()
            gone = False
            while time.time() - t0 < 30 and not gone:
                await asyncio.sleep(0.5)
                r = await s.call_tool("search_code", {"query": "crc32_of_stream", "mode": "keyword"})
                res = (r.structured_content or {}).get("results", [])
                gone = not any(x["symbol"] == "crc32_of_stream" for x in res)
            check(gone, f"watcher: a deleted file leaves the results after {time.time() - t0:.1f}s")
            check(any(getattr(l, "level", "") == "info" for l in logs),
                  f"log notifications received ({len(logs)})")

    return finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
