import ArgumentParser
import PlasmaCore

/// `plasma evict BYTES`: frees space by evicting unreferenced sealed objects.
struct EvictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evict",
        abstract: "Evict least recently used unreferenced objects until at least SIZE bytes are freed.",
        discussion: """
            Only sealed objects that no client references are evicted, least recently released first; \
            the store may free less than asked when nothing else is evictable. Prints the bytes and \
            objects evicted.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp(
        "Bytes to free: a number or a size with a unit, e.g. 10M, 512K, 1.5G, 2GiB (K, M, G, T and KiB… are powers of 1024; KB, MB… of 1000).",
        valueName: "size"),
              transform: { text throws in try ByteCount.parse(text) })
    var bytes: Int

    func run() throws {
        let client = try connection.connect("plasma evict")
        let result: (bytes: Int, objects: Int)
        do {
            result = try client.evict(bytes)
        } catch {
            throw CLIError(error, doing: "evict")
        }
        let size = result.bytes < 1024 ? "\(result.bytes) B" : "\(ByteCount.format(result.bytes)) (\(result.bytes) bytes)"
        print("evicted \(size) in \(result.objects) object\(result.objects == 1 ? "" : "s")")
    }
}
