/// The async client's streams (``AsyncPlasmaClient/sealed(_:timeout:)``, its `events`): an
/// `AsyncSequence` whose iteration throws only ``PlasmaClientError``, like every other call.
///
/// Ending the loop (`break`, `return`, a throw) or cancelling the iterating task ends the stream and
/// withdraws what it waited for in the store. Iterate it once.
public struct PlasmaStream<Element: Sendable>: AsyncSequence, Sendable {
    /// What iterating can throw.
    public typealias Failure = PlasmaClientError

    private let base: AsyncThrowingStream<Element, any Error>

    init(_ base: AsyncThrowingStream<Element, any Error>) { self.base = base }

    /// The iterator a `for try await` loop uses.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base.makeAsyncIterator()) }

    /// Takes the stream's elements one at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        /// What `next` can throw.
        public typealias Failure = PlasmaClientError

        private var base: AsyncThrowingStream<Element, any Error>.AsyncIterator

        init(_ base: AsyncThrowingStream<Element, any Error>.AsyncIterator) { self.base = base }

        /// The next element; nil once the stream has ended.
        public mutating func next() async throws(PlasmaClientError) -> Element? {
            do { return try await base.next() } catch { throw Self.typed(error) }
        }

        /// The next element, run on `actor`; nil once the stream has ended.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(PlasmaClientError) -> Element? {
            do { return try await base.next(isolation: actor) } catch { throw Self.typed(error) }
        }

        /// The streams are only ever finished with a PlasmaClientError; anything else would be a bug here.
        private static func typed(_ error: any Error) -> PlasmaClientError {
            error as? PlasmaClientError ?? .protocolViolation("unexpected stream error: \(error)")
        }
    }
}
