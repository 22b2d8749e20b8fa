#!/usr/bin/env python3
"""Generates src/config/loki_keys.inc: every key of Loki's configuration reference, by dotted path.

    scripts/gen_loki_config_keys.py <loki git dir> > src/config/loki_keys.inc

<loki git dir> is a clone of github.com/grafana/loki with its tags (a bare one is fine). The
reference is read from each tag in TAGS: docs/sources/configure/_index.md in 2.9,
docs/sources/shared/configuration.md in 3.x. The output is the union over the tags. Only this
script needs the clone; the build uses the checked-in .inc.

The reference is one YAML-like block per heading ("### ingester" then a ```yaml fence). Inside a
block a key is `[name: <type> | default = ...]`, an inline section is `name:` with indented keys
under it, and a `<type>` that names another block (`[ring: <ring>]`, `[configs: <list of
period_configs>]`) pulls that block in under the key: the script resolves these into full dotted
paths (`ingester.lifecycler.ring.kvstore.store`, `schema_config.configs[].store`). Each key keeps
the CLI flag named in the comment above it, where the flag has no `<prefix>` placeholder or the
reference names the prefix at that spot.

Output lines: {"dotted.path", 'kind', "flag"}, kind 'l' = a value (anything under it is part of
the value: maps of free-form names are values too), 's' = a section, 'L' = a list of sections
(its elements' keys are "path[].key").
"""

import re
import subprocess
import sys

TAGS = [
    ("v2.9.17", "docs/sources/configure/_index.md"),
    ("v3.0.1", "docs/sources/shared/configuration.md"),
    ("v3.1.2", "docs/sources/shared/configuration.md"),
    ("v3.2.2", "docs/sources/shared/configuration.md"),
    ("v3.3.4", "docs/sources/shared/configuration.md"),
    ("v3.4.6", "docs/sources/shared/configuration.md"),
    ("v3.5.12", "docs/sources/shared/configuration.md"),
    ("v3.6.15", "docs/sources/shared/configuration.md"),
    ("v3.7.6", "docs/sources/shared/configuration.md"),
]
ROOT = "__root__"

KEY_RE = re.compile(r"^(\s*)\[([A-Za-z0-9_]+):\s*(<[^>]*>|[^|\]]*)")
SECTION_RE = re.compile(r"^(\s*)([A-Za-z0-9_]+):\s*$")
FLAG_RE = re.compile(r"#\s*CLI flag:\s*-(\S+)")
PREFIX_RE = re.compile(r"#\s*The CLI flags prefix for this block configuration is:\s*(\S+)")


def blocks_of(text):
    """{block name: [lines]} for each '### name' heading's first yaml fence."""
    blocks, name, lines, in_fence = {}, None, None, False
    for line in text.splitlines():
        if not in_fence and line.startswith("## ") and blocks:
            break  # past the reference (runtime config, out-of-order writes, ...)
        if line.startswith("### "):
            title = line[4:].strip()
            name = ROOT if title.startswith("Supported contents") else title
            continue
        if line.strip() == "```yaml" and name and name not in blocks:
            in_fence, lines = True, []
            continue
        if in_fence and line.strip() == "```":
            blocks[name] = lines
            in_fence, name = False, None
            continue
        if in_fence:
            lines.append(line)
    return blocks


def block_ref(type_text, blocks):
    """('s', name) for `<name>`, ('L', name) for `<list of names>`, else None."""
    m = re.fullmatch(r"<list of ([a-z_0-9]+?)s?>", type_text.strip())
    if m and m.group(1) in blocks:
        return "L", m.group(1)
    m = re.fullmatch(r"<([a-z_0-9]+)>", type_text.strip())
    if m and m.group(1) in blocks:
        return "s", m.group(1)
    return None


def walk(block, prefix, flag_prefix, blocks, out, depth=0):
    """Adds the keys of `block` under `prefix` (a dotted path ending in '.' or '')."""
    if depth > 12:
        raise SystemExit(f"block nesting too deep at {prefix}")
    stack = []  # (indent, path prefix) of open inline sections
    flag, site_prefix = None, None
    for line in blocks[block]:
        stripped = line.strip()
        if stripped.startswith("#"):
            m = FLAG_RE.search(stripped)
            if m:
                flag = m.group(1)
            m = PREFIX_RE.search(stripped)
            if m:
                site_prefix = m.group(1)
            continue
        if not stripped:
            flag, site_prefix = None, None
            continue
        m = KEY_RE.match(line) or SECTION_RE.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        base = stack[-1][1] if stack else prefix
        path = base + m.group(2)
        if line.lstrip().startswith("["):
            ref = block_ref(m.group(3), blocks)
            if ref is None:
                add(out, path, "l", resolve_flag(flag, flag_prefix))
            else:
                kind, name = ref
                add(out, path, kind, "")
                child = path + ("[]." if kind == "L" else ".")
                walk(name, child, site_prefix, blocks, out, depth + 1)
        else:
            add(out, path, "s", "")
            stack.append((indent, path + "."))
        flag, site_prefix = None, None


def resolve_flag(flag, flag_prefix):
    if not flag:
        return ""
    if "<prefix>" in flag:
        return flag.replace("<prefix>", flag_prefix) if flag_prefix else ""
    return flag


def add(out, path, kind, flag):
    old = out.get(path)
    if old is None:
        out[path] = (kind, flag)
    elif old[0] == "l" and kind != "l":
        out[path] = (kind, old[1])  # a section in one version, a value in another: a section
    elif not old[1] and flag:
        out[path] = (old[0], flag)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    git_dir = sys.argv[1]
    out = {}
    for tag, path in TAGS:
        text = subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], check=True,
                              capture_output=True, text=True).stdout
        blocks = blocks_of(text)
        if ROOT not in blocks:
            raise SystemExit(f"{tag}:{path}: no 'Supported contents' block")
        walk(ROOT, "", None, blocks, out)
    # A value whose path also has children in another version is a section (add() keeps that);
    # a value with keys under it in the same version cannot happen in the reference.
    print("// Generated by scripts/gen_loki_config_keys.py from github.com/grafana/loki's")
    print("// configuration reference, union over tags and files:")
    for tag, path in TAGS:
        print(f"//   {tag}:{path}")
    print("// DO NOT EDIT: regenerate with `scripts/gen_loki_config_keys.py <loki git dir>`.")
    print("// {dotted path, kind ('l' value, 's' section, 'L' list of sections), CLI flag or \"\"}")
    for path in sorted(out):
        kind, flag = out[path]
        print(f'{{"{path}", \'{kind}\', "{flag}"}},')


if __name__ == "__main__":
    main()
