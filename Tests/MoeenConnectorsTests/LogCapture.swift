import Foundation
import Logging

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
