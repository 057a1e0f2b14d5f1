/// SplitMix64: a small seeded generator, so that a randomized test that fails reproduces. One copy for
/// every test target (a test target can't share a source file with another).
public struct SeededRandom: RandomNumberGenerator {
    /// The generator's whole state: the seed, advanced by each draw.
    public var state: UInt64

    /// A generator whose draws depend on `seed` alone.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
