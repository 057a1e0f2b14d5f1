#!/usr/bin/env bash
# Issue #11: another package can depend on swift-plasma by URL and version. Clones this repository's
# committed HEAD, tags the clone with PlasmaVersion.current, makes a throwaway package that depends on it
# through a file:// URL with `from:` that version, builds it (Swift 6 language mode) and runs it against
# a real store; the README's example programs are built in it too, unchanged. SwiftPM refuses unsafe
# build flags in such a dependency, so this also guards against them.
#
# Usage: .ci/check-url-dependency.sh PLASMA_STORE_BINARY
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
store_bin="${1:?usage: $0 PLASMA_STORE_BINARY}"
work="$(mktemp -d)"
store_pid=""
cleanup() { [ -n "$store_pid" ] && kill "$store_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

version="$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' "$root/Sources/PlasmaCore/PlasmaVersion.swift")"
git clone -q "$root" "$work/swift-plasma"
git -C "$work/swift-plasma" tag "$version"

# The README's examples (Examples/*/main.swift) go in unchanged, one executable each: they must compile
# in a fresh package, in Swift 6 language mode (the default of tools version 6.1).
mkdir -p "$work/app/Sources/app"
targets='        .executableTarget(name: "app", dependencies: [.product(name: "PlasmaClient", package: "swift-plasma")]),'
for example in "$root"/Examples/*/; do
    name="example-$(basename "$example")"
    mkdir -p "$work/app/Sources/$name"
    cp "$example/main.swift" "$work/app/Sources/$name/main.swift"
    targets="$targets
        .executableTarget(name: \"$name\", dependencies: [.product(name: \"PlasmaClient\", package: \"swift-plasma\")]),"
done
# Misuse the type system must refuse: writing an object after sealing it (MutableObject is ~Copyable and
# seal() consumes it). Built on its own below; it must fail, with the compiler naming the reason.
mkdir -p "$work/app/Sources/misuse-write-after-seal"
cat > "$work/app/Sources/misuse-write-after-seal/main.swift" <<'EOF'
import PlasmaClient

func publish(_ client: PlasmaClient) throws {
    let object = try client.create(.random(), dataSize: 8)
    let sealed = try object.seal()
    try object.write([1, 2, 3])  // must not compile: `object` was consumed by seal()
    try sealed.release()
}
EOF
targets="$targets
        .executableTarget(name: \"misuse-write-after-seal\", dependencies: [.product(name: \"PlasmaClient\", package: \"swift-plasma\")]),"

cat > "$work/app/Package.swift" <<EOF
// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "app",
    dependencies: [.package(url: "file://$work/swift-plasma", from: "$version")],
    targets: [
$targets
    ]
)
EOF
cat > "$work/app/Sources/app/main.swift" <<'EOF'
import Glibc
import PlasmaClient  // alone: it re-exports PlasmaCore's ObjectID and friends

// One object through the store: put by another client, read back here, bytes compared.
let socket = CommandLine.arguments[1]
let writer = try AsyncPlasmaClient(socketPath: socket)
let id = ObjectID.random()
let bytes = Array("hello from a package that depends on swift-plasma".utf8)
try await writer.put(id, bytes: bytes)
let reader = try PlasmaClient(socketPath: socket)
guard let buffer = try reader.get(id, timeout: .timeout(.seconds(10))), buffer.copyBytes() == bytes else {
    print("url-dependency: FAILED: the object did not come back intact")
    exit(1)
}
print("url-dependency: ok, \(bytes.count) bytes round-tripped through the store")
EOF

echo "url-dependency: building a package that depends on swift-plasma $version by URL"
build() { (cd "$work/app" && swift build --scratch-path "$work/app/.build" "$@"); }
build --product app 2>&1 | tail -2
for example in "$root"/Examples/*/; do
    build --product "example-$(basename "$example")" 2>&1 | tail -1
done
if build --target misuse-write-after-seal >"$work/misuse.log" 2>&1; then
    echo "url-dependency: FAILED: writing a MutableObject after seal() compiled"; exit 1
elif ! grep -q "used after consume" "$work/misuse.log"; then
    echo "url-dependency: FAILED: the misuse didn't compile, but not for the expected reason:"; tail -20 "$work/misuse.log"; exit 1
fi
echo "url-dependency: writing after seal() is refused at compile time: $(grep -m1 -o "error: .*used after consume" "$work/misuse.log")"

"$store_bin" --memory 64M --socket "$work/store.sock" >"$work/store.log" 2>&1 &
store_pid=$!
for _ in $(seq 1 500); do [ -S "$work/store.sock" ] && break; sleep 0.02; done
"$(cd "$work/app" && swift build --scratch-path "$work/app/.build" --show-bin-path)/app" "$work/store.sock"
