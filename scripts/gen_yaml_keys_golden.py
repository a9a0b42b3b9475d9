#!/usr/bin/env python3
"""Golden top-level YAML keys for chunk_languages_test, from PyYAML's composer (a reference we
did not write). For every document whose root is a block mapping, each key gives
[name, first_line, key_line, last_line] (1-based):
  key_line   the key's start mark;
  last_line  the value's end mark (the line before when the mark is at column 0), then moved up
             over blank lines and column-0 comments (ripvec's rule: those are left to what follows);
  first_line key_line moved up over the column-0 comment lines directly above it, not past the
             previous key's last line or a document marker.
Usage: scripts/gen_yaml_keys_golden.py OUT.json FILE.yaml...   (run from the repository root)
Versions used for the committed goldens: see "generator" in the output.
"""
import json
import sys

import yaml


def keys_of(path):
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    out = []
    prev_end = -1
    for doc in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if doc is None:
            continue
        doc_start = doc.start_mark.line
        # A "---" line opens each document after the first: nothing climbs over it.
        for r in range(doc_start - 1, prev_end, -1):
            if lines[r].startswith("---"):
                prev_end = r
                break
        if not isinstance(doc, yaml.MappingNode) or doc.flow_style:
            continue
        for k, v in doc.value:
            key_line = k.start_mark.line
            end = v.end_mark.line if v.end_mark.column > 0 else v.end_mark.line - 1
            end = max(end, key_line)
            while end > key_line and (not lines[end].strip() or lines[end].startswith("#")):
                end -= 1
            start = key_line
            while start - 1 > prev_end and lines[start - 1].startswith("#"):
                start -= 1
            out.append([str(k.value), start + 1, key_line + 1, end + 1])
            prev_end = end
    return out


def main():
    out_path, files = sys.argv[1], sys.argv[2:]
    data = {"generator": f"scripts/gen_yaml_keys_golden.py, PyYAML {yaml.__version__}",
            "files": {f: keys_of(f) for f in files}}
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"generator": data["generator"]})[:-1] + ', "files": {\n')
        for i, (name, keys) in enumerate(data["files"].items()):
            rows = ",\n".join("  " + json.dumps(k, ensure_ascii=False) for k in keys)
            f.write(f' {json.dumps(name)}: [\n{rows}\n ]' + (",\n" if i + 1 < len(files) else "\n"))
        f.write("}}\n")


if __name__ == "__main__":
    main()
