/// A timeout the engine must act on: a waiting get or create whose time is up.
struct Deadline: Comparable {
    enum Kind: Equatable {
        case get
        case create
    }

    let nanoseconds: UInt64
    let kind: Kind
    let key: WaitKey

    static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    static func == (lhs: Deadline, rhs: Deadline) -> Bool {
        lhs.nanoseconds == rhs.nanoseconds && lhs.kind == rhs.kind && lhs.key == rhs.key
    }
}
