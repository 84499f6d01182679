import Crypto
import Foundation

/// SendGrid's signed event webhook.
extension WebhookSignatures {
    /// Checks `X-Twilio-Email-Event-Webhook-Signature` (base64 of a DER ECDSA P-256 signature) over the
    /// `X-Twilio-Email-Event-Webhook-Timestamp` value followed by the raw body, SHA-256, as SendGrid's own
    /// `EventWebhook.verify_signature` does; then the timestamp must be within `tolerance` of `now`.
    ///
    /// `publicKey` is the `webhook_public_key` setting: base64 of the DER SubjectPublicKeyInfo SendGrid shows
    /// (a PEM block is accepted too). A key that is not P-256 is `.malformed`.
    public static func verifySendGrid(
        body: some Collection<UInt8>, timestamp: String?, signature: String?, publicKey: String, now: Date = Date()
    ) throws(WebhookSignatureError) {
        let key = try sendGridPublicKey(publicKey)
        let timestampText = try headerValue(timestamp, name: HeaderName.sendGridTimestamp)
        let seconds = try unixSeconds(timestampText, what: HeaderName.sendGridTimestamp)
        let signatureText = try headerValue(signature, name: HeaderName.sendGridSignature)
        guard let der = Data(base64Encoded: String(signatureText)) else {
            throw .malformed("\(HeaderName.sendGridSignature) is not base64")
        }
        let ecdsa: P256.Signing.ECDSASignature
        do {
            ecdsa = try P256.Signing.ECDSASignature(derRepresentation: der)
        } catch {
            throw .malformed("\(HeaderName.sendGridSignature) is not a DER ECDSA signature")
        }
        guard key.isValidSignature(ecdsa, for: sendGridDigest(timestamp: timestampText, body: body)) else { throw .mismatch }
        try checkFreshness(seconds, now: now)
    }

    /// The `X-Twilio-Email-Event-Webhook-Signature` value SendGrid would send for `body` at `timestamp`.
    public static func signSendGrid(
        body: some Collection<UInt8>, timestamp: Int64, privateKey: P256.Signing.PrivateKey
    ) throws -> String {
        try privateKey.signature(for: sendGridDigest(timestamp: "\(timestamp)", body: body)).derRepresentation.base64EncodedString()
    }

    /// The `webhook_public_key` setting for a key pair (base64 DER SubjectPublicKeyInfo), for stand-ins and tests.
    public static func sendGridPublicKeySetting(_ key: P256.Signing.PublicKey) -> String {
        key.derRepresentation.base64EncodedString()
    }

    static func sendGridDigest(timestamp: Substring, body: some Collection<UInt8>) -> SHA256Digest {
        var hash = SHA256()
        hash.update(data: Array(timestamp.utf8))
        feed(body) { hash.update(bufferPointer: $0) }
        return hash.finalize()
    }

    static func sendGridPublicKey(_ setting: String) throws(WebhookSignatureError) -> P256.Signing.PublicKey {
        let text = trimmed(Substring(setting))
        guard !text.isEmpty else { throw .malformed("the SendGrid public key is empty") }
        guard text.utf8.count <= maximumHeaderLength else { throw .malformed("the SendGrid public key is too long") }
        let notAKey = WebhookSignatureError.malformed("the SendGrid public key is not a base64 DER P-256 public key")
        if text.hasPrefix("-----BEGIN") {
            guard let key = try? P256.Signing.PublicKey(pemRepresentation: String(text)) else { throw notAKey }
            return key
        }
        guard let der = Data(base64Encoded: String(text)), let key = try? P256.Signing.PublicKey(derRepresentation: der) else {
            throw notAKey
        }
        return key
    }
}
