import Crypto
import Foundation

/// The shared-secret schemes: WhatsApp, Slack, our Seha/Tatman contract and Google's channel token.
extension WebhookSignatures {
    // MARK: WhatsApp Cloud API

    /// Checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`. Meta sends lower-case hex;
    /// upper case is accepted too. WhatsApp signs no timestamp: deduplicate by message or status id instead.
    public static func verifyWhatsApp(body: some Collection<UInt8>, header: String?, appSecret: String) throws(WebhookSignatureError) {
        let key = try key(appSecret, name: "app secret")
        let value = try headerValue(header, name: HeaderName.whatsApp)
        guard value.hasPrefix("sha256=") else { throw .malformed("\(HeaderName.whatsApp) does not start with sha256=") }
        let sent = try sha256Hex(value.dropFirst("sha256=".count), what: HeaderName.whatsApp)
        guard constantTimeEquals(sent, hmacSHA256(key: key, EmptyCollection(), body: body)) else { throw .mismatch }
    }

    /// The `X-Hub-Signature-256` value Meta would send for `body`.
    public static func signWhatsApp(body: some Collection<UInt8>, appSecret: String) -> String {
        "sha256=" + Hex.encode(hmacSHA256(key: SymmetricKey(data: Array(appSecret.utf8)), EmptyCollection(), body: body))
    }

    // MARK: Slack

    /// Checks `X-Slack-Signature: v0=<hex HMAC-SHA256(signing_secret, "v0:" + timestamp + ":" + raw body)>` with
    /// `X-Slack-Request-Timestamp` within `tolerance` of `now`. Any version but `v0` is refused as `.malformed`.
    public static func verifySlack(
        body: some Collection<UInt8>, timestamp: String?, signature: String?, signingSecret: String, now: Date = Date()
    ) throws(WebhookSignatureError) {
        let key = try key(signingSecret, name: "signing secret")
        let timestampText = try headerValue(timestamp, name: HeaderName.slackTimestamp)
        let seconds = try unixSeconds(timestampText, what: HeaderName.slackTimestamp)
        let value = try headerValue(signature, name: HeaderName.slackSignature)
        guard value.hasPrefix("v0=") else { throw .malformed("\(HeaderName.slackSignature) is not a v0= signature") }
        let sent = try sha256Hex(value.dropFirst(3), what: HeaderName.slackSignature)
        let expected = hmacSHA256(key: key, Array("v0:\(timestampText):".utf8), body: body)
        guard constantTimeEquals(sent, expected) else { throw .mismatch }
        try checkFreshness(seconds, now: now)
    }

    /// The `X-Slack-Signature` value (`v0=…`) Slack would send for `body` at `timestamp`.
    public static func signSlack(body: some Collection<UInt8>, timestamp: Int64, signingSecret: String) -> String {
        let key = SymmetricKey(data: Array(signingSecret.utf8))
        return "v0=" + Hex.encode(hmacSHA256(key: key, Array("v0:\(timestamp):".utf8), body: body))
    }

    // MARK: Seha and Tatman (our published contract)

    /// Checks `X-Moeen-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret, "<t>." + raw body)>`, the
    /// contract we publish to Seha and Tatman. Several `v1=` entries may be present while a partner changes its
    /// secret; any one matching passes. Entries are separated by commas, whitespace around them is ignored,
    /// entries with other names (future schemes) are skipped; exactly one `t` and at least one `v1` are required.
    public static func verifyMoeen(
        body: some Collection<UInt8>, header: String?, secret: String, now: Date = Date()
    ) throws(WebhookSignatureError) {
        let key = try key(secret, name: "webhook secret")
        let value = try headerValue(header, name: HeaderName.moeen)
        var timestampText: Substring?
        var candidates: [[UInt8]] = []
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = trimmed(item)
            guard let equals = entry.firstIndex(of: "=") else { throw .malformed("\(HeaderName.moeen) has an entry without =") }
            let name = entry[..<equals], text = entry[entry.index(after: equals)...]
            switch name {
            case "t":
                guard timestampText == nil else { throw .malformed("\(HeaderName.moeen) has more than one t=") }
                timestampText = text
            case "v1":
                candidates.append(try sha256Hex(text, what: "a v1= signature"))
            default:
                continue
            }
        }
        guard let timestampText else { throw .malformed("\(HeaderName.moeen) has no t=") }
        let seconds = try unixSeconds(timestampText, what: "t=")
        guard !candidates.isEmpty else { throw .malformed("\(HeaderName.moeen) has no v1=") }
        let expected = hmacSHA256(key: key, Array("\(timestampText).".utf8), body: body)
        var matched = false
        for candidate in candidates {
            matched = constantTimeEquals(candidate, expected) || matched
        }
        guard matched else { throw .mismatch }
        try checkFreshness(seconds, now: now)
    }

    /// The `X-Moeen-Signature` value a partner sends for `body` at `timestamp` (one `v1` entry).
    public static func signMoeen(body: some Collection<UInt8>, secret: String, timestamp: Int64) -> String {
        let key = SymmetricKey(data: Array(secret.utf8))
        return "t=\(timestamp),v1=" + Hex.encode(hmacSHA256(key: key, Array("\(timestamp).".utf8), body: body))
    }

    // MARK: Google Calendar push notifications

    /// Checks that `X-Goog-Channel-Token` equals the stored `webhook_channel_token` (Google signs nothing; the
    /// token given when the channel was opened is echoed on every notification).
    public static func verifyGoogleChannelToken(header: String?, expected: String) throws(WebhookSignatureError) {
        guard !expected.isEmpty else { throw .malformed("the channel token is empty") }
        let value = try headerValue(header, name: HeaderName.googleChannelToken)
        guard constantTimeEquals(value.utf8, expected.utf8) else { throw .mismatch }
    }
}
