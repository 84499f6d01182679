import Foundation
import Logging
@testable import MoeenServer
import Synchronization
import Testing

/// Collects the lines a `JSONLogHandler` writes.
final class LineSink: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func logger(_ label: String = "moeen.test", level: Logger.Level = .trace, wrap: (any LogHandler) -> any LogHandler = { $0 }) -> Logger {
        Logger(label: label) { label in
            var handler = JSONLogHandler(label: label, write: { line in self.lines.withLock { $0.append(line) } })
            handler.logLevel = level
            return wrap(handler)
        }
    }

    /// Each line parsed as a JSON object (a line that is not one fails the test).
    func objects(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        try all.map { line in
            #expect(!line.contains("\n"), "one object per line", sourceLocation: sourceLocation)
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], sourceLocation: sourceLocation)
        }
    }
}

@Suite("LOG_FORMAT=json")
struct LogFormatTests {
    @Test("LOG_FORMAT is text by default, json on request, and anything else stops the start naming it")
    func parsing() throws {
        #expect(try LogFormat.parse([:]) == .text)
        #expect(try LogFormat.parse(["LOG_FORMAT": " "]) == .text)
        #expect(try LogFormat.parse(["LOG_FORMAT": "json"]) == .json)
        #expect(try LogFormat.parse(["LOG_FORMAT": "JSON"]) == .json)
        #expect(try LogFormat.parse(["LOG_FORMAT": "text"]) == .text)
        #expect(try MoeenConfiguration.parse(environment: ["LOG_FORMAT": "json"], environmentName: "testing").logFormat == .json)
        #expect(try MoeenConfiguration.parse(environment: [:], environmentName: "testing").logFormat == .text)
        #expect(throws: ConfigurationError.self) { try LogFormat.parse(["LOG_FORMAT": "xml"]) }
        do {
            _ = try MoeenConfiguration.parse(environment: ["LOG_FORMAT": "logfmt"], environmentName: "testing")
            Issue.record("a bad LOG_FORMAT was accepted")
        } catch {
            #expect(error.variable == "LOG_FORMAT")
            #expect(error.description.contains("logfmt"))
        }
    }

    @Test("each event is one JSON object: time, level, label, source, message, request_id and the metadata as keys")
    func fields() throws {
        let sink = LineSink()
        var logger = sink.logger("codes.vapor.request")
        logger[metadataKey: "request-id"] = "6B1E0C2A-REQUEST"
        logger.info("GET /api/messages \"quoted\"\nsecond line\u{01}", metadata: [
            "integration": "int_20261129_abc", "attempts": .stringConvertible(3),
            "nested": ["list": ["a", "b"], "flag": "yes"], "time": "a colliding key",
        ])
        logger.debug("below the level of nothing", metadata: nil)
        let objects = try sink.objects()
        #expect(objects.count == 2)
        let first = try #require(objects.first)
        #expect(first["level"] as? String == "info")
        #expect(first["message"] as? String == "GET /api/messages \"quoted\"\nsecond line\u{01}")
        #expect(first["label"] as? String == "codes.vapor.request")
        #expect((first["source"] as? String)?.isEmpty == false)
        #expect(first["request_id"] as? String == "6B1E0C2A-REQUEST")
        #expect(first["request-id"] == nil)
        #expect(first["integration"] as? String == "int_20261129_abc")
        #expect(first["attempts"] as? String == "3")
        let nested = try #require(first["nested"] as? [String: Any])
        #expect(nested["list"] as? [String] == ["a", "b"])
        #expect(first["metadata.time"] as? String == "a colliding key")

        // RFC 3339, UTC, fractional seconds, and it reads back as a date.
        let time = try #require(first["time"] as? String)
        #expect(time.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"#, options: .regularExpression) != nil, "\(time)")
        let reader = ISO8601DateFormatter()
        reader.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(reader.date(from: time) != nil, "\(time)")
        #expect(objects[1]["level"] as? String == "debug")
        #expect(objects[1]["request_id"] as? String == "6B1E0C2A-REQUEST")
    }

    @Test("timestamps are exact, in UTC, to the microsecond")
    func timestamps() {
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 1_800_000_000.5)) == "2027-01-15T08:00:00.500000Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 1_800_000_000.9999999)) == "2027-01-15T08:00:01.000000Z")
    }

    @Test("the level filter applies and the database layers' values stay out, as with the text format")
    func redactionStillApplies() throws {
        let sink = LineSink()
        let quiet = sink.logger(level: .notice)
        quiet.info("not written")
        quiet.notice("written")
        // The handler every database gets wraps the base handler: the JSON one is wrapped the same way.
        let database = sink.logger("sql", wrap: { BindFreeLogHandler(base: $0) })
        database.debug("Executing query", metadata: ["sql": "SELECT * FROM outbound_messages WHERE recipient = $1",
                                                     "binds": "[\"+966551234567\"]"])
        let objects = try sink.objects()
        #expect(objects.map { $0["message"] as? String } == ["written", "Executing query"])
        #expect(objects[1]["sql"] as? String != nil)
        #expect(objects[1]["binds"] == nil)
        #expect(!sink.all.joined().contains("966551234567"))
    }

    @Test("the text format stays the human-readable default")
    func textFormat() {
        #expect(LogFormat.text.makeHandler(label: "moeen", level: .info) is StreamLogHandler)
        let json = LogFormat.json.makeHandler(label: "moeen", level: .warning)
        #expect(json is JSONLogHandler)
        #expect(json.logLevel == .warning)
    }
}
