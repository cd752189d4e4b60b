#!/usr/bin/env python3
"""The import graph of a crate's modules, as ARCHITECTURE.md measures it.

usage: scripts/import-graph.py [SRC_DIR] [--edges]        (default: gmp-core/src)

A room is a source file (`proc/sched.rs` is `proc/sched`; a `mod.rs` is its directory).
An arrow A -> B means A names something of B through a `crate::` or `super::` path, in a
`use` line or inline; comments, `$crate::` in macros and a test module's `use super::*`
are left out. A directory's `mod.rs` that names its children (`use hchan::Chan`) has an
arrow to each. Prints the number of
rooms and arrows, every circle (strongly connected component) with the arrows inside
it, the floors (a room's floor is one above the highest room it imports outside its
own circle), and the same graph folded to the top-level rooms (`proc/*` is `proc`).
"""
import os
import re
import sys


def modules(src):
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if not n.endswith('.rs'):
                continue
            rel = os.path.relpath(os.path.join(root, n), src)[:-3]
            mod = rel[:-4] if rel.endswith('/mod') else rel
            if mod not in ('lib', 'main'):
                files[mod] = os.path.join(root, n)
    return files


def strip_comments(text):
    return '\n'.join(re.sub(r'//.*$', '', l) for l in text.split('\n')
                     if not l.lstrip().startswith('//'))


def split_top(s):
    """Splits `a, b::{c, d}` at its top-level commas."""
    depth, start, parts = 0, 0, []
    for i, c in enumerate(s):
        depth += c == '{'
        depth -= c == '}'
        if c == ',' and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return [p for p in parts if p]


def use_paths(body, prefix=()):
    """Every path a `use` tree names: `a::{b, c::d}` gives a::b and a::c::d."""
    out = []
    for part in split_top(re.sub(r'\s+', '', body)):
        if '{' in part:
            head = [x for x in part[:part.index('{')].split('::') if x]
            inner = part[part.index('{') + 1:part.rindex('}')]
            out += use_paths(inner, prefix + tuple(head))
        else:
            out.append(list(prefix) + [x for x in part.split('::') if x])
    return out


def graph(src):
    files = modules(src)
    names = set(files)

    def resolve(segs):
        for k in range(len(segs), 0, -1):
            if '/'.join(segs[:k]) in names:
                return '/'.join(segs[:k])
        return None

    edges = {m: set() for m in files}
    for m, path in files.items():
        text = strip_comments(open(path).read())
        parent = m.rsplit('/', 1)[0].split('/') if '/' in m else []
        paths = []
        for u in re.finditer(r'\buse\s+(crate|super)::([^;]*);', text, re.S):
            paths += [(u.group(1), p) for p in use_paths(u.group(2))]
        text = re.sub(r'\buse\s+(crate|super)::[^;]*;', '', text, flags=re.S)
        for u in re.finditer(r'(?<![$\w])(crate|super)((?:::\w+)+)', text):
            paths.append((u.group(1), [x for x in u.group(2).split('::') if x]))
        # A directory's `mod.rs` naming its own children (`use hchan::Chan`).
        children = re.findall(r'^\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;', text, re.M)
        for child in children:
            if re.search(r'(?<![\w:])' + child + r'::', text):
                paths.append(('child', [child]))
        for kind, segs in paths:
            if '*' in segs:
                continue
            full = {'crate': segs, 'super': parent + segs, 'child': m.split('/') + segs}[kind]
            target = resolve(full)
            if target and target != m:
                edges[m].add(target)
    return edges


def circles(edges):
    """Tarjan's strongly connected components."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def report(edges, show_edges):
    comps = circles(edges)
    comp_of = {v: i for i, c in enumerate(comps) for v in c}
    floor = {}

    def floor_of(i):
        if i not in floor:
            floor[i] = 0
            floor[i] = max([floor_of(comp_of[w]) + 1 for v in comps[i] for w in edges[v]
                            if comp_of[w] != i] + [0])
        return floor[i]

    for i in range(len(comps)):
        floor_of(i)
    arrows = sum(len(e) for e in edges.values())
    print(f"rooms {len(edges)}, arrows {arrows}, floors {max(floor.values()) + 1}")
    for c in comps:
        if len(c) > 1:
            inside = sum(1 for v in c for w in edges[v] if w in c)
            print(f"circle of {len(c)} rooms, {inside} arrows inside: {' '.join(c)}")
    by_floor = {}
    for i, c in enumerate(comps):
        by_floor.setdefault(floor[i], []).append('{' + ' '.join(c) + '}' if len(c) > 1 else c[0])
    for f in sorted(by_floor, reverse=True):
        print(f"  floor {f}: {'  '.join(sorted(by_floor[f]))}")
    if show_edges:
        for v in sorted(edges):
            print(f"  {v} -> {' '.join(sorted(edges[v]))}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    src = args[0] if args else 'gmp-core/src'
    edges = graph(src)
    print(f"== {src}: files")
    report(edges, '--edges' in sys.argv)
    top = {}
    for v, ws in edges.items():
        top.setdefault(v.split('/')[0], set())
        for w in ws:
            if v.split('/')[0] != w.split('/')[0]:
                top[v.split('/')[0]].add(w.split('/')[0])
    print(f"== {src}: top-level rooms")
    report(top, True)


if __name__ == '__main__':
    main()
