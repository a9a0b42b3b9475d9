#!/usr/bin/env python3
"""Definitions (functions, methods, types) of a source tree, found with tree-sitter.

This is the harness's own view of the code, independent of ripvec's chunker: labels are resolved
against it, the plain-BM25 baseline indexes its whole definitions, and the automatic
(CodeSearchNet-style) query set takes its docstrings and leading comments from it.

    defs.py DIR [--grep WORD]      list "path:start-end kind name | first doc line"

Each definition is a dict:
  path      relative to the tree root, "/" separators
  name      qualified name: "Class.method" (Python, JS classes), "Type.Method" (Go receivers,
            Rust impl/trait items), plain "name" otherwise
  kind      "function" or "type"
  start     first line (1-based) of the definition including decorators/attributes and its
            leading comment block; end: last line (inclusive)
  def_start first line of the definition proper (after the leading comment)
  doc       docstring / leading comment text with comment markers removed ("" if none)
  doc_lines [first, last] lines of that docstring or comment block, or None
  body_lines number of lines of the definition proper
"""
from __future__ import annotations

import argparse
import re
import sys
from functools import lru_cache
from pathlib import Path

import tree_sitter as ts

EXT_LANG = {".py": "python", ".go": "go", ".c": "c", ".h": "c", ".js": "javascript",
            ".mjs": "javascript", ".cjs": "javascript", ".rs": "rust"}


@lru_cache(maxsize=None)
def parser_for(lang: str) -> ts.Parser:
    if lang == "python":
        import tree_sitter_python as m
    elif lang == "go":
        import tree_sitter_go as m
    elif lang == "c":
        import tree_sitter_c as m
    elif lang == "javascript":
        import tree_sitter_javascript as m
    elif lang == "rust":
        import tree_sitter_rust as m
    else:
        raise ValueError(lang)
    return ts.Parser(ts.Language(m.language()))


def _text(node: ts.Node) -> str:
    return node.text.decode("utf-8", "replace")


def _field_text(node: ts.Node, field: str) -> str | None:
    child = node.child_by_field_name(field)
    return _text(child) if child is not None else None


def clean_comment(raw: str) -> str:
    """Comment text without //, ///, //!, /* */, leading * and # markers."""
    out = []
    for line in raw.splitlines():
        s = line.strip()
        s = re.sub(r"^/\*+!?", "", s)
        s = re.sub(r"\*+/$", "", s)
        s = re.sub(r"^//[/!]?", "", s)
        s = re.sub(r"^\*(?!\*)", "", s)
        s = re.sub(r"^#", "", s)
        out.append(s.strip())
    return "\n".join(out).strip()


def _c_declarator_name(node: ts.Node | None) -> str | None:
    while node is not None:
        if node.type in ("identifier", "field_identifier"):
            return _text(node)
        node = node.child_by_field_name("declarator")
    return None


def _go_receiver_type(node: ts.Node) -> str:
    recv = node.child_by_field_name("receiver")
    if recv is None:
        return ""
    for param in recv.named_children:
        t = param.child_by_field_name("type")
        if t is not None:
            name = _text(t).lstrip("*")
            return re.sub(r"\[.*\]$", "", name)
    return ""


def _rust_container(node: ts.Node) -> str:
    p = node.parent
    while p is not None:
        if p.type == "impl_item":
            t = p.child_by_field_name("type")
            return re.sub(r"<.*", "", _text(t)) if t is not None else ""
        if p.type == "trait_item":
            return _field_text(p, "name") or ""
        if p.type in ("function_item", "mod_item", "source_file"):
            return ""
        p = p.parent
    return ""


WRAPPERS = {"decorated_definition", "export_statement", "lexical_declaration", "variable_declaration",
            "expression_statement", "assignment_expression", "variable_declarator"}
LEADING = {"comment", "line_comment", "block_comment", "attribute_item", "decorator"}


def _outer(node: ts.Node) -> ts.Node:
    """The statement-level node whose leading comments belong to `node`."""
    while node.parent is not None and node.parent.type in WRAPPERS:
        node = node.parent
    return node


def _end_row(node: ts.Node) -> int:
    """Last row of a node; Rust line comments include their newline (end at column 0)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


def _leading_comments(outer: ts.Node) -> tuple[int, list[ts.Node]]:
    """(first row including attributes/comments, the comment nodes), rows 0-based."""
    first = outer.start_point.row
    comments: list[ts.Node] = []
    prev = outer.prev_sibling
    while prev is not None and prev.type in LEADING and _end_row(prev) >= first - 1:
        # A trailing comment on the previous statement's line is not ours.
        before = prev.prev_sibling
        if before is not None and _end_row(before) == prev.start_point.row and before.type not in LEADING:
            break
        first = prev.start_point.row
        if prev.type != "attribute_item" and prev.type != "decorator":
            comments.insert(0, prev)
        prev = prev.prev_sibling
    return first, comments


def _python_docstring(node: ts.Node) -> ts.Node | None:
    body = node.child_by_field_name("body")
    if body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_children and \
            first.named_children[0].type == "string":
        return first
    return None


def _python_string_text(stmt: ts.Node) -> str:
    s = _text(stmt.named_children[0])
    s = re.sub(r'^[rRbBuU]*("""|\'\'\'|"|\')', "", s)
    s = re.sub(r'("""|\'\'\'|"|\')$', "", s)
    import textwrap
    lines = s.splitlines()
    if len(lines) > 1:
        s = lines[0].strip() + "\n" + textwrap.dedent("\n".join(lines[1:]))
    return s.strip()


def _name_and_kind(node: ts.Node, lang: str, classes: list[str]) -> tuple[str, str] | None:
    t = node.type
    if lang == "python":
        if t in ("function_definition", "class_definition"):
            name = _field_text(node, "name")
            return (".".join(classes + [name]), "type" if t == "class_definition" else "function")
    elif lang == "go":
        if t == "function_declaration":
            return _field_text(node, "name"), "function"
        if t == "method_declaration":
            recv = _go_receiver_type(node)
            return (f"{recv}.{_field_text(node, 'name')}" if recv else _field_text(node, "name")), "function"
        if t == "type_spec":
            return _field_text(node, "name"), "type"
    elif lang == "c":
        if t == "function_definition":
            name = _c_declarator_name(node.child_by_field_name("declarator"))
            return (name, "function") if name else None
        if t in ("struct_specifier", "enum_specifier", "union_specifier") and \
                node.child_by_field_name("body") is not None and node.child_by_field_name("name") is not None:
            return _field_text(node, "name"), "type"
    elif lang == "javascript":
        if t in ("function_declaration", "generator_function_declaration"):
            return _field_text(node, "name"), "function"
        if t == "class_declaration":
            return _field_text(node, "name"), "type"
        if t == "method_definition":
            name = _field_text(node, "name")
            return (".".join(classes + [name]), "function")
        if t in ("function_expression", "arrow_function", "function"):
            p = node.parent
            if p is not None and p.type == "variable_declarator" and p.child_by_field_name("value") == node:
                return _field_text(p, "name"), "function"
            if p is not None and p.type == "assignment_expression" and p.child_by_field_name("right") == node:
                return _field_text(p, "left"), "function"
            if p is not None and p.type == "pair" and p.child_by_field_name("value") == node:
                key = (_field_text(p, "key") or "").strip("'\"")
                return ".".join(classes + [key]), "function"
            own = _field_text(node, "name")
            if own:
                return own, "function"
    elif lang == "rust":
        if t == "function_item" or t == "function_signature_item":
            if t == "function_signature_item":
                return None
            c = _rust_container(node)
            name = _field_text(node, "name")
            return (f"{c}.{name}" if c else name), "function"
        if t in ("struct_item", "enum_item", "trait_item", "union_item"):
            return _field_text(node, "name"), "type"
    return None


def definitions_of_source(src: bytes, lang: str, path: str) -> list[dict]:
    tree = parser_for(lang).parse(src)
    out: list[dict] = []

    def visit(node: ts.Node, classes: list[str]) -> None:
        for child in node.named_children:
            nk = _name_and_kind(child, lang, classes)
            inner = classes
            if nk is not None and nk[0]:
                name, kind = nk
                outer = _outer(child)
                first_row, comments = _leading_comments(outer)
                doc, doc_lines = "", None
                if lang == "python":
                    ds = _python_docstring(child)
                    if ds is not None:
                        doc = _python_string_text(ds)
                        doc_lines = [ds.start_point.row + 1, ds.end_point.row + 1]
                elif comments:
                    doc = clean_comment("\n".join(_text(c) for c in comments))
                    doc_lines = [comments[0].start_point.row + 1, _end_row(comments[-1]) + 1]
                def_start = (outer.start_point.row if lang != "python" else outer.start_point.row) + 1
                out.append({
                    "path": path, "name": name, "kind": kind,
                    "start": first_row + 1, "end": child.end_point.row + 1,
                    "def_start": def_start, "doc": doc, "doc_lines": doc_lines,
                    "body_lines": child.end_point.row - outer.start_point.row + 1,
                    "only_doc": lang == "python" and doc_lines is not None and
                    len(child.child_by_field_name("body").named_children) == 1,
                })
                if kind == "type" or lang == "python":
                    inner = [name] if lang != "python" else name.split(".")
            elif child.type == "class" and lang == "javascript":  # class expressions
                p = child.parent
                if p is not None and p.type == "variable_declarator":
                    inner = [_field_text(p, "name") or ""]
            visit(child, inner)

    visit(tree.root_node, [])
    return out


def definitions(root: Path, rel: str) -> list[dict]:
    lang = EXT_LANG.get(Path(rel).suffix)
    if lang is None:
        return []
    return definitions_of_source((root / rel).read_bytes(), lang, rel)


def source_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.suffix in EXT_LANG)


def tree_definitions(root: Path) -> list[dict]:
    out: list[dict] = []
    for rel in source_files(root):
        out.extend(definitions(root, rel))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--grep", default="")
    args = ap.parse_args()
    for d in tree_definitions(args.root):
        line = f"{d['path']}:{d['start']}-{d['end']} {d['kind'][0]} {d['name']} | {d['doc'].splitlines()[0] if d['doc'] else ''}"
        if args.grep.lower() in line.lower():
            print(line[:200])


if __name__ == "__main__":
    sys.exit(main())
