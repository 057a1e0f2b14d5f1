import Glibc
import PlasmaCore
import PlasmaToolSupport

/// A one-line progress bar on stderr for large transfers.
///
/// Drawn only when stderr is a terminal (scripts and pipes never see it), only for transfers of at
/// least `threshold` bytes, at most ten times a second; the line is cleared when the transfer ends.
final class ProgressBar {
    static let threshold = 8 << 20
    private static let interval: Duration = .milliseconds(100)
    private static let barWidth = 24

    private let label: String
    private let total: Int?
    private let enabled: Bool
    private let start = ContinuousClock.now
    /// The first draw waits one interval too: a transfer that ends sooner shows nothing.
    private lazy var lastDraw = start
    private var drawn = false

    /// - Parameter total: the transfer's size; nil when unknown (stdin), and then the bar appears once
    ///   `threshold` bytes have gone through.
    init(_ label: String, total: Int?) {
        self.label = label
        self.total = total
        enabled = isatty(STDERR_FILENO) == 1 && (total ?? Int.max) >= Self.threshold
    }

    func update(_ done: Int) {
        guard enabled, done >= Self.threshold || total != nil else { return }
        let now = ContinuousClock.now
        if now - lastDraw < Self.interval { return }
        lastDraw = now
        draw(done, now: now)
    }

    /// Clears the line, if anything was drawn.
    func finish() {
        guard drawn else { return }
        writeStderr("\r\u{1B}[K")
        drawn = false
    }

    private func draw(_ done: Int, now: ContinuousClock.Instant) {
        let elapsed = now - start
        let seconds = elapsed.inSeconds
        let rate = seconds > 0 ? "\(ByteCount.format(Int(Double(done) / seconds)))/s" : ""
        var line = "\r\(label) "
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * Double(Self.barWidth))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: Self.barWidth - filled) + "] "
            line += "\(ByteCount.format(done)) / \(ByteCount.format(total))  \(Int(fraction * 100))%"
        } else {
            line += "\(ByteCount.format(done))"
        }
        line += "  \(rate)\u{1B}[K"
        writeStderr(line)
        drawn = true
    }

    private func writeStderr(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { try? writeAll(STDERR_FILENO, UnsafeRawBufferPointer($0)) }
    }

    deinit { finish() }
}
