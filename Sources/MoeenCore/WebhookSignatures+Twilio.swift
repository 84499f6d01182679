import Crypto
import Foundation

/// Twilio's `X-Twilio-Signature`, checked as Twilio's own `RequestValidator` (twilio-python
/// `twilio/request_validator.py`, twilio-node `src/webhooks/webhooks.ts`) checks it:
///
/// - The signed text is the URL Twilio called (scheme, host, path and query, exactly as configured) followed,
///   for a form post, by every parameter as name + value, sorted by name and then by value, a name/value pair
///   repeated verbatim counting once. The signature is base64 of HMAC-SHA1(auth token, that text).
/// - The URL is tried as given, with its port removed (whatever port it names) and, when it names none, with
///   the scheme's default port added (`:443` for https, `:80` otherwise): Twilio's signing is inconsistent about
///   default ports, so a signature over any of these passes.
/// - A non-form body (JSON) is covered through the URL: Twilio adds `bodySHA256=<hex SHA-256 of the body>` to
///   the query and signs the URL alone; the body's hash must match it.
///
/// Not taken over from twilio-node: its extra attempt with the query re-encoded by Node's legacy `querystring`,
/// which only undoes its own URL parser's re-encoding; here the URL is used exactly as received, as in Python.
///
/// Stricter than the SDKs where they leave the body unchecked: a non-empty body that is neither a form nor
/// covered by `bodySHA256` is refused, and a URL with `bodySHA256` is always checked against the body.
extension WebhookSignatures {
    /// Longer URLs are refused as `.malformed`.
    public static let maximumURLLength = 8192

    /// Checks a Twilio webhook.
    ///
    /// - Parameters:
    ///   - url: the full URL Twilio called: the public base URL (`MOEEN_PUBLIC_URL`) + the request's path and
    ///     query exactly as received (not re-encoded).
    ///   - body: the raw body. A form (`application/x-www-form-urlencoded`) is decoded here, so the parameters
    ///     checked are exactly the bytes received.
    ///   - contentType: the request's `Content-Type`.
    ///   - header: `X-Twilio-Signature`.
    public static func verifyTwilio(
        url: String, body: some Collection<UInt8>, contentType: String?, header: String?, authToken: String
    ) throws(WebhookSignatureError) {
        let key = try key(authToken, name: "auth token")
        let sent = try headerValue(header, name: HeaderName.twilio)
        guard sent.utf8.count == 28, let raw = Data(base64Encoded: String(sent)), raw.count == Insecure.SHA1.byteCount else {
            throw .malformed("\(HeaderName.twilio) is not base64 of an HMAC-SHA1")
        }
        guard url.utf8.count <= maximumURLLength else { throw .malformed("the URL is longer than \(maximumURLLength) bytes") }
        let urls = try twilioURLVariants(url)

        let pairs: [TwilioPair]
        var bodyMatches = true
        if let bodyHash = try twilioBodySHA256Parameter(url) {
            pairs = []
            var hash = SHA256()
            feed(body) { hash.update(bufferPointer: $0) }
            bodyMatches = constantTimeEquals(bodyHash, Array(hash.finalize()))
        } else if isFormContentType(contentType) {
            pairs = formPairs(Array(body))
        } else if body.isEmpty {
            pairs = []
        } else {
            throw .malformed("a body that is not a form must be covered by bodySHA256 in the URL")
        }

        var matched = false
        for candidate in urls {
            matched = constantTimeEquals(sent.utf8, twilioSignature(key: key, url: candidate, pairs: pairs).utf8) || matched
        }
        guard matched, bodyMatches else { throw .mismatch }
    }

    /// The `X-Twilio-Signature` Twilio would send for a form post of `formParameters` to `url` (for a JSON body,
    /// pass the URL carrying `bodySHA256` — see `twilioBodySHA256(_:)` — and no parameters).
    public static func signTwilio(url: String, formParameters: [(String, String)], authToken: String) -> String {
        let pairs = canonical(formParameters.map { TwilioPair(name: Array($0.0.utf8), value: Array($0.1.utf8)) })
        return twilioSignature(key: SymmetricKey(data: Array(authToken.utf8)), url: Array(url.utf8), pairs: pairs)
    }

    /// The lower-case hex SHA-256 of a body, as Twilio puts it in the URL's `bodySHA256` parameter.
    public static func twilioBodySHA256(_ body: some Collection<UInt8>) -> String {
        var hash = SHA256()
        feed(body) { hash.update(bufferPointer: $0) }
        return Hex.encode(hash.finalize())
    }

    // MARK: Internals

    struct TwilioPair: Equatable {
        var name: [UInt8]
        var value: [UInt8]

        /// Name first, then value; byte order, which is code-point order for UTF-8 (Python's `sorted`).
        static func precedes(_ a: TwilioPair, _ b: TwilioPair) -> Bool {
            a.name == b.name ? a.value.lexicographicallyPrecedes(b.value) : a.name.lexicographicallyPrecedes(b.name)
        }
    }

    /// Sorted by name then value, exact repeats dropped (the SDKs sort `set(values)`).
    static func canonical(_ pairs: [TwilioPair]) -> [TwilioPair] {
        var unique: [TwilioPair] = []
        for pair in pairs.sorted(by: TwilioPair.precedes) where unique.last != pair {
            unique.append(pair)
        }
        return unique
    }

    static func twilioSignature(key: SymmetricKey, url: [UInt8], pairs: [TwilioPair]) -> String {
        var mac = HMAC<Insecure.SHA1>(key: key)
        mac.update(data: url)
        for pair in pairs {
            mac.update(data: pair.name)
            mac.update(data: pair.value)
        }
        return Data(mac.finalize()).base64EncodedString()
    }

    static func isFormContentType(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = trimmed(contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        return mediaType.lowercased() == "application/x-www-form-urlencoded"
    }

    /// A form body as canonical pairs (`+` is a space, `%XX` a byte, other bytes literal; blank values kept).
    static func formPairs(_ body: [UInt8]) -> [TwilioPair] {
        canonical(body.split(separator: UInt8(ascii: "&")).map { field in
            let parts = field.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            return TwilioPair(name: formDecoded(parts[0]), value: parts.count > 1 ? formDecoded(parts[1]) : [])
        })
    }

    static func formDecoded(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "%"), index + 2 < text.endIndex, let high = nibble(text[index + 1]), let low = nibble(text[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return bytes
    }

    /// The decoded `bodySHA256` query parameter (its first occurrence), `nil` when the URL has none.
    static func twilioBodySHA256Parameter(_ url: String) throws(WebhookSignatureError) -> [UInt8]? {
        let bytes = Array(url.utf8)
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let end = bytes[question...].firstIndex(of: UInt8(ascii: "#")) ?? bytes.endIndex
        for field in bytes[(question + 1)..<end].split(separator: UInt8(ascii: "&")) {
            let parts = field.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard formDecoded(parts[0]) == Array("bodySHA256".utf8) else { continue }
            let value = parts.count > 1 ? formDecoded(parts[1]) : []
            return try sha256Hex(Substring(decoding: value, as: UTF8.self), what: "bodySHA256")
        }
        return nil
    }

    /// The URL as given, without its port, and (when it names none) with the scheme's default port.
    static func twilioURLVariants(_ url: String) throws(WebhookSignatureError) -> [[UInt8]] {
        let bytes = Array(url.utf8)
        let separator = Array("://".utf8)
        guard let schemeEnd = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }), schemeEnd > 0,
              bytes[..<schemeEnd].allSatisfy({ isSchemeByte($0) })
        else { throw .malformed("the URL has no scheme") }
        let scheme = String(decoding: bytes[..<schemeEnd], as: UTF8.self).lowercased()
        let authorityStart = schemeEnd + separator.count
        let endsAuthority: Set<UInt8> = [UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#")]
        let authorityEnd = bytes[authorityStart...].firstIndex(where: endsAuthority.contains) ?? bytes.endIndex
        let hostStart = bytes[authorityStart..<authorityEnd].lastIndex(of: UInt8(ascii: "@")).map { $0 + 1 } ?? authorityStart
        guard hostStart < authorityEnd else { throw .malformed("the URL has no host") }

        var colon: Int?
        if bytes[hostStart] == UInt8(ascii: "[") {
            guard let close = bytes[hostStart..<authorityEnd].firstIndex(of: UInt8(ascii: "]")) else {
                throw .malformed("the URL's IPv6 host is not closed")
            }
            if close + 1 < authorityEnd {
                guard bytes[close + 1] == UInt8(ascii: ":") else { throw .malformed("the URL's port is not a number") }
                colon = close + 1
            }
        } else {
            colon = bytes[hostStart..<authorityEnd].firstIndex(of: UInt8(ascii: ":"))
        }
        let defaultPort = Array((scheme == "https" ? ":443" : ":80").utf8)
        guard let colon else {
            return [bytes, Array(bytes[..<authorityEnd]) + defaultPort + bytes[authorityEnd...]]
        }
        let port = bytes[(colon + 1)..<authorityEnd]
        guard port.count <= 5, port.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              port.reduce(0, { $0 * 10 + Int($1 - UInt8(ascii: "0")) }) <= 65535
        else { throw .malformed("the URL's port is not a number") }
        let withoutPort = Array(bytes[..<colon]) + bytes[authorityEnd...]
        if port.isEmpty {
            return [bytes, withoutPort, Array(bytes[..<colon]) + defaultPort + bytes[authorityEnd...]]
        }
        return [bytes, withoutPort]
    }

    static func isSchemeByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."): true
        default: false
        }
    }
}
