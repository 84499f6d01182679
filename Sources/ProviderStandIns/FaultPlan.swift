import Foundation
import MoeenCore

/// Faults a stand-in injects, changeable while it runs.
///
/// Two ways to ask for a fault: the flags (`rateLimitRetryAfter` alone, `dropConnection`, `hang`) apply it to
/// every request; the rates (`errorRate`, `rateLimitRate`, `hangRate`, `dropRate`) to a share of requests. One
/// random draw per request picks at most one fault, so the shares are disjoint: with 0.2, 0.1, 0.05 and 0.05,
/// 60 % of requests reach the provider's own logic. The shares may add up to at most 1.
public struct FaultPlan: Sendable, Equatable {
    /// Added before every answer.
    public var latency: Duration = .zero
    /// Share (0…1) of requests answered with the provider's 5xx error.
    public var errorRate: Double = 0
    /// The `Retry-After` (seconds) of a 429 answer. Without `rateLimitRate`, every request is answered 429.
    public var rateLimitRetryAfter: Int?
    /// Share (0…1) of requests answered 429 (with `Retry-After: rateLimitRetryAfter` when that is set).
    public var rateLimitRate: Double?
    /// Answer headers, then close the connection mid-body: every request.
    public var dropConnection = false
    /// Share (0…1) of requests whose connection is closed mid-body.
    public var dropRate: Double = 0
    /// Never answer (until the fault is cleared, `hangFor` passes or the stand-in shuts down): every request.
    public var hang = false
    /// Share (0…1) of requests held without an answer.
    public var hangRate: Double = 0
    /// A held request is released after this long and then answered as if no fault applied (the provider was
    /// slow, not broken: a message sent that way is accepted late). `nil`: held until cleared.
    public var hangFor: Duration?
    /// Apply the faults to this many more requests only (`nil`: all).
    public var remaining: Int?
    /// Recipients (E.164 phone numbers, e-mail addresses) a messaging stand-in refuses with the provider's own
    /// permanent error on every send — never with an injected fault instead, and whatever `remaining` says.
    /// Slack webhooks have no recipient.
    public var rejectRecipients: Set<String> = []

    public init(latency: Duration = .zero, errorRate: Double = 0, rateLimitRetryAfter: Int? = nil,
                rateLimitRate: Double? = nil, dropConnection: Bool = false, dropRate: Double = 0,
                hang: Bool = false, hangRate: Double = 0, hangFor: Duration? = nil, remaining: Int? = nil,
                rejectRecipients: Set<String> = []) {
        self.latency = latency
        self.errorRate = errorRate
        self.rateLimitRetryAfter = rateLimitRetryAfter
        self.rateLimitRate = rateLimitRate
        self.dropConnection = dropConnection
        self.dropRate = dropRate
        self.hang = hang
        self.hangRate = hangRate
        self.hangFor = hangFor
        self.remaining = remaining
        self.rejectRecipients = rejectRecipients
    }

    public static let none = FaultPlan()
}

/// The one fault a request gets, if any.
public enum Fault: String, Sendable, Codable, CaseIterable {
    /// Held without an answer (`hang`, `hangRate`).
    case hang
    /// 429 with the provider's rate-limit error (`rateLimitRetryAfter`, `rateLimitRate`).
    case rateLimit = "rate_limit"
    /// The provider's 5xx error (`errorRate`).
    case serverError = "server_error"
    /// Headers, then the connection closed mid-body (`dropConnection`, `dropRate`).
    case drop
}

extension FaultPlan {
    /// Each fault's share of requests, in the order a draw is compared against them.
    public var shares: [(fault: Fault, share: Double)] {
        [
            (.hang, hang ? 1 : hangRate),
            (.rateLimit, rateLimitRate ?? (rateLimitRetryAfter == nil ? 0 : 1)),
            (.serverError, errorRate),
            (.drop, dropConnection ? 1 : dropRate),
        ]
    }

    /// The fault for a request whose random draw (in 0..<1) is `draw`: the draw falls into one fault's share
    /// or past all of them.
    public func fault(forDraw draw: Double) -> Fault? {
        var edge = 0.0
        for (fault, share) in shares where share > 0 {
            edge += share
            if draw < edge { return fault }
        }
        return nil
    }

    /// Why this plan cannot be applied, or `nil`.
    public var problem: String? {
        let rates: [(String, Double?)] = [("error_rate", errorRate), ("rate_limit_rate", rateLimitRate),
                                          ("hang_rate", hangRate), ("drop_rate", dropRate)]
        for case (let name, let rate?) in rates where !(0...1).contains(rate) {
            return "\(name) must be between 0 and 1"
        }
        let rateShares = errorRate + (rateLimitRate ?? 0) + hangRate + dropRate
        if rateShares > 1 + 1e-9 { return "error_rate + rate_limit_rate + hang_rate + drop_rate must be at most 1" }
        if let seconds = rateLimitRetryAfter, seconds < 0 { return "rate_limit_retry_after must not be negative" }
        if let remaining, remaining < 0 { return "remaining must not be negative" }
        if latency < .zero { return "latency must not be negative" }
        if let hangFor, hangFor < .zero { return "hang_for must not be negative" }
        return nil
    }
}

// MARK: - JSON (the control API's `PUT /_standin/faults`)

extension FaultPlan {
    /// A plan's problem in its JSON form.
    public struct JSONError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Every key the JSON form knows.
    static let jsonKeys: Set<String> = [
        "latency", "error_rate", "rate_limit_retry_after", "rate_limit_rate", "drop_connection", "drop_rate",
        "hang", "hang_rate", "hang_for", "remaining", "reject_recipients",
    ]

    /// Reads the JSON form: snake_case keys, durations as text (`250ms`, `3s`), every key optional (absent:
    /// no such fault). Unknown keys are refused, so a misspelt fault cannot silently not apply.
    public init(json: JSONValue, ignoring ignored: Set<String> = []) throws(JSONError) {
        guard let object = json.objectValue else { throw JSONError(description: "the fault plan must be a JSON object") }
        if let unknown = object.keys.sorted().first(where: { !Self.jsonKeys.contains($0) && !ignored.contains($0) }) {
            throw JSONError(description: "unknown fault setting \(unknown)")
        }
        self.init()
        latency = try Self.duration(object, "latency") ?? .zero
        errorRate = try Self.double(object, "error_rate") ?? 0
        rateLimitRetryAfter = try Self.int(object, "rate_limit_retry_after")
        rateLimitRate = try Self.double(object, "rate_limit_rate")
        dropConnection = try Self.bool(object, "drop_connection") ?? false
        dropRate = try Self.double(object, "drop_rate") ?? 0
        hang = try Self.bool(object, "hang") ?? false
        hangRate = try Self.double(object, "hang_rate") ?? 0
        hangFor = try Self.duration(object, "hang_for")
        remaining = try Self.int(object, "remaining")
        switch object["reject_recipients"] {
        case nil, .null?: break
        case .array(let items)?:
            for item in items {
                guard let text = item.stringValue else { throw JSONError(description: "reject_recipients must hold strings") }
                rejectRecipients.insert(text)
            }
        default: throw JSONError(description: "reject_recipients must be an array of strings")
        }
        if let problem { throw JSONError(description: problem) }
    }

    /// The JSON form `init(json:)` reads.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "latency": .string(DurationText.format(latency)),
            "error_rate": .number(String(errorRate)),
            "drop_connection": .bool(dropConnection),
            "drop_rate": .number(String(dropRate)),
            "hang": .bool(hang),
            "hang_rate": .number(String(hangRate)),
            "reject_recipients": .array(rejectRecipients.sorted().map(JSONValue.string)),
        ]
        object["rate_limit_retry_after"] = rateLimitRetryAfter.map { .number($0) } ?? .null
        object["rate_limit_rate"] = rateLimitRate.map { .number(String($0)) } ?? .null
        object["hang_for"] = hangFor.map { .string(DurationText.format($0)) } ?? .null
        object["remaining"] = remaining.map { .number($0) } ?? .null
        return .object(object)
    }

    private static func double(_ object: [String: JSONValue], _ key: String) throws(JSONError) -> Double? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let text)?:
            guard let value = Double(text) else { throw JSONError(description: "\(key) must be a number") }
            return value
        default: throw JSONError(description: "\(key) must be a number")
        }
    }

    private static func int(_ object: [String: JSONValue], _ key: String) throws(JSONError) -> Int? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let text)?:
            guard let value = Int(text) else { throw JSONError(description: "\(key) must be a whole number") }
            return value
        default: throw JSONError(description: "\(key) must be a whole number")
        }
    }

    private static func bool(_ object: [String: JSONValue], _ key: String) throws(JSONError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw JSONError(description: "\(key) must be true or false")
        }
    }

    private static func duration(_ object: [String: JSONValue], _ key: String) throws(JSONError) -> Duration? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)?:
            guard let value = DurationText.parse(text) else {
                throw JSONError(description: "\(key) must be a duration such as 250ms or 3s")
            }
            return value
        default: throw JSONError(description: "\(key) must be a duration such as 250ms or 3s")
        }
    }
}
