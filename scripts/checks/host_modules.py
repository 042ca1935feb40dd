#!/usr/bin/env python3
# scripts/checks/host_modules.py SRC_DIR [-v]
# File-level module dependency graph of a crate: every `crate::a::b::C`, `super::x`,
# `self::x` path (in `use` lines and inline) resolved to the deepest module file it
# names; edges from a file to its own descendants that are merely declared (`mod x;`)
# are not uses. Reports strongly connected components (cycles). Test modules excluded.
import os, re, sys, collections
root = sys.argv[1]
mods = {}  # module path tuple -> file
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs') or f.endswith('_tests.rs'):
            continue
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)[:-3].split('/')
        if rel[-1] in ('mod', 'lib', 'main'):
            rel = rel[:-1]
        if rel == [] and f == 'main.rs':
            continue  # the binary is another crate
        mods[tuple(rel)] = p
def resolve(parts):
    # deepest existing module prefix
    for n in range(len(parts), -1, -1):
        if tuple(parts[:n]) in mods:
            return tuple(parts[:n])
    return ()
def expand(text):
    # expand `use a::{b, c::{d, e}}` into flat paths
    out = []
    def rec(prefix, body):
        depth = 0; cur = ''; items = []
        for ch in body:
            if ch == '{': depth += 1
            if ch == '}': depth -= 1
            if ch == ',' and depth == 0: items.append(cur); cur = ''
            else: cur += ch
        items.append(cur)
        for it in items:
            it = it.strip()
            if not it: continue
            m = re.match(r'^([\w:]*?)::\{(.*)\}$', it, re.S)
            if m: rec(prefix + m.group(1).split('::'), m.group(2))
            elif it.startswith('{') and it.endswith('}'): rec(prefix, it[1:-1])
            else: out.append(prefix + it.split(' as ')[0].strip().split('::'))
    rec([], text)
    return out
edges = collections.defaultdict(set)
for me, p in mods.items():
    src = open(p).read()
    src = re.sub(r'#\[cfg\(test\)\]\s*(#\[[^\]]*\]\s*)*mod tests \{.*', '', src, flags=re.S)
    src = re.sub(r'//[^\n]*', '', src)
    paths = []
    for m in re.finditer(r'\buse\s+([^;]+);', src):
        paths += expand(m.group(1))
    for m in re.finditer(r'\b((?:crate|super|self)(?:::\w+)+)', src):
        paths.append(m.group(1).split('::'))
    is_dir = os.path.basename(p) in ('mod.rs', 'lib.rs')
    for parts in paths:
        parts = [x.strip() for x in parts if x.strip()]
        if not parts: continue
        if parts[0] == 'crate': base = []; rest = parts[1:]
        elif parts[0] in ('super', 'self'):
            base = list(me) if is_dir else list(me[:-1])
            if parts[0] == 'self': base = list(me); rest = parts[1:]
            else:
                rest = parts[1:]
                while rest and rest[0] == 'super':
                    base = base[:-1]; rest = rest[1:]
        elif is_dir and tuple(list(me) + [parts[0]]) in mods:
            base = list(me); rest = parts  # a child module named relatively
        else: continue
        tgt = resolve(base + rest)
        if tgt != me and tgt != ():
            edges[me].add(tgt)
name = lambda t: '/'.join(t) or 'lib'
idx, low, st, on, comps, c = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: comps.append(sorted(name(x) for x in comp))
for v in sorted(mods):
    if v not in idx: sc(v)
if '-v' in sys.argv:
    for k in sorted(edges): print(name(k), '->', ' '.join(sorted(name(x) for x in edges[k])))
print(len(mods), 'modules,', sum(len(v) for v in edges.values()), 'edges; cycles:', comps if comps else 'none')
if comps:
    sys.exit(1)
if '-v' not in sys.argv:
    sys.exit(0)
# top-level view
top = collections.defaultdict(set)
for a, bs in edges.items():
    for b in bs:
        if a[:1] != b[:1] and a and b: top[a[0]].add(b[0])
print('top-level edges:'); [print(' ', k, '->', ' '.join(sorted(v))) for k, v in sorted(top.items())]
