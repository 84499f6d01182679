import Foundation
import Logging
import MoeenCore

/// One operation's HTTP session: checks every URL against the outbound policy, sends within
/// the operation's total deadline, maps transport failures and records redacted exchanges.
struct ProviderCall: Sendable {
    let transport: any HTTPTransport
    let policy: OutboundTargetPolicy
    let redactor: Redactor
    let timeout: Duration
    let deadline: ContinuousClock.Instant
    let logger: Logger
    private(set) var exchanges: [RecordedExchange] = []

    init(transport: any HTTPTransport, policy: OutboundTargetPolicy, secrets: [String], timeout: Duration,
         logger: Logger) {
        self.transport = transport
        self.policy = policy
        self.redactor = Redactor(secrets: secrets)
        self.timeout = timeout
        self.deadline = ContinuousClock.now + timeout
        self.logger = logger
    }

    /// Adds exchanges recorded by another session of the same operation (a shared token refresh).
    mutating func append(_ more: [RecordedExchange]) {
        exchanges += more
    }

    /// Sends `request` (its timeout replaced by what is left of the deadline) to the address the policy
    /// approved: the host is resolved once, within the deadline, and the connection is pinned to the
    /// checked address. `displayURL` replaces the URL in the record when the URL itself is a credential.
    /// Log lines and recorded errors show the URL only as `displayURL` or redacted.
    mutating func send(_ request: OutboundRequest, displayURL: String? = nil) async throws(ProviderError) -> InboundResponse {
        var request = request
        let started = ContinuousClock.now
        let shownURL = displayURL ?? redactor.redactURL(request.url)
        let target: ApprovedTarget
        do {
            target = try await policy.approve(request.url, deadline: deadline)
        } catch {
            let failure: ProviderError
            if case .resolutionTimedOut = error {
                failure = timedOut()
            } else {
                failure = ProviderError(kind: .permanent, category: .policy, message: error.message)
            }
            record(request, shownURL: shownURL, response: nil, started: started, error: failure.message)
            logger.debug("provider call refused", metadata: [
                "method": .string(request.method), "url": .string(shownURL), "error": .string(failure.message),
            ])
            throw failure
        }
        request.connectAddress = target.address
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else {
            record(request, shownURL: shownURL, response: nil, started: started, error: "timed out")
            throw timedOut()
        }
        request.timeout = remaining
        do {
            let response = try await transport.send(request)
            record(request, shownURL: shownURL, response: response, started: started, error: nil)
            logger.debug("provider call", metadata: [
                "method": .string(request.method), "url": .string(shownURL), "status": .stringConvertible(response.status),
            ])
            return response
        } catch {
            let reason = safeText(error.description, url: request.url)
            record(request, shownURL: shownURL, response: nil, started: started, error: reason)
            logger.debug("provider call failed", metadata: [
                "method": .string(request.method), "url": .string(shownURL), "error": .string(reason),
            ])
            throw map(error, url: request.url)
        }
    }

    /// `text` without the request's URL (or its path and query) and without any secret.
    func safeText(_ text: String, url: String) -> String {
        redactor.redact(Redactor.removingURL(url, from: text))
    }

    func timedOut() -> ProviderError {
        ProviderError(kind: .retryable, category: .timeout,
                      message: "The provider did not answer within \(Self.format(timeout))")
    }

    func map(_ error: TransportError, url: String) -> ProviderError {
        switch error {
        case .timedOut:
            return timedOut()
        case .connectFailed(let reason):
            return ProviderError(kind: .retryable, category: .network,
                                 message: "Could not connect to the provider: \(safeText(reason, url: url))")
        case .connectionLost(let reason):
            // AsyncHTTPClient may report an expired deadline as a lost connection.
            if ContinuousClock.now >= deadline { return timedOut() }
            return ProviderError(kind: .retryable, category: .network,
                                 message: "The connection to the provider was lost: \(safeText(reason, url: url))")
        case .responseTooLarge(let limit):
            return ProviderError(kind: .retryable, category: .invalidResponse, message: "The provider's answer was larger than \(limit) bytes")
        case .invalidURL:
            return ProviderError(kind: .permanent, category: .configuration, message: "The provider URL is invalid")
        case .notAllowed(let host, let reason):
            return ProviderError(kind: .permanent, category: .policy,
                                 message: safeText("Calls to \(host) are not allowed: \(reason)", url: url))
        }
    }

    private mutating func record(_ request: OutboundRequest, shownURL: String, response: InboundResponse?,
                                 started: ContinuousClock.Instant, error: String?) {
        let elapsed = ContinuousClock.now - started
        exchanges.append(RecordedExchange(
            method: request.method,
            url: shownURL,
            requestHeaderNames: request.headers.map(\.name),
            requestBody: request.body.map { body(from: $0, contentType: request.header("Content-Type")) },
            status: response?.status,
            responseHeaderNames: response?.headers.map(\.name) ?? [],
            responseBody: response.flatMap { $0.body.isEmpty ? nil : body(from: $0.body, contentType: $0.header("Content-Type")) },
            durationMs: Self.milliseconds(elapsed),
            error: error
        ))
    }

    /// Parses a body for the record: JSON or form as an object, other text as a (truncated) string.
    private func body(from bytes: [UInt8], contentType: String?) -> JSONValue {
        if let json = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) {
            return redactor.redact(json)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if contentType?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            var object: [String: JSONValue] = [:]
            for (name, value) in FormURLEncoding.decode(text) { object[name] = .string(value) }
            return redactor.redact(.object(object))
        }
        return .string(redactor.redact(String(text.prefix(4096))))
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    static func format(_ duration: Duration) -> String {
        let ms = milliseconds(duration)
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }
}

/// Shared helpers for building requests and reading answers.
enum HTTPHelpers {
    static let jsonContentType = ("Content-Type", "application/json")
    static let formContentType = ("Content-Type", "application/x-www-form-urlencoded")

    static func json(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }

    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// `base` without trailing slashes, joined to path segments each percent-encoded.
    static func url(_ base: String, _ segments: String...) -> String {
        var url = base
        while url.hasSuffix("/") { url.removeLast() }
        for segment in segments { url += "/" + escapeSegment(segment) }
        return url
    }

    static func escapeSegment(_ segment: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    static func basicAuth(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// `Retry-After` of the response, if present and parseable.
    static func retryAfter(_ response: InboundResponse, now: Date) -> Duration? {
        response.header("Retry-After").flatMap { RetryAfter.parse($0, now: now) }
    }
}

extension JSONValue {
    /// The value as an integer (numbers, and strings of digits).
    var intValue: Int? {
        switch self {
        case .number(let text): Int(text) ?? Double(text).map { Int($0) }
        case .string(let text): Int(text)
        default: nil
        }
    }

    /// Numbers and strings as text.
    var textValue: String? {
        switch self {
        case .number(let text), .string(let text): text
        default: nil
        }
    }
}
