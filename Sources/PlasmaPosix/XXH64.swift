/// XXH64, the checksum of spill files: fast (several GB/s per core) and with published test vectors.
/// Implemented in C (Sources/CPlasma/xxh64.c); it finds damage, it doesn't authenticate (see there).
public enum XXH64 {
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        system_xxh64(bytes, seed: seed)
    }
}
