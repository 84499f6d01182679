import Foundation
import Testing
@testable import MoeenServer
import Vapor
import VaporTesting

/// A strict reader of the Prometheus text format (0.0.4), for tests: every line is a `# HELP`, a `# TYPE` or a
/// sample, names and label names follow the grammar, label values use only the allowed escapes, every sample
/// belongs to a family whose `# TYPE` came first, no family is typed twice and no series appears twice.
struct MetricsExposition {
    struct Sample: Sendable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    struct Malformed: Error, CustomStringConvertible {
        let line: String
        let reason: String
        var description: String { "\(reason): \(line)" }
    }

    private(set) var types: [String: String] = [:]
    private(set) var samples: [Sample] = []

    init(_ text: String) throws {
        var seen = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.isEmpty { continue }
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst("# HELP ".count)
                let name = String(rest.prefix { $0 != " " })
                guard Self.isMetricName(name) else { throw Malformed(line: line, reason: "bad name in HELP") }
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst("# TYPE ".count).split(separator: " ").map(String.init)
                guard parts.count == 2, Self.isMetricName(parts[0]),
                      ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1])
                else { throw Malformed(line: line, reason: "bad TYPE line") }
                guard types[parts[0]] == nil else { throw Malformed(line: line, reason: "family typed twice") }
                types[parts[0]] = parts[1]
                continue
            }
            if line.hasPrefix("#") { continue }
            let sample = try Self.sample(line)
            guard family(of: sample.name) != nil else { throw Malformed(line: line, reason: "sample before its TYPE") }
            let key = sample.name + "|" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            guard seen.insert(key).inserted else { throw Malformed(line: line, reason: "series repeated") }
            samples.append(sample)
        }
    }

    /// The family a sample name belongs to (`x_bucket`, `x_sum`, `x_count` of a histogram `x`).
    func family(of name: String) -> String? {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return nil
    }

    /// The value of the one series of `name` whose labels include `labels`; nil when there is none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = series(name, labels)
        return matching.isEmpty ? nil : matching.map(\.value).reduce(0, +)
    }

    func series(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }

    /// Every label value of every sample (`le` included).
    var labelValues: [String] { samples.flatMap { $0.labels.values } }

    // MARK: - Grammar

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOrUnderscore || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOrUnderscore || $0 == ":" || ("0"..."9").contains($0) }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOrUnderscore else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOrUnderscore || ("0"..."9").contains($0) }
    }

    static func sample(_ line: String) throws -> Sample {
        var rest = Substring(line)
        let name = String(rest.prefix { $0 != "{" && $0 != " " })
        guard isMetricName(name) else { throw Malformed(line: line, reason: "bad metric name") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(rest.prefix { $0 != "=" })
                guard isLabelName(label), labels[label] == nil else { throw Malformed(line: line, reason: "bad or repeated label name") }
                rest = rest.dropFirst(label.count)
                guard rest.hasPrefix("=\"") else { throw Malformed(line: line, reason: "label without a quoted value") }
                rest = rest.dropFirst(2)
                var value = ""
                while true {
                    guard let character = rest.first else { throw Malformed(line: line, reason: "unterminated label value") }
                    rest = rest.dropFirst()
                    if character == "\"" { break }
                    if character == "\\" {
                        guard let escaped = rest.first, ["\\", "\"", "n"].contains(escaped) else {
                            throw Malformed(line: line, reason: "bad escape in a label value")
                        }
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(character)
                    }
                }
                labels[label] = value
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" {
                    throw Malformed(line: line, reason: "labels not separated by commas")
                }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Malformed(line: line, reason: "no space before the value") }
        let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(fields.count), let value = number(String(fields[0])) else {
            throw Malformed(line: line, reason: "bad value")
        }
        if fields.count == 2, Int64(fields[1]) == nil { throw Malformed(line: line, reason: "bad timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    static func number(_ text: String) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetterOrUnderscore: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_" }
}

extension Application {
    /// `GET /metrics` with an optional bearer token: the status, the body and the headers.
    func scrapeMetrics(token: String? = nil) async throws -> (status: HTTPStatus, text: String, headers: HTTPHeaders) {
        var headers = HTTPHeaders()
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        var result: (HTTPStatus, String, HTTPHeaders) = (.internalServerError, "", [:])
        try await testing().test(.GET, "metrics", headers: headers) { res async throws in
            result = (res.status, res.body.string, res.headers)
        }
        return result
    }

    /// A successful scrape, parsed strictly; the database may take `databaseTimeout` (generous: a busy machine
    /// must not turn a slow answer into a missing one).
    func metricsExposition(token: String? = nil, databaseTimeout: Duration = .seconds(60),
                           sourceLocation: SourceLocation = #_sourceLocation) async throws -> MetricsExposition {
        metrics.scrapeTimeout = databaseTimeout
        let scraped = try await scrapeMetrics(token: token)
        #expect(scraped.status == .ok, "\(scraped.text)", sourceLocation: sourceLocation)
        #expect(scraped.headers.first(name: .contentType)?.hasPrefix("text/plain; version=0.0.4") == true, sourceLocation: sourceLocation)
        return try MetricsExposition(scraped.text)
    }
}
