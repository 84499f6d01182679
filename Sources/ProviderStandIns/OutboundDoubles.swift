import Foundation
import MoeenCore

/// Test doubles for the outbound seams (`HostResolver`, `HTTPTransport`): no DNS, no socket.

/// A resolver that answers from a script, one answer per call (the last one repeats), and counts calls.
/// No DNS is involved.
public final class ScriptedResolver: HostResolver, @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    private let lock = NSLock()
    private let answers: [[IPAddress]]
    private var asked: [String] = []

    public init(_ answers: [[String]]) {
        self.answers = answers.map { $0.compactMap(IPAddress.init) }
    }

    /// The hosts asked for, in order.
    public var hostsAsked: [String] {
        lock.lock()
        defer { lock.unlock() }
        return asked
    }

    public var calls: Int { hostsAsked.count }

    public func addresses(of host: String) async -> [IPAddress] {
        lock.withLock {
            let index = min(asked.count, answers.count - 1)
            asked.append(host)
            return index >= 0 ? answers[index] : []
        }
    }
}

/// A resolver that never answers (and ignores cancellation, as a blocked `getaddrinfo` would) until
/// `release()` is called.
public final class HangingResolver: HostResolver, @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    private let lock = NSLock()
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var released = false
    private var started = 0

    public init() {}

    public var calls: Int {
        lock.lock()
        defer { lock.unlock() }
        return started
    }

    public func addresses(of host: String) async -> [IPAddress] {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            started += 1
            if released {
                lock.unlock()
                continuation.resume()
            } else {
                waiting.append(continuation)
                lock.unlock()
            }
        }
        return [IPAddress.v4([127, 0, 0, 1])]
    }

    public func release() {
        lock.lock()
        released = true
        let continuations = waiting
        waiting = []
        lock.unlock()
        for continuation in continuations { continuation.resume() }
    }
}

/// A transport that opens no socket: records each request and answers with `reply`.
public final class RecordingTransport: HTTPTransport, @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    private let lock = NSLock()
    private var recorded: [OutboundRequest] = []
    private let reply: @Sendable (OutboundRequest) throws(TransportError) -> InboundResponse

    public init(reply: @escaping @Sendable (OutboundRequest) throws(TransportError) -> InboundResponse = { _ in
        InboundResponse(status: 200, body: Array("ok".utf8))
    }) {
        self.reply = reply
    }

    public var requests: [OutboundRequest] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    public func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse {
        lock.withLock { recorded.append(request) }
        return try reply(request)
    }
}
