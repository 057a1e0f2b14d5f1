import CPlasma

/// XXH64, the checksum of spill files and of pulled copies: fast (several GB/s per core) and with
/// published test vectors. Implemented in C (Sources/CPlasma/xxh64.c); it finds damage, it doesn't
/// authenticate (see there).
public enum XXH64 {
    /// The XXH64 of `bytes` in one pass.
    ///
    /// The corresponding C function is `plasma_xxh64`.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        system_xxh64(bytes, seed: seed)
    }

    /// A hash fed piece by piece (an object hashed chunk by chunk as it arrives, while the bytes are
    /// still in cache): ``digest`` equals ``XXH64/hash(_:seed:)`` of all the pieces concatenated.
    public struct Stream: Sendable {
        private var state = plasma_xxh64_state_t()

        /// A new hash with `seed`.
        public init(seed: UInt64 = 0) {
            system_xxh64_reset(&state, seed: seed)
        }

        /// Adds `bytes`.
        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            system_xxh64_update(&state, bytes)
        }

        /// The hash of everything added so far.
        public var digest: UInt64 {
            var copy = state
            return system_xxh64_digest(&copy)
        }
    }

    /// Two hashes of the same bytes under two seeds, fed in one pass: each 8-byte word is read and
    /// multiplied once for both (about 1.5 times the cost of one hash rather than twice). A pulled
    /// copy needs two: the per-pull seeded one its trailer authenticates, and its checksum (seed 0).
    public struct Pair: Sendable {
        private var first = plasma_xxh64_state_t()
        private var second = plasma_xxh64_state_t()

        /// Two new hashes with these seeds.
        public init(seeds: (first: UInt64, second: UInt64)) {
            system_xxh64_reset(&first, seed: seeds.first)
            system_xxh64_reset(&second, seed: seeds.second)
        }

        /// Adds `bytes` to both.
        ///
        /// The corresponding C function is `plasma_xxh64_update2`.
        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            system_xxh64_update2(&first, &second, bytes)
        }

        /// The two hashes of everything added so far, in the order of the seeds.
        public var digests: (first: UInt64, second: UInt64) {
            var (a, b) = (first, second)
            return (system_xxh64_digest(&a), system_xxh64_digest(&b))
        }
    }
}
