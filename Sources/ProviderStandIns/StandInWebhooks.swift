import AsyncHTTPClient
import Crypto
import Foundation
import MoeenCore
import NIOCore
import NIOHTTP1

/// Stand-ins posting the provider's own signed webhooks back to the service: delivery statuses for the
/// messages they accepted, so tests and demos can follow a message all the way (send → `sent` → webhook →
/// `delivered` → `read`). Signatures come from MoeenCore's `WebhookSignatures`, the same code the service
/// verifies with, and are checked against the providers' published vectors there.
public enum StandInWebhooks {
    /// Posts `body` with `headers` to `url` (loopback in tests); returns the HTTP status.
    static func post(_ url: String, body: [UInt8], headers: [(String, String)]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try? await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}

extension WhatsAppStandIn {
    /// Posts a signed WhatsApp status notification (`sent`, `delivered`, `read` or `failed`) for a message this
    /// stand-in accepted, as Meta does to the app's callback URL. Returns the service's HTTP status.
    public func postStatus(
        _ status: String, for messageID: String, to webhookURL: String, appSecret: String,
        at date: Date = Date(), phoneNumberID: String = "100000000000001"
    ) async throws -> Int {
        var statusObject: [String: JSONValue] = [
            "id": .string(messageID), "status": .string(status),
            "timestamp": .string(String(Int64(date.timeIntervalSince1970))), "recipient_id": "966551234567",
        ]
        if status == "failed" {
            statusObject["errors"] = [["code": 131026, "title": "Message undeliverable"]]
        }
        let body: JSONValue = [
            "object": "whatsapp_business_account",
            "entry": [["id": "WABA_ID", "changes": [["field": "messages", "value": [
                "messaging_product": "whatsapp",
                "metadata": ["display_phone_number": "15550000001", "phone_number_id": .string(phoneNumberID)],
                "statuses": [.object(statusObject)],
            ]]]]],
        ]
        let bytes = Array(body.jsonText().utf8)
        return try await StandInWebhooks.post(webhookURL, body: bytes, headers: [
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", WebhookSignatures.signWhatsApp(body: bytes, appSecret: appSecret)),
        ])
    }
}

extension TwilioStandIn {
    /// Posts a signed status callback (`sent`, `delivered`, `undelivered`, `failed`…) for a message this
    /// stand-in accepted, to the `StatusCallback` URL the send asked for, signed with the account's auth token
    /// over that URL (what Twilio signs). `nil` when the message asked for no callback.
    public func postStatus(_ status: String, for messageSID: String) async throws -> Int? {
        guard let sent = await state.sent.first(where: { $0.sid == messageSID }),
              let callback = sent.form["StatusCallback"]
        else { return nil }
        let token = await state.authToken
        var form: [(String, String)] = [
            ("MessageSid", messageSID), ("MessageStatus", status), ("AccountSid", await state.accountSID),
            ("To", sent.form["To"] ?? ""), ("From", sent.form["From"] ?? ""), ("ApiVersion", "2010-04-01"),
        ]
        if status == "undelivered" || status == "failed" { form.append(("ErrorCode", "30003")) }
        return try await StandInWebhooks.post(callback, body: Array(FormURLEncoding.encode(form).utf8), headers: [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", WebhookSignatures.signTwilio(url: callback, formParameters: form, authToken: token)),
        ])
    }
}

extension SendGridStandIn {
    /// Posts a signed event webhook batch (`processed`, `delivered`, `open`, `bounce`…) for a mail this stand-in
    /// accepted, signed with `signingKey` (the private half of the integration's `webhook_public_key`).
    public func postEvent(
        _ event: String, for messageID: String, to webhookURL: String, signingKey: P256.Signing.PrivateKey,
        at date: Date = Date()
    ) async throws -> Int {
        let timestamp = Int64(date.timeIntervalSince1970)
        let body: JSONValue = [[
            "email": "recipient@example.org", "event": .string(event), "timestamp": .number(Int(timestamp)),
            "sg_event_id": .string(UUID().uuidString), "sg_message_id": .string(messageID + ".filter0001.16648.5515E0B88.0"),
        ]]
        let bytes = Array(body.jsonText().utf8)
        return try await StandInWebhooks.post(webhookURL, body: bytes, headers: [
            ("Content-Type", "application/json"),
            ("X-Twilio-Email-Event-Webhook-Timestamp", String(timestamp)),
            ("X-Twilio-Email-Event-Webhook-Signature", try WebhookSignatures.signSendGrid(body: bytes, timestamp: timestamp, privateKey: signingKey)),
        ])
    }
}
