import MoeenCore

/// Every connector failure as one value: whether to retry, why, and the provider's own words.
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Whether trying again later can succeed.
    public enum Kind: String, Sendable, Codable {
        /// Bad credentials, bad recipient, bad request, missing permission: don't retry.
        case permanent
        /// Rate limits, 5xx, network errors, timeouts: retry with backoff, never before `retryAfter`.
        case retryable
    }

    /// What went wrong, independent of the provider.
    public enum Category: String, Sendable, Codable {
        case credentials
        case forbidden
        case recipient
        case rateLimited
        case server
        case network
        case timeout
        case badRequest
        case notFound
        /// The integration's settings are incomplete or invalid (nothing was sent).
        case configuration
        /// The outbound URL policy refused the target (nothing was sent).
        case policy
        /// The provider answered something we could not understand.
        case invalidResponse
    }

    public var kind: Kind
    public var category: Category
    /// The provider's own message where it gave one, otherwise ours.
    public var message: String
    /// The provider's error code (`190`, `20003`, `invalid_grant`, `channel_not_found`…).
    public var code: String?
    public var httpStatus: Int?
    /// The earliest time to try again, when the provider said.
    public var retryAfter: Duration?

    public init(
        kind: Kind,
        category: Category,
        message: String,
        code: String? = nil,
        httpStatus: Int? = nil,
        retryAfter: Duration? = nil
    ) {
        self.kind = kind
        self.category = category
        self.message = message
        self.code = code
        self.httpStatus = httpStatus
        self.retryAfter = retryAfter
    }

    /// `true` when the provider did not answer within the total timeout.
    public var isTimeout: Bool { category == .timeout }
    public var isRetryable: Bool { kind == .retryable }

    public var description: String {
        var text = "\(kind.rawValue) \(category.rawValue): \(message)"
        if let code { text += " (code \(code))" }
        if let httpStatus { text += " [HTTP \(httpStatus)]" }
        return text
    }

    /// A missing or invalid setting, detected before any request.
    static func configuration(_ message: String) -> ProviderError {
        ProviderError(kind: .permanent, category: .configuration, message: message)
    }

    /// The default mapping by HTTP status, for answers without a recognised provider code.
    static func byStatus(
        _ status: Int, message: String, code: String? = nil, retryAfter: Duration? = nil
    ) -> ProviderError {
        switch status {
        case 401:
            return ProviderError(kind: .permanent, category: .credentials, message: message, code: code, httpStatus: status)
        case 403:
            return ProviderError(kind: .permanent, category: .forbidden, message: message, code: code, httpStatus: status)
        case 404, 410:
            return ProviderError(kind: .permanent, category: .notFound, message: message, code: code, httpStatus: status)
        case 408:
            return ProviderError(kind: .retryable, category: .timeout, message: message, code: code, httpStatus: status,
                                 retryAfter: retryAfter)
        case 429:
            return ProviderError(kind: .retryable, category: .rateLimited, message: message, code: code, httpStatus: status,
                                 retryAfter: retryAfter)
        case 500...599:
            return ProviderError(kind: .retryable, category: .server, message: message, code: code, httpStatus: status,
                                 retryAfter: retryAfter)
        default:
            return ProviderError(kind: .permanent, category: .badRequest, message: message, code: code, httpStatus: status)
        }
    }
}
