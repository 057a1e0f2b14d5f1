#!/usr/bin/env python3
"""Lists the public and open symbols of the given modules that have no doc comment of their own.

Usage: undocumented-symbols.py SYMBOLGRAPH_DIR MODULE...

Reads the symbol graphs that `swift package dump-symbol-graph --minimum-access-level public
--skip-inherited-docs` wrote (MODULE.symbols.json, and MODULE@OTHER.symbols.json for extensions of
other modules' types) and prints one line per undocumented symbol: file:line, kind, full name.
Exits 1 when it lists any, 2 when a module's graph is missing, 0 otherwise.

Skipped, because no one writes a comment for them: synthesized members (no `location`: hashValue,
hash(into:), rawValue initialisers), and extension blocks (their members are checked one by one).
A doc comment that belongs to another module (a protocol requirement's, inherited) doesn't count.
"""
import json
import pathlib
import sys

PUBLIC = {"public", "open"}


def own_doc(symbol, modules):
    comment = symbol.get("docComment")
    if not comment or not any(line.get("text", "").strip() for line in comment.get("lines", [])):
        return False
    # Inherited comments name the module they come from; the module's own carry its name or none.
    return comment.get("module") in (None, *modules)


def undocumented(graph_dir, modules):
    found = {}
    for module in modules:
        files = sorted(graph_dir.glob(f"{module}.symbols.json")) + sorted(graph_dir.glob(f"{module}@*.symbols.json"))
        if not files:
            print(f"no symbol graph for {module} in {graph_dir}", file=sys.stderr)
            sys.exit(2)
        for path in files:
            for symbol in json.loads(path.read_text())["symbols"]:
                if symbol.get("accessLevel") not in PUBLIC:
                    continue
                if symbol["kind"]["identifier"] == "swift.extension" or "location" not in symbol:
                    continue
                if own_doc(symbol, modules):
                    continue
                location = symbol["location"]
                file = location["uri"].split("/Sources/", 1)[-1]
                line = location["position"]["line"] + 1
                name = ".".join(symbol["pathComponents"])
                # Re-exported symbols appear in both modules' graphs: one line each.
                found[symbol["identifier"]["precise"]] = (file, line, symbol["kind"]["displayName"], name)
    return sorted(found.values())


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    graph_dir = pathlib.Path(sys.argv[1])
    modules = sys.argv[2:]
    missing = undocumented(graph_dir, modules)
    for file, line, kind, name in missing:
        print(f"Sources/{file}:{line}: {kind} {name}")
    if missing:
        print(f"{len(missing)} public symbols without a /// doc comment in {', '.join(modules)}", file=sys.stderr)
        sys.exit(1)
    print(f"every public symbol of {', '.join(modules)} has a doc comment")


if __name__ == "__main__":
    main()
