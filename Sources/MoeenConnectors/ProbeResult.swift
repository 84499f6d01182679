import MoeenCore

/// One HTTP exchange of a probe or send, redacted for storage in the test log:
/// no secret, no `Authorization` value, no token in the URL, phones and e-mails masked.
public struct RecordedExchange: Sendable, Codable, Equatable {
    public var method: String
    /// The URL with credentials removed (for Slack, the webhook path is hidden).
    public var url: String
    /// Request header names only (values may carry credentials).
    public var requestHeaderNames: [String]
    /// The request body, redacted; JSON and form bodies as objects, other text as a string.
    public var requestBody: JSONValue?
    /// `nil` when no response arrived.
    public var status: Int?
    public var responseHeaderNames: [String]
    /// The response body, redacted.
    public var responseBody: JSONValue?
    public var durationMs: Int
    /// Why no response arrived (timeout, connection failure, policy refusal).
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case method, url, status, error
        case requestHeaderNames = "request_headers"
        case requestBody = "request_body"
        case responseHeaderNames = "response_headers"
        case responseBody = "response_body"
        case durationMs = "duration_ms"
    }
}

/// The outcome of a non-destructive connection test ("test connection").
public struct ProbeResult: Sendable {
    public var success: Bool
    /// On success, what we found; on failure, the provider's own message where it gave one.
    public var message: String
    /// The HTTP status of the deciding answer, if any.
    public var statusCode: Int?
    /// What the probe learned (e.g. `verified_name`, `quality_rating`, `status`, `type`,
    /// `scopes`, `summary`, `access_role`) and on failure `provider_error_code`.
    public var details: [String: JSONValue]
    public var error: ProviderError?
    public var exchanges: [RecordedExchange]
    public var durationMs: Int

    public init(
        success: Bool,
        message: String,
        statusCode: Int? = nil,
        details: [String: JSONValue] = [:],
        error: ProviderError? = nil,
        exchanges: [RecordedExchange] = [],
        durationMs: Int = 0
    ) {
        self.success = success
        self.message = message
        self.statusCode = statusCode
        self.details = details
        self.error = error
        self.exchanges = exchanges
        self.durationMs = durationMs
    }

    /// `success`, `failed` or `timeout`, as `integration_test_logs.status` and TestResult want it.
    public var status: String {
        if success { return "success" }
        return error?.isTimeout == true ? "timeout" : "failed"
    }

    /// A failed result carrying `error`.
    static func failure(_ error: ProviderError, details: [String: JSONValue] = [:]) -> ProbeResult {
        var details = details
        if let code = error.code, details["provider_error_code"] == nil {
            details["provider_error_code"] = Int(code).map(JSONValue.number) ?? .string(code)
        }
        return ProbeResult(success: false, message: error.message, statusCode: error.httpStatus, details: details,
                           error: error)
    }
}
