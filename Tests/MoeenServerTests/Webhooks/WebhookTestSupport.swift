import Crypto
import Fluent
import Foundation
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Testing
import Vapor

extension Application {
    /// POSTs raw bytes to a webhook path with the given headers; the status and body text.
    func postWebhook(_ path: String, body: [UInt8], headers: [(String, String)]) async throws -> (status: HTTPStatus, text: String) {
        var result: (HTTPStatus, String) = (.internalServerError, "")
        var httpHeaders = HTTPHeaders()
        for (name, value) in headers { httpHeaders.add(name: name, value: value) }
        try await testing().test(.POST, path, headers: httpHeaders, beforeRequest: { req in
            req.body = ByteBuffer(bytes: body)
        }) { res async throws in
            result = (res.status, res.body.string)
        }
        return result
    }

    func getWebhook(_ path: String) async throws -> (status: HTTPStatus, text: String) {
        var result: (HTTPStatus, String) = (.internalServerError, "")
        try await testing().test(.GET, path) { res async throws in result = (res.status, res.body.string) }
        return result
    }

    func webhookEventCount() async throws -> Int { try await WebhookEvent.query(on: db).count() }

    /// Runs the webhook processor over every due event.
    func processWebhooks(now: Date = Date()) async throws {
        let processor = WebhookProcessor(db: db, settings: .fastTests, preferences: centrePreferences, clock: { now },
                                         logger: Logger(label: "test.webhooks"))
        while try await processor.processOnce() > 0 {}
    }

    /// Creates an enabled integration of `type` with `settings`; returns its public id.
    func makeIntegration(_ type: IntegrationType, settings: [String: String], auth: String) async throws -> String {
        var settings = settings
        if IntegrationCatalog.defaultRateLimit(for: type) != nil { settings["rate_limit_per_second"] = "unlimited" }
        return try await TestConnectionTests.create(self, auth: auth, type: type, settings: settings)
    }
}

enum WebhookTestData {
    /// A WhatsApp Business Account status notification.
    static func whatsAppStatus(id: String, status: String, timestamp: String = "1767225600", phoneNumberID: String = "100000000000001",
                               errors: JSONValue? = nil) -> [UInt8] {
        var statusObject: [String: JSONValue] = [
            "id": .string(id), "status": .string(status), "timestamp": .string(timestamp), "recipient_id": "966551234567",
        ]
        if let errors { statusObject["errors"] = errors }
        let body: JSONValue = [
            "object": "whatsapp_business_account",
            "entry": [["id": "WABA_ID", "changes": [["field": "messages", "value": [
                "messaging_product": "whatsapp",
                "metadata": ["display_phone_number": "15550000001", "phone_number_id": .string(phoneNumberID)],
                "statuses": [.object(statusObject)],
            ]]]]],
        ]
        return Array(body.jsonText().utf8)
    }

    static func whatsAppInbound(id: String, from: String, text: String) -> [UInt8] {
        let body: JSONValue = [
            "object": "whatsapp_business_account",
            "entry": [["id": "WABA_ID", "changes": [["field": "messages", "value": [
                "messaging_product": "whatsapp",
                "metadata": ["display_phone_number": "15550000001", "phone_number_id": "100000000000001"],
                "contacts": [["profile": ["name": "Patient"], "wa_id": .string(from)]],
                "messages": [["from": .string(from), "id": .string(id), "timestamp": "1767225600", "type": "text", "text": ["body": .string(text)]]],
            ]]]]],
        ]
        return Array(body.jsonText().utf8)
    }
}
