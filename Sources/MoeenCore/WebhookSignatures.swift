import Crypto
import Foundation

/// Why an inbound webhook was refused. Every case is safe to log: none carries a secret, a signature or the body.
public enum WebhookSignatureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The named header (or, for Twilio JSON bodies, the named URL parameter) was absent or empty.
    case missing(header: String)
    /// A header, timestamp, key or setting could not be read (bad hex or base64, wrong length, not a number,
    /// longer than `WebhookSignatures.maximumHeaderLength`, an empty secret…).
    case malformed(String)
    /// Well formed, but no signature matches: the body, URL or secret differs from what was signed.
    case mismatch
    /// Correctly signed, but the timestamp is further than `WebhookSignatures.tolerance` from now
    /// (positive: that many seconds old; negative: that far in the future).
    case stale(ageSeconds: Int64)

    public var description: String {
        switch self {
        case .missing(let header): "missing \(header)"
        case .malformed(let reason): "malformed: \(reason)"
        case .mismatch: "signature mismatch"
        case .stale(let age): age >= 0 ? "timestamp \(age) s old" : "timestamp \(-age) s in the future"
        }
    }
}

/// Verification (and, for stand-ins and tests, signing) of every provider's inbound webhooks, computed over the
/// raw body bytes exactly as received (never over re-encoded JSON), with every comparison in constant time.
///
/// | provider | header(s) | scheme |
/// |---|---|---|
/// | WhatsApp Cloud API | `X-Hub-Signature-256` | `sha256=` hex HMAC-SHA256(app secret, body) |
/// | Twilio | `X-Twilio-Signature` | base64 HMAC-SHA1(auth token, URL + sorted form pairs), or URL with `bodySHA256` |
/// | SendGrid | `X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp` | base64 DER ECDSA P-256/SHA-256 over timestamp + body |
/// | Slack | `X-Slack-Signature` / `X-Slack-Request-Timestamp` | `v0=` hex HMAC-SHA256(secret, `v0:<ts>:<body>`) |
/// | Seha, Tatman (our contract) | `X-Moeen-Signature` | `t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>." + body)>`, several `v1` allowed |
/// | Google Calendar push | `X-Goog-Channel-Token` | equals the stored channel token |
///
/// Header values may carry surrounding whitespace. Anything unreadable is `.malformed`, never a trap; timestamps
/// more than `tolerance` seconds from `now` (either way) are `.stale`, checked after the signature so that
/// `.stale` always means "authentic but too old or too new". Empty secrets are refused (`.malformed`), so a
/// setting left blank never turns into a key everyone knows.
public enum WebhookSignatures {
    /// How far a signed timestamp may be from now, either way (Slack's and our contract's 5 minutes).
    public static let tolerance: Int64 = 300
    /// Longer header values are refused before any work is done.
    public static let maximumHeaderLength = 4096

    /// The header names, for routes and stand-ins.
    public enum HeaderName {
        public static let whatsApp = "X-Hub-Signature-256"
        public static let twilio = "X-Twilio-Signature"
        public static let sendGridSignature = "X-Twilio-Email-Event-Webhook-Signature"
        public static let sendGridTimestamp = "X-Twilio-Email-Event-Webhook-Timestamp"
        public static let slackSignature = "X-Slack-Signature"
        public static let slackTimestamp = "X-Slack-Request-Timestamp"
        public static let moeen = "X-Moeen-Signature"
        public static let googleChannelToken = "X-Goog-Channel-Token"
    }

    /// Whether two byte sequences are equal, taking the same time wherever they differ. Sequences of different
    /// lengths are unequal at once (lengths are not secret: every signature of a scheme has the same one).
    public static func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) {
            difference |= x ^ y
        }
        return difference == 0
    }
}

// MARK: - Shared pieces

extension WebhookSignatures {
    /// The trimmed value of a header, `.missing` when absent or blank, `.malformed` when absurdly long.
    static func headerValue(_ raw: String?, name: String) throws(WebhookSignatureError) -> Substring {
        guard let raw else { throw .missing(header: name) }
        guard raw.utf8.count <= maximumHeaderLength else { throw .malformed("\(name) is longer than \(maximumHeaderLength) bytes") }
        let value = trimmed(Substring(raw))
        guard !value.isEmpty else { throw .missing(header: name) }
        return value
    }

    /// `text` without leading and trailing ASCII spaces, tabs, CR and LF.
    static func trimmed(_ text: Substring) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else {
            return text[text.endIndex...]
        }
        return text[first...last]
    }

    /// A secret setting as key bytes; an empty one is a configuration error, never a usable key.
    static func key(_ secret: String, name: String) throws(WebhookSignatureError) -> SymmetricKey {
        guard !secret.isEmpty else { throw .malformed("the \(name) is empty") }
        return SymmetricKey(data: Array(secret.utf8))
    }

    /// Hex text (either case) as bytes; `nil` for an odd length or any other character.
    static func hexBytes(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A SHA-256-sized MAC written as hex: exactly 64 hex digits, else `.malformed`.
    static func sha256Hex(_ text: Substring, what: String) throws(WebhookSignatureError) -> [UInt8] {
        guard text.utf8.count == 64, let bytes = hexBytes(text) else {
            throw .malformed("\(what) is not 64 hexadecimal digits")
        }
        return bytes
    }

    /// Unix seconds written as 1–19 ASCII digits; anything else (signs, decimals, overflow) is `.malformed`.
    static func unixSeconds(_ text: Substring, what: String) throws(WebhookSignatureError) -> Int64 {
        guard (1...19).contains(text.utf8.count),
              text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let seconds = Int64(text)
        else { throw .malformed("\(what) is not unix seconds") }
        return seconds
    }

    /// `now` in whole unix seconds, clamped (infinities included) so that absurd dates cannot trap the conversion.
    static func unixSeconds(of now: Date) -> Int64 {
        let seconds = now.timeIntervalSince1970
        guard !seconds.isNaN else { return 0 }
        return Int64(min(max(seconds, -9.0e15), 9.0e15).rounded(.down))
    }

    /// `.stale` unless `timestamp` is within `tolerance` of `now`; the age saturates instead of overflowing.
    static func checkFreshness(_ timestamp: Int64, now: Date) throws(WebhookSignatureError) {
        let (age, overflow) = unixSeconds(of: now).subtractingReportingOverflow(timestamp)
        let saturated = overflow ? (timestamp > 0 ? Int64.min : Int64.max) : age
        guard saturated <= tolerance, saturated >= -tolerance else { throw .stale(ageSeconds: saturated) }
    }

    /// Feeds bytes of any collection into a MAC or hash without copying when they are contiguous.
    static func feed(_ bytes: some Collection<UInt8>, _ update: (UnsafeRawBufferPointer) -> Void) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            Array(bytes).withUnsafeBytes(update)
        }
    }

    /// HMAC-SHA256 over `prefix` followed by `body`.
    static func hmacSHA256(key: SymmetricKey, _ prefix: some Collection<UInt8>, body: some Collection<UInt8>) -> [UInt8] {
        var mac = HMAC<SHA256>(key: key)
        feed(prefix) { mac.update(data: $0) }
        feed(body) { mac.update(data: $0) }
        return Array(mac.finalize())
    }
}
