import Foundation

/// Removes secrets and personal data from text, JSON, URLs and headers before they are
/// logged or stored (test logs, audit logs, exchanges).
///
/// - Every given secret string is replaced by `[REDACTED]` wherever it appears.
/// - `Authorization: …`, `Bearer …` and `Basic …` values become `[REDACTED]`.
/// - Query parameters that carry credentials (`access_token`, `token`, `key`, `api_key`,
///   `client_secret`, `refresh_token`, `signature`, `sig`, `password`, `code`…) become `[REDACTED]`.
/// - Phone numbers written `+` and 8–15 digits keep their last four digits (`+*******4567`);
///   JSON values under phone-like keys (`to`, `from`, `phone`, `wa_id`…) are masked the same way.
/// - E-mail addresses keep the first letter and the domain (`a***@example.org`).
/// - JSON values under secret-like keys (`access_token`, `auth_token`, `api_key`, `password`…)
///   become `[REDACTED]` whatever they contain.
public struct Redactor: Sendable {
    public static let mask = "[REDACTED]"

    /// Extra strings to remove (the integration's secret setting values).
    public var secrets: [String]

    public init(secrets: [String] = []) {
        // A secret URL (a Slack webhook) is secret in every form an error may quote it: whole, as its
        // path and query, and percent-decoded.
        var expanded: [String] = []
        for secret in secrets {
            expanded.append(secret)
            expanded += Self.secretParts(ofURL: secret)
        }
        // Longest first so a secret containing another is removed whole; ignore trivially short ones.
        self.secrets = Array(Set(expanded.filter { $0.count >= 4 })).sorted { $0.count > $1.count || ($0.count == $1.count && $0 < $1) }
    }

    /// The path-and-query of an http(s) URL with a non-trivial path, as written and percent-decoded.
    static func secretParts(ofURL text: String) -> [String] {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host != nil
        else { return [] }
        var parts: [String] = []
        let path = components.percentEncodedPath
        if path.count > 1 {
            parts.append(path)
            if let decoded = path.removingPercentEncoding, decoded != path { parts.append(decoded) }
        }
        if let query = components.percentEncodedQuery, !query.isEmpty { parts.append(query) }
        return parts
    }

    /// Keys whose values are always removed from JSON.
    public static let secretKeys: Set<String> = [
        "access_token", "auth_token", "api_key", "apikey", "client_secret", "refresh_token", "id_token",
        "app_secret", "signing_secret", "webhook_verify_token", "webhook_url", "password", "secret",
        "authorization", "token", "private_key",
    ]
    /// Keys whose values are phone numbers.
    public static let phoneKeys: Set<String> = [
        "to", "from", "phone", "phone_number", "wa_id", "recipient_id", "input", "display_phone_number",
        "from_number", "caller", "called",
    ]
    /// Query parameter names whose values are credentials.
    public static let secretQueryNames: Set<String> = [
        "access_token", "token", "key", "api_key", "apikey", "client_secret", "refresh_token", "signature",
        "sig", "password", "code", "auth", "hub.verify_token",
    ]

    /// The text with secrets, credentials, phone numbers and e-mail addresses masked.
    public func redact(_ text: String) -> String {
        var out = text
        for secret in secrets where out.contains(secret) { out = out.replacingOccurrences(of: secret, with: Self.mask) }
        // Each pattern runs only when the text holds what it looks for: most strings hold none of it, and
        // regular expressions are by far the costliest part of redacting a test log.
        if out.range(of: "authorization", options: .caseInsensitive) != nil {
            out = out.replacing(#/(?i)(authorization"?\s*[:=]\s*"?)[^"\r\n,}]+/#) { match in
                "\(match.output.1)\(Self.mask)"
            }
        }
        if out.range(of: "bearer", options: .caseInsensitive) != nil || out.range(of: "basic", options: .caseInsensitive) != nil {
            out = out.replacing(#/(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+\/=]{4,}/#) { match in
                "\(match.output.1) \(Self.mask)"
            }
        }
        if out.contains("="), out.contains(where: { $0 == "?" || $0 == "&" || $0 == ";" }) {
            out = out.replacing(#/([?&;])([A-Za-z0-9_.\-]+)=([^&#\s"']*)/#) { match in
                let name = String(match.output.2)
                guard Self.secretQueryNames.contains(name.lowercased()), !match.output.3.isEmpty else {
                    return String(match.output.0)
                }
                return "\(match.output.1)\(name)=\(Self.mask)"
            }
        }
        if out.contains("@") {
            out = out.replacing(#/([A-Za-z0-9._%+\-]+)@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)/#) { match in
                Self.maskEmail(String(match.output.0))
            }
        }
        if out.contains("+") {
            out = out.replacing(#/(^|[^\w+])(\+\d{8,15})(?!\d)/#) { match in
                "\(match.output.1)\(Self.maskPhone(String(match.output.2)))"
            }
        }
        return out
    }

    /// The JSON with secret-keyed values removed, phone-keyed values masked and every string redacted.
    public func redact(_ json: JSONValue) -> JSONValue {
        switch json {
        case .string(let text):
            return .string(redact(text))
        case .array(let items):
            return .array(items.map(redact))
        case .object(let members):
            var out: [String: JSONValue] = [:]
            for (key, value) in members {
                let lower = key.lowercased()
                if Self.secretKeys.contains(lower) {
                    out[key] = value.isNull ? .null : .string(Self.mask)
                } else if Self.phoneKeys.contains(lower), case .string(let text) = value {
                    out[key] = .string(text.contains("@") ? redact(text) : Self.maskPhone(text))
                } else {
                    out[key] = redact(value)
                }
            }
            return .object(out)
        default:
            return json
        }
    }

    /// The URL with credential query parameters and secrets removed (path kept).
    public func redactURL(_ url: String) -> String {
        redact(url)
    }

    /// Scheme, host and port of a URL (`https://hooks.slack.com:443`), for messages about a call that
    /// must not quote its path or query; `invalid URL` when it has no host.
    public static func endpoint(of url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            return "invalid URL"
        }
        let port = components.port.map { ":\($0)" } ?? ""
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(components.scheme ?? "?")://\(shownHost)\(port)"
    }

    /// `text` with every quotation of `url` replaced by its endpoint, and its path and query (as written
    /// or percent-decoded) replaced by `…`: for error descriptions from HTTP libraries.
    public static func removingURL(_ url: String, from text: String) -> String {
        guard !url.isEmpty else { return text }
        var out = text.replacingOccurrences(of: url, with: endpoint(of: url))
        for part in secretParts(ofURL: url).sorted(by: { $0.count > $1.count }) where part.count >= 4 {
            out = out.replacingOccurrences(of: part, with: "…")
        }
        return out
    }

    /// Header names and values with `Authorization`, cookies and API-key headers removed.
    public func redactHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        headers.map { header in
            let lower = header.name.lowercased()
            if ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"].contains(lower) {
                return (header.name, Self.mask)
            }
            return (header.name, redact(header.value))
        }
    }

    /// `+9665******4567`-style mask keeping the last four digits (and a leading `+`).
    public static func maskPhone(_ phone: String) -> String {
        let digits = phone.filter(\.isASCIIDigit)
        guard digits.count > 4 else { return String(repeating: "*", count: digits.count) }
        let prefix = phone.hasPrefix("+") ? "+" : ""
        return prefix + String(repeating: "*", count: digits.count - 4) + digits.suffix(4)
    }

    /// `a***@example.org`: first character of the local part, then the domain.
    public static func maskEmail(_ email: String) -> String {
        guard let at = email.firstIndex(of: "@"), at > email.startIndex else { return email }
        return "\(email[email.startIndex])***\(email[at...])"
    }
}
