import PlasmaClusterCore
import PlasmaCore

/// The store as its transfer listener sees it (``TransferObjectSource``): pins and unpins hop to the
/// loop through the cluster's mailbox; a pin blocks its transfer thread until the loop answers (nil
/// once the store has stopped). Holds only the mailbox, so it may outlive the server.
final class ClusterObjectSource: TransferObjectSource, @unchecked Sendable {
    private let mailbox: ClusterMailbox

    init(mailbox: ClusterMailbox) { self.mailbox = mailbox }

    func pin(_ id: ObjectID) -> PinnedObject? {
        let answer = LoopAnswer<PinnedObject?>()
        guard mailbox.post(.pin(id, answer)) else { return nil }
        return answer.wait()
    }

    func unpin(_ object: PinnedObject) {
        mailbox.post(.unpin(object.id))
    }
}
