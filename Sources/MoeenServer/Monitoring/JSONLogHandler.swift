import Foundation
import Logging
import Synchronization

/// `LOG_FORMAT`: `text` (default, human-readable) or `json` (one object per line, for log shippers).
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json

    /// `LOG_FORMAT` from the environment; unset is `text`, anything unknown stops the start naming it.
    public static func parse(_ env: [String: String]) throws(ConfigurationError) -> LogFormat {
        guard let raw = MoeenConfiguration.nonEmpty(env["LOG_FORMAT"]) else { return .text }
        guard let format = LogFormat(rawValue: raw.lowercased()) else {
            throw ConfigurationError(variable: "LOG_FORMAT", message: "must be text or json (got \"\(raw)\")")
        }
        return format
    }

    /// A handler for `label` in this format, writing to stderr (command output on stdout stays clean).
    public func makeHandler(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler(label: label, metadataProvider: LoggingSystem.metadataProvider, write: JSONLogHandler.standardError)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes each log event as one JSON object on one line:
/// `{"time":"2026-11-29T15:40:37.123456Z","level":"info","label":"codes.vapor.request","source":"Vapor",
/// "message":"GET /health","request_id":"…", …metadata}`.
///
/// `time` is RFC 3339 in UTC with microseconds; Vapor's `request-id` metadata becomes `request_id`; every
/// other metadata key is kept as it is (nested dictionaries and arrays as JSON), except one that would
/// overwrite a field above, which gets a `metadata.` prefix. The handler only formats: what reaches it was
/// already masked by the code that logged it and, for the database layers, by `BindFreeLogHandler`.
public struct JSONLogHandler: LogHandler {
    public let label: String
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    /// Receives each finished line (without its newline).
    let write: @Sendable (String) -> Void

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The fields every line has; metadata keys equal to one of them are prefixed.
    static let reserved: Set<String> = ["time", "level", "label", "source", "message", "request_id", "error", "error_type"]

    public func log(event: LogEvent) {
        write(Self.line(event, label: label, base: metadata, provided: metadataProvider?.get() ?? [:], now: Date()))
    }

    /// The JSON text of one event (no newline).
    static func line(_ event: LogEvent, label: String, base: Logger.Metadata, provided: Logger.Metadata, now: Date) -> String {
        var merged = base
        merged.merge(provided) { _, new in new }
        merged.merge(event.metadata ?? [:]) { _, new in new }
        var out = "{"
        out += "\"time\":" + JSONText.string(Self.timestamp(now))
        out += ",\"level\":" + JSONText.string(event.level.rawValue)
        out += ",\"label\":" + JSONText.string(label)
        out += ",\"source\":" + JSONText.string(event.source)
        out += ",\"message\":" + JSONText.string(event.message.description)
        if let requestID = merged.removeValue(forKey: "request-id") {
            out += ",\"request_id\":" + JSONText.value(requestID)
        }
        if let error = event.error {
            out += ",\"error\":" + JSONText.string(String(describing: error))
            out += ",\"error_type\":" + JSONText.string(String(reflecting: type(of: error)))
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            let name = reserved.contains(key) ? "metadata." + key : key
            out += "," + JSONText.string(name) + ":" + JSONText.value(value)
        }
        return out + "}"
    }

    /// RFC 3339, UTC, microseconds: `2026-11-29T15:40:37.123456Z`.
    static func timestamp(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        var micros = Int(((interval - Double(seconds)) * 1_000_000).rounded())
        if micros >= 1_000_000 {
            seconds += 1
            micros -= 1_000_000
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(micros, 6))Z"
    }

    /// Serialises whole lines to stderr, so lines from concurrent loggers never interleave.
    static let standardError: @Sendable (String) -> Void = { line in
        stderrLock.withLock { _ in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    private static let stderrLock = Mutex(())
}

/// Minimal JSON writing for log lines: strings escaped per RFC 8259, metadata values as JSON.
enum JSONText {
    static func value(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return string(text)
        case .stringConvertible(let convertible): return string(convertible.description)
        case .array(let items): return "[" + items.map(Self.value).joined(separator: ",") + "]"
        case .dictionary(let entries):
            return "{" + entries.sorted { $0.key < $1.key }.map { string($0.key) + ":" + Self.value($0.value) }.joined(separator: ",") + "}"
        }
    }

    static func string(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
