import Glibc

/// Keeps `plasma get` from pouring binary into a terminal, where control bytes can rewrite the screen
/// or leave it in a strange mode: such bytes go to a terminal only when asked for with `-o -`.
enum TerminalGuard {
    /// Whether `bytes` may go to standard output without `-o -`: yes unless stdout is a terminal and
    /// the bytes are not text.
    static func allows(_ bytes: UnsafeRawBufferPointer) -> Bool {
        isatty(STDOUT_FILENO) == 0 || isText(bytes)
    }

    /// UTF-8 without control characters other than tab, newline and carriage return.
    static func isText(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where (byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D) || byte == 0x7F {
            return false
        }
        return String(validating: bytes, as: UTF8.self) != nil
    }
}
