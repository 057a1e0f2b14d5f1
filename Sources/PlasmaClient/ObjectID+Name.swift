import Crypto

extension ObjectID {
    /// The id every process derives from the same name: the first 20 bytes of the SHA-256 digest of
    /// the name's UTF-8 bytes.
    ///
    /// Use it when producers and consumers agree on names rather than pass ids around
    /// (`ObjectID(name: "weights/v3")`). The rule is fixed, so other languages reproduce it: in Python,
    /// `hashlib.sha256(name.encode()).digest()[:20]`. Distinct names collide with probability about
    /// n² / 2¹⁶¹ for n names; a name says nothing about the object, so anyone who knows the name can get
    /// or replace what it names (see docs/SECURITY.md).
    public init(name: some StringProtocol) {
        let digest = SHA256.hash(data: Array(name.utf8))
        self = digest.withUnsafeBytes { ObjectID(bytes: $0.prefix(ObjectID.byteCount))! }
    }
}
