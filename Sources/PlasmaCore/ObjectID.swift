/// The 20-byte name of an object, as in Arrow's Plasma (`kUniqueIDSize`).
///
/// Stored inline as three words so that hashing and comparison never allocate.
public struct ObjectID: Hashable, Sendable, Comparable {
    /// The length of an id in bytes.
    public static let byteCount = 20

    @usableFromInline var high: UInt64
    @usableFromInline var middle: UInt64
    @usableFromInline var low: UInt32

    /// Makes an id from exactly 20 bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words = (UInt64(0), UInt64(0), UInt32(0))
        withUnsafeMutableBytes(of: &words) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        (high, middle, low) = words
    }

    /// Reads 20 bytes at `offset` of a raw buffer the caller has bounds-checked.
    @inlinable
    public init(loadingFrom raw: UnsafeRawBufferPointer, at offset: Int) {
        high = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        middle = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
        low = raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self)
    }

    /// A fresh id: 160 bits from a generator seeded by the system's random source (see `IDGenerator`).
    public static func random() -> ObjectID {
        var id = ObjectID(zeroed: ())
        let (a, b, c) = IDGenerator.shared.next()
        (id.high, id.middle, id.low) = (a, b, UInt32(truncatingIfNeeded: c))
        return id
    }

    /// An id of 160 bits drawn from `generator`: reproducible ids for tests and benchmarks, given a seeded
    /// generator.
    public static func random(using generator: inout some RandomNumberGenerator) -> ObjectID {
        var id = ObjectID(zeroed: ())
        id.high = generator.next()
        id.middle = generator.next()
        id.low = generator.next()
        return id
    }

    init(zeroed: Void) { (high, middle, low) = (0, 0, 0) }

    /// Parses the 40-hex-digit text form (either case).
    public init?(hex text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == Self.byteCount * 2 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        for index in 0..<Self.byteCount {
            guard let upper = Self.nibble(utf8[2 * index]), let lower = Self.nibble(utf8[2 * index + 1])
            else { return nil }
            bytes[index] = upper << 4 | lower
        }
        self.init(bytes: bytes)
    }

    /// The 20 bytes in order.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: (high, middle, low)) { raw in Array(raw.prefix(Self.byteCount)) }
    }

    /// The 40-character lowercase hex form.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(Self.byteCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Copies the 20 bytes to `destination`, which must have room for them.
    @inlinable
    public func store(to destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: high, as: UInt64.self)
        (destination + 8).storeBytes(of: middle, as: UInt64.self)
        (destination + 16).storeBytes(of: low, as: UInt32.self)
    }

    /// The first `length` bytes, the rest zeroed: a namespace key for prefix lookups.
    public func prefix(_ length: Int) -> ObjectID {
        var copy = self
        withUnsafeMutableBytes(of: &copy) { raw in
            for index in max(0, length)..<Self.byteCount { raw[index] = 0 }
        }
        return copy
    }

    /// Byte-wise order of the 20 bytes, which is also the order of their hex forms.
    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension ObjectID: CustomStringConvertible {
    /// The 40-character lowercase hex form (``hex``): printed ids match what `plasma list` and the logs show.
    public var description: String { hex }
}
