#!/usr/bin/env python3
"""The layering rules of docs/architecture.md ("Layers"), checked on the sources:

1. No include cycle between modules (a module is X.c with its header X.h), except inside
   the Vulkan runtime (daemon/gpu/vk*, one module here: its files call each other); and no
   call cycle: a module calls a function another defines, found by name (a call through a
   registered function pointer, the way up the layers, is not a call here). A C call
   needs a declaration, so a call cycle between modules whose functions are declared in
   their own headers is an include cycle too; the call graph also sees functions declared
   in another module's header (ops.h declares the ops_*.c handlers).
2. The numerics (daemon/num/) include only the numerics, the Vulkan runtime
   (daemon/gpu/) and proto/errors.h; the runtime only itself and proto/errors.h; neither
   includes a service library's header (libuv, msgpack-c, SQLite, libpng).
3. In daemon/num/, a file named X_gpu.c records or submits Vulkan work and a file
   without the suffix does not (it is host code: configuration, reference loops).

Usage: layers.py [ROOT]; prints every violation and exits 1 if there is one."""
import collections
import os
import re
import sys

SOURCE_DIRS = ["proto", "daemon", "client"]
# Where `#include "x.h"` is looked for after the including file's directory (Makefile INCS).
INCLUDE_PATH = ["proto", "daemon", "daemon/num", "daemon/gpu", "client"]
VK_RUNTIME = re.compile(r"^daemon/gpu/vk(_\w+)?$")
NUM, GPU = "daemon/num/", "daemon/gpu/"
LOWER_ALLOWED = {"proto/errors.h"}
SERVICE_SYSTEM_HEADERS = re.compile(r"^(uv\.h|uv/|msgpack\.h|msgpack/|sqlite3\.h|png\.h|cmocka\.h)")
QUOTED = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ANGLED = re.compile(r"^\s*#\s*include\s+<([^>]+)>", re.M)
COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
VULKAN_CALL = re.compile(r"\b(vk[A-Z]\w*|vk_\w+|fft_\w+)\s*\(")
STRINGS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
# A definition of a function other files may call: at the start of a line, not static.
EXTERN_DEF = re.compile(r"^(?!static\b|typedef\b|extern\b)[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\(", re.M)
CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def sources(root):
    out = []
    for d in SOURCE_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            out += [os.path.relpath(os.path.join(dirpath, n), root) for n in names if n.endswith((".c", ".h"))]
    return sorted(out)


def resolve(files, including, name):
    for d in [os.path.dirname(including)] + INCLUDE_PATH:
        path = os.path.normpath(os.path.join(d, name))
        if path in files:
            return path
    return None  # generated or outside the sources (build/gen, tests): not a module


def module(path):
    stem = os.path.splitext(path)[0]
    return "daemon/gpu/vk" if VK_RUNTIME.match(stem) else stem


def strongly_connected(graph):
    """Tarjan's algorithm, iterative; returns the components of more than one node."""
    index, low, stack, on_stack, comps, counter = {}, {}, [], set(), [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(comp)
    return comps


def code_of(text):
    return STRINGS.sub('""', COMMENTS.sub(" ", text))


def defined_functions(code):
    """The non-static functions a .c file defines: a name and parameters followed by a body."""
    names = []
    for m in EXTERN_DEF.finditer(code):
        i, depth = m.end(), 1
        while i < len(code) and depth:
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            i += 1
        if code[i:].lstrip().startswith("{"):
            names.append(m.group(1))
    return names


def call_graph(root, files):
    """Module -> modules whose functions it calls, and for each edge one example."""
    code = {p: code_of(open(os.path.join(root, p), encoding="utf-8").read()) for p in files if p.endswith(".c")}
    definer = {}
    for path, text in code.items():
        for name in defined_functions(text):
            definer.setdefault(name, module(path))
    graph, example = collections.defaultdict(set), {}
    for path, text in code.items():
        a = module(path)
        graph[a]
        for name in CALL.findall(text):
            b = definer.get(name)
            if b and b != a:
                graph[a].add(b)
                graph[b]
                example.setdefault((a, b), f"{path} calls {name}")
    return graph, example


def cycles(graph, example, what):
    out = []
    for comp in strongly_connected(graph):
        where = "; ".join(example[(a, b)] for a in sorted(comp) for b in sorted(graph[a] & comp))
        out.append(f"{what} cycle between {' -> '.join(sorted(comp))} ({where})")
    return out


def check(root):
    files = set(sources(root))
    problems, graph, edge_from = [], collections.defaultdict(set), {}
    for path in sorted(files):
        text = open(os.path.join(root, path), encoding="utf-8").read()
        lower = path.startswith((NUM, GPU))
        for name in QUOTED.findall(text):
            target = resolve(files, path, name)
            if target is None:
                continue
            a, b = module(path), module(target)
            if a != b:
                graph[a].add(b)
                graph[b]
                edge_from.setdefault((a, b), f"{path} includes {target}")
            allowed = target.startswith(GPU) or target in LOWER_ALLOWED
            if path.startswith(NUM):
                allowed = allowed or target.startswith(NUM)
            if lower and not allowed:
                problems.append(f"{path}: includes {target}, outside the numerics' layers")
        for name in ANGLED.findall(text):
            if lower and SERVICE_SYSTEM_HEADERS.match(name):
                problems.append(f"{path}: includes <{name}>, a service library")
        if path.startswith(NUM) and path.endswith(".c"):
            calls = VULKAN_CALL.findall(COMMENTS.sub("", text))
            is_gpu = os.path.splitext(path)[0].endswith("_gpu")
            if is_gpu and not calls:
                problems.append(f"{path}: named _gpu but records no Vulkan work (host code: drop the suffix)")
            if not is_gpu and calls:
                problems.append(f"{path}: calls the Vulkan runtime ({calls[0]}) but is not named X_gpu.c")
    problems += cycles(graph, edge_from, "include")
    problems += cycles(*call_graph(root, files), "call")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    problems = check(root)
    for p in problems:
        print(p)
    print(f"layers: {len(problems)} problem(s) in {len(sources(root))} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
