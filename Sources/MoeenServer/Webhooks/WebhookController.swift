import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit
import Synchronization
import Vapor

/// `POST /webhooks/{provider}/{public_id}` (and `GET /webhooks/whatsapp/{public_id}` for Meta's verification):
/// no session, no token — the provider's signature over the raw bytes is the only credential. A verified
/// request's events are committed to `webhook_events` (duplicates change nothing) before the 200; processing
/// happens afterwards (`WebhookProcessor`).
struct WebhookController: RouteCollection {
    static let maximumBody: ByteCount = "1mb"

    func boot(routes: any RoutesBuilder) throws {
        let hooks = routes.grouped("webhooks")
        hooks.get("whatsapp", ":publicID", use: verifyWhatsAppSubscription)
        hooks.on(.POST, ":provider", ":publicID", body: .collect(maxSize: Self.maximumBody), use: receive)
    }

    // MARK: - Meta's subscription check

    @Sendable
    func verifyWhatsAppSubscription(req: Request) async throws -> Response {
        let (row, config) = try await Self.integration(req, provider: .whatsapp)
        let mode = req.query[String.self, at: "hub.mode"]
        let token = req.query[String.self, at: "hub.verify_token"] ?? ""
        let challenge = req.query[String.self, at: "hub.challenge"] ?? ""
        guard mode == "subscribe", let expected = config["webhook_verify_token"], !expected.isEmpty,
              WebhookSignatures.constantTimeEquals(Array(token.utf8), Array(expected.utf8)),
              challenge.count <= 1024
        else {
            req.metrics.webhookRejected(provider: WebhookProvider.whatsapp.rawValue)
            await Self.reject(row, reason: "verification token did not match", on: req)
            throw APIError(.forbidden, code: "verification_failed", message: "The verify token does not match this integration's.")
        }
        return Response(status: .ok, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .init(string: challenge))
    }

    // MARK: - Events

    @Sendable
    func receive(req: Request) async throws -> Response {
        guard let provider = WebhookProvider(rawValue: req.parameters.get("provider") ?? "") else {
            throw APIError.notFound("Webhook provider")
        }
        // The route collects at most 1 MiB from the network; a body handed over whole is held to the same.
        if let size = req.body.data?.readableBytes, size > Self.maximumBody.value {
            throw APIError(.payloadTooLarge, code: "payload_too_large", message: "A webhook body may be at most 1 MiB.")
        }
        let (row, config) = try await Self.integration(req, provider: provider)
        let body = req.body.data.map { Array($0.readableBytesView) } ?? []
        let now = Date()
        do {
            try Self.verify(provider, req: req, body: body, config: config, integration: row, now: now)
        } catch let failure as WebhookSignatureError {
            req.metrics.webhookRejected(provider: provider.rawValue)
            await Self.reject(row, reason: Self.describe(failure), on: req)
            throw APIError(.unauthorized, code: "invalid_signature", message: "The webhook signature is missing, wrong or too old.")
        }
        req.metrics.webhookReceived(provider: provider.rawValue)

        // Slack's URL check answers the challenge; nothing to store.
        if provider == .slack, let root = JSONValue.parse(body), root["type"]?.stringValue == "url_verification" {
            let challenge = root["challenge"]?.stringValue ?? ""
            return Response(status: .ok, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .init(string: challenge.capped(characters: 1024)))
        }

        let events: [ParsedWebhookEvent]
        do {
            events = try Self.parse(provider, req: req, body: body)
        } catch {
            throw APIError.malformed("The webhook body is not a \(provider.rawValue) event: \(error.reason)")
        }
        let stored = try await WebhookEventStore(db: req.db).insert(events, provider: provider, integration: try row.requireID(), now: now)
        if stored > 0 { req.application.runningWebhookProcessor?.notify() }
        req.logger.debug("webhook received", metadata: [
            "provider": .string(provider.rawValue), "integration": .string(row.publicID),
            "events": .stringConvertible(events.count), "new": .stringConvertible(stored),
        ])
        // Twilio wants TwiML or nothing; the others take any 2xx.
        if provider == .twilio {
            return Response(status: .ok, headers: ["Content-Type": "text/xml"], body: .init(string: "<Response></Response>"))
        }
        return Response(status: .ok, headers: ["Content-Type": "application/json"], body: .init(string: #"{"received":true}"#))
    }

    // MARK: - Verification per provider

    static func verify(
        _ provider: WebhookProvider, req: Request, body: [UInt8], config: [String: String], integration: IntegrationConfig, now: Date
    ) throws {
        switch provider {
        case .whatsapp:
            try WebhookSignatures.verifyWhatsApp(body: body, header: req.headers.first(name: "X-Hub-Signature-256"),
                                                 appSecret: try required("app_secret", config))
        case .twilio:
            try WebhookSignatures.verifyTwilio(url: signedURL(req), body: body,
                                               contentType: req.headers.first(name: .contentType),
                                               header: req.headers.first(name: "X-Twilio-Signature"),
                                               authToken: try required("auth_token", config))
        case .sendgrid:
            try WebhookSignatures.verifySendGrid(
                body: body, timestamp: req.headers.first(name: "X-Twilio-Email-Event-Webhook-Timestamp"),
                signature: req.headers.first(name: "X-Twilio-Email-Event-Webhook-Signature"),
                publicKey: try required("webhook_public_key", config), now: now)
        case .slack:
            try WebhookSignatures.verifySlack(
                body: body, timestamp: req.headers.first(name: "X-Slack-Request-Timestamp"),
                signature: req.headers.first(name: "X-Slack-Signature"),
                signingSecret: try required("signing_secret", config), now: now)
        case .googleCalendar:
            try WebhookSignatures.verifyGoogleChannelToken(header: req.headers.first(name: "X-Goog-Channel-Token"),
                                                           expected: try required("webhook_channel_token", config))
        case .seha, .tatman:
            try WebhookSignatures.verifyMoeen(body: body, header: req.headers.first(name: "X-Moeen-Signature"),
                                              secret: try required("webhook_secret", config), now: now)
        }
    }

    static func parse(_ provider: WebhookProvider, req: Request, body: [UInt8]) throws(MalformedWebhook) -> [ParsedWebhookEvent] {
        switch provider {
        case .whatsapp: return try WebhookParsing.whatsApp(body)
        case .twilio:
            guard isForm(req) else { throw MalformedWebhook(reason: "expected a form (application/x-www-form-urlencoded)") }
            return try WebhookParsing.twilio(form: FormURLEncoding.decode(String(decoding: body, as: UTF8.self)))
        case .sendgrid: return try WebhookParsing.sendGrid(body)
        case .slack: return try WebhookParsing.slack(body)
        case .googleCalendar:
            return try WebhookParsing.google(
                channelID: req.headers.first(name: "X-Goog-Channel-ID"), messageNumber: req.headers.first(name: "X-Goog-Message-Number"),
                resourceState: req.headers.first(name: "X-Goog-Resource-State"), resourceID: req.headers.first(name: "X-Goog-Resource-ID"))
        case .seha, .tatman: return try WebhookParsing.moeen(body)
        }
    }

    /// A secret the integration needs for webhooks but has not set: no signature can be right (401).
    static func required(_ field: String, _ config: [String: String]) throws(WebhookSignatureError) -> String {
        guard let value = config[field], !value.isEmpty else { throw .missing(header: "setting \(field)") }
        return value
    }

    static func isForm(_ req: Request) -> Bool {
        req.headers.contentType?.subType.lowercased() == "x-www-form-urlencoded"
    }

    /// The URL Twilio signed: `MOEEN_PUBLIC_URL` + path + query (the request's Host when no public URL is set).
    static func signedURL(_ req: Request) -> String {
        let base = req.application.moeenConfiguration.publicURL ?? "http://\(req.headers.first(name: .host) ?? "localhost")"
        var url = base + req.url.path
        if let query = req.url.query, !query.isEmpty { url += "?" + query }
        return url
    }

    static func describe(_ failure: WebhookSignatureError) -> String {
        switch failure {
        case .missing(let header): "missing \(header)"
        case .malformed(let what): "malformed \(what)"
        case .mismatch: "signature mismatch"
        case .stale(let age): "stale timestamp (\(age) s)"
        }
    }

    // MARK: - The integration

    /// The enabled integration of the provider's type with this public id, settings opened (404 otherwise).
    static func integration(_ req: Request, provider: WebhookProvider) async throws -> (IntegrationConfig, [String: String]) {
        let publicID = req.parameters.get("publicID") ?? ""
        guard PublicID.matches(publicID, .integration),
              let row = try await IntegrationConfig.query(on: req.db).filter(\.$publicID == publicID).first(),
              row.integrationType == provider.integrationType.rawValue, row.isEnabled
        else { throw APIError.notFound("Integration") }
        let config = try await req.application.webhookSettings.open(row, secrets: try req.application.integrationSecrets, on: req.db)
        return (row, config)
    }

    /// Counts a rejected request for the integration (the only thing kept of it).
    static func reject(_ row: IntegrationConfig, reason: String, on req: Request) async {
        req.logger.notice("webhook rejected", metadata: ["integration": .string(row.publicID), "reason": .string(reason)])
        guard let id = row.id, let sql = req.db as? any SQLDatabase else { return }
        let now = Date()
        _ = try? await sql.insert(into: "webhook_rejections")
            .columns("integration_config_id", "count", "last_reason", "last_at")
            .values(SQLBind(id), SQLBind(Int64(1)), SQLBind(reason.capped(characters: 200)), SQLBind(now))
            .onConflict(with: ["integration_config_id"]) { conflict in
                conflict.set("count", to: SQLRaw("webhook_rejections.count + 1"))
                    .set(excludedValueOf: "last_reason").set(excludedValueOf: "last_at")
            }
            .run()
    }
}

/// Opened integration settings for webhook checks, kept while the row is unchanged (its `updated_at`), so a
/// busy webhook does not unwrap the data key on every request.
final class WebhookSettingsCache: Sendable {
    private let entries = Mutex<[UUID: (updatedAt: Date?, config: [String: String])]>([:])

    func open(_ row: IntegrationConfig, secrets: IntegrationSecrets, on db: any Database) async throws -> [String: String] {
        let id = try row.requireID()
        if let entry = entries.withLock({ $0[id] }), entry.updatedAt == row.updatedAt { return entry.config }
        let config = try await secrets.open(row, on: db)
        entries.withLock { entries in
            if entries.count >= 256 { entries.removeAll() }
            entries[id] = (row.updatedAt, config)
        }
        return config
    }
}

extension Application {
    private struct WebhookSettingsKey: StorageKey {
        typealias Value = WebhookSettingsCache
    }

    var webhookSettings: WebhookSettingsCache {
        if let cache = storage[WebhookSettingsKey.self] { return cache }
        let cache = WebhookSettingsCache()
        storage[WebhookSettingsKey.self] = cache
        return cache
    }
}
