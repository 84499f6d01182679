import Foundation
import Logging
import MoeenCore

/// A resolver that answers from a script, one answer per call (the last one repeats), and counts calls.
/// No DNS is involved.
final class ScriptedResolver: HostResolver, @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    private let lock = NSLock()
    private let answers: [[IPAddress]]
    private var asked: [String] = []

    init(_ answers: [[String]]) {
        self.answers = answers.map { $0.compactMap(IPAddress.init) }
    }

    /// The hosts asked for, in order.
    var hostsAsked: [String] {
        lock.lock()
        defer { lock.unlock() }
        return asked
    }

    var calls: Int { hostsAsked.count }

    func addresses(of host: String) async -> [IPAddress] {
        lock.withLock {
            let index = min(asked.count, answers.count - 1)
            asked.append(host)
            return index >= 0 ? answers[index] : []
        }
    }
}

/// A resolver that never answers (and ignores cancellation, as a blocked `getaddrinfo` would) until
/// `release()` is called.
final class HangingResolver: HostResolver, @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    private let lock = NSLock()
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var released = false
    private var started = 0

    var calls: Int {
        lock.lock()
        defer { lock.unlock() }
        return started
    }

    func addresses(of host: String) async -> [IPAddress] {
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

    func release() {
        lock.lock()
        released = true
        let continuations = waiting
        waiting = []
        lock.unlock()
        for continuation in continuations { continuation.resume() }
    }
}

/// A transport that opens no socket: records each request and answers with `reply`.
final class RecordingTransport: HTTPTransport, @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    private let lock = NSLock()
    private var recorded: [OutboundRequest] = []
    private let reply: @Sendable (OutboundRequest) throws(TransportError) -> InboundResponse

    init(reply: @escaping @Sendable (OutboundRequest) throws(TransportError) -> InboundResponse = { _ in
        InboundResponse(status: 200, body: Array("ok".utf8))
    }) {
        self.reply = reply
    }

    var requests: [OutboundRequest] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse {
        lock.withLock { recorded.append(request) }
        return try reply(request)
    }
}

/// Log lines kept in memory, so a test can check what a `Logger` wrote (at every level).
final class LogCapture: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `lock`.
    private let lock = NSLock()
    private var recorded: [String] = []

    /// A logger at `trace` level that writes here.
    func logger(label: String = "moeen.connectors.tests") -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Every line: level, message, all metadata and any attached error.
    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    var text: String { lines.joined(separator: "\n") }

    fileprivate func append(_ line: String) {
        lock.lock()
        recorded.append(line)
        lock.unlock()
    }
}

private struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let error = event.error.map { " error=\(String(describing: $0))" } ?? ""
        capture.append("\(event.level) \(event.message) \(fields)\(error)")
    }
}
