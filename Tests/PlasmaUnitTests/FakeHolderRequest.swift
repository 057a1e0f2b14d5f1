import PlasmaPosix
@testable import PlasmaTransfer

/// The start of every fake holder the transfer tests write: accept one connection, prove the token
/// as node "a", and read one request. Nil when the puller went away before that.
func acceptOneRequest(on listener: TCPSocket) -> (socket: TCPSocket, session: TransferSession)? {
    guard let (socket, _) = try? listener.accept() else { return nil }
    let handshake = TransferHandshake(token: TransferTests.token, nodeName: "a")
    var request = [UInt8](repeating: 0, count: TransferWire.requestBytes + TransferWire.macBytes)
    guard let (_, session) = try? handshake.runAsServer(on: socket, before: MonotonicClock.nanoseconds() + 30_000_000_000),
          (try? socket.receiveExactly(&request)) != nil
    else {
        socket.close()
        return nil
    }
    return (socket, session)
}
