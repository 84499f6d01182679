import Foundation
import Logging
import Synchronization

/// Captures every log line of the test process (all levels, with metadata) so tests can prove that a
/// secret never reaches the log. Bootstrapped once, before the first test application is made.
final class LogCapture: Sendable {
    static let shared: LogCapture = {
        let capture = LogCapture()
        LoggingSystem.bootstrap { label in CapturingHandler(label: label, capture: capture) }
        return capture
    }()

    private let lines = Mutex<[String]>([])

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    /// Every line captured so far, joined.
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

struct CapturingHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        capture.append("\(event.level) \(label): \(event.message) \(merged)")
    }
}
