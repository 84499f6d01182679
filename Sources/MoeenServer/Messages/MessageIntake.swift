import Crypto
import Fluent
import Foundation
import MoeenCore
import Synchronization
import Vapor

/// Accepts a message into the outbox: the idempotency check, validation (422 naming each field), the
/// integration that will carry it, then one transaction writing the row and its `queued` event.
/// The API and `moeen messages send` both go through here.
struct MessageIntake {
    let db: any Database
    let settings: DeliverySettings
    let now: Date
    /// The centre's quiet hours, when on: normal-priority messages falling due inside wait for the end.
    var quietHours: QuietHours?

    /// The longest `Idempotency-Key` accepted.
    static let maximumKeyLength = 255

    /// What `accept` did: a new message, or the one an earlier request with the same key created.
    struct Outcome {
        let message: OutboundMessage
        let replayed: Bool
        /// The new message's `queued` event (so the answer needs no second read); `nil` for a replay.
        var event: MessageEvent? = nil
    }

    /// - Parameters:
    ///   - idempotencyKey: the `Idempotency-Key` header; with it, `requestHash` identifies the body.
    ///   - createdBy: the user (idempotency keys are per user); `nil` for the command line.
    func accept(
        _ input: MessageRequest, idempotencyKey: String?, requestHash: String?, createdBy: UUID?,
        source: MessageEventSource
    ) async throws -> Outcome {
        if let key = idempotencyKey {
            guard !key.isEmpty, key.count <= Self.maximumKeyLength else {
                throw APIError.validation(field: "Idempotency-Key", "must be 1 to \(Self.maximumKeyLength) characters")
            }
            if let earlier = try await replay(key: key, hash: requestHash, createdBy: createdBy) { return earlier }
        }
        let message = try await validate(input)
        message.idempotencyKey = idempotencyKey
        message.requestHash = idempotencyKey == nil ? nil : requestHash
        message.createdBy = createdBy
        let created = Mutex<MessageEvent?>(nil)
        do {
            try await db.transaction { tx in
                try await message.create(on: tx)
                var detail = message.scheduledAt.map { "scheduled for \(Self.timestamp($0))" }
                if let next = message.nextAttemptAt, next > max(now, message.scheduledAt ?? now) {
                    detail = "held by quiet hours until \(Self.timestamp(next))"
                }
                let event = MessageEvent(messageID: try message.requireID(), at: now, status: .queued, source: source, detail: detail)
                try await event.create(on: tx)
                if message.contactID != nil { try await Self.recordContactActivity(message, createdBy: createdBy, on: tx) }
                created.withLock { $0 = event }
            }
        } catch where UniqueViolation.matches(error) {
            // Another request with the same key won the race: answer as if this one came second.
            if let key = idempotencyKey, let earlier = try await replay(key: key, hash: requestHash, createdBy: createdBy) {
                return earlier
            }
            throw error
        }
        return Outcome(message: message, replayed: false, event: created.withLock { $0 })
    }

    /// The message an earlier request with `key` created: the same body answers it again, another body is 409.
    private func replay(key: String, hash: String?, createdBy: UUID?) async throws -> Outcome? {
        let query = OutboundMessage.query(on: db).filter(\.$idempotencyKey == key)
        if let createdBy { query.filter(\.$createdBy == createdBy) } else { query.filter(\.$createdBy == nil) }
        guard let earlier = try await query.first() else { return nil }
        guard earlier.requestHash == hash else {
            throw APIError(.conflict, code: "idempotency_key_reused",
                           message: "This Idempotency-Key was used for another request body (message \(earlier.publicID)); use a new key for a new message.")
        }
        return Outcome(message: earlier, replayed: true)
    }

    /// The SHA-256 of the body's JSON with keys sorted and spacing removed, so the same request sent with
    /// keys in another order or other spacing counts as the same body.
    static func requestHash(of body: ByteBuffer?) -> String? {
        guard let body else { return nil }
        let bytes = Array(body.readableBytesView)
        let canonical = JSONValue.parse(bytes)?.jsonText() ?? String(decoding: bytes, as: UTF8.self)
        return Hex.encode(Array(SHA256.hash(data: Data(canonical.utf8))))
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    // MARK: - Validation

    /// The message the input describes, not yet saved; 422 naming every field that is wrong.
    private func validate(_ input: MessageRequest) async throws -> OutboundMessage {
        var problems: [String: String] = [:]
        let channelNames = MessageChannel.allCases.map(\.rawValue).joined(separator: ", ")

        // A patient can supply the channel (their preferred one) and the recipient.
        var patient: Patient?
        if let raw = input.patientID {
            patient = if let uuid = UUID(uuidString: raw) {
                try await Patient.find(uuid, on: db)
            } else {
                PublicID.matches(raw, .patient) && !JSONValue.string(raw).containsNULCharacter ? try await Patient.query(on: db).filter(\.$publicID == raw).first() : nil
            }
            if patient == nil { problems["patient_id"] = "no patient has this id" }
        }
        // Or a CRM contact, the same way (never both: the message is recorded against one person).
        let contact = try await contact(input, problems: &problems)

        let channel: MessageChannel?
        if let raw = input.channel {
            channel = MessageChannel(rawValue: raw)
            if channel == nil { problems["channel"] = "must be one of \(channelNames)" }
        } else if let patient {
            channel = Self.preferredChannel(of: patient)
            if channel == nil { problems["channel"] = "required: the patient has no preferred channel, phone or e-mail" }
        } else if let contact {
            channel = Self.preferredChannel(of: contact)
            if channel == nil { problems["channel"] = "required: the contact has no phone or e-mail" }
        } else {
            channel = nil
            problems["channel"] = "required (one of \(channelNames))"
        }

        var recipient: String?
        if let channel {
            let given = input.to.flatMap { $0.isEmpty ? nil : $0 } ?? patient.flatMap { Self.address(of: $0, for: channel) }
                ?? contact.flatMap { Self.address(of: $0, for: channel) }
            if channel == .slack {
                // An incoming webhook posts to the channel it was made for; `to` is only a label.
                recipient = given.map { $0.capped(characters: 255) } ?? "webhook"
            } else if let given {
                recipient = OptOuts.normalize(given, channel: channel)
                if recipient == nil {
                    problems["to"] = channel == .email ? "must be an e-mail address" : "must be a phone number like +966551234567 or 0551234567"
                }
            } else {
                problems["to"] = Self.missingAddress(channel, patient: patient, contact: contact)
            }
        }

        let text = input.text.flatMap { $0.isEmpty ? nil : $0 }
        let html = input.html.flatMap { $0.isEmpty ? nil : $0 }
        if let channel {
            if input.template != nil, channel != .whatsapp { problems["template"] = "only WhatsApp messages take a template" }
            if input.subject != nil, channel != .email { problems["subject"] = "only e-mail messages take a subject" }
            if html != nil, channel != .email { problems["html"] = "only e-mail messages take html" }
            let hasContent = text != nil || (channel == .whatsapp && input.template != nil) || (channel == .email && html != nil)
            if !hasContent {
                problems["text"] = switch channel {
                case .whatsapp: "required (or a template)"
                case .email: "required (or html)"
                case .sms, .slack: "required"
                }
            }
            if let text, let limit = channel.textLimit, text.count > limit {
                problems["text"] = "must be at most \(limit) characters for \(channel.rawValue) (got \(text.count))"
            }
        }
        if let template = input.template {
            if template.name.trimmingCharacters(in: .whitespaces).isEmpty { problems["template.name"] = "required" }
            if template.language.trimmingCharacters(in: .whitespaces).isEmpty { problems["template.language"] = "required" }
        }
        if let subject = input.subject, subject.count > 998 { problems["subject"] = "must be at most 998 characters" }
        if let html, html.utf8.count > 512 * 1024 { problems["html"] = "must be at most 512 KB" }

        let priority = input.priority ?? "normal"
        if !["normal", "urgent"].contains(priority) { problems["priority"] = "must be normal or urgent" }

        var scheduledAt: Date?
        if let raw = input.scheduledAt {
            scheduledAt = RFC3339.parse(raw)
            if scheduledAt == nil { problems["scheduled_at"] = "must be an RFC 3339 time like 2026-12-01T09:00:00Z" }
        }

        var integration: IntegrationConfig?
        if let channel {
            do {
                integration = try await resolveIntegration(channel: channel, requested: input.integrationConfigID)
            } catch let problem as IntegrationProblem {
                problems[problem.field] = problem.message
            }
        }

        let fallback = try await validateFallback(input, channel: channel, text: text, patient: patient, contact: contact, problems: &problems)

        guard problems.isEmpty, let channel, let recipient, let integration else {
            throw APIError.validation(problems)
        }
        if channel != .slack, try await OptOuts.isOptedOut(channel: channel.rawValue, address: recipient, on: db) {
            throw APIError(.unprocessableEntity, code: "recipient_opted_out",
                           message: "The recipient asked not to receive \(channel.rawValue) messages (see /api/opt-outs).",
                           fields: ["to": "opted out of \(channel.rawValue) messages"])
        }
        let message = OutboundMessage()
        message.id = UUID()
        message.publicID = PublicID.make(.message, at: now, randomHexDigits: 16)
        message.channel = channel.rawValue
        message.$integration.id = try integration.requireID()
        message.patientID = try patient?.requireID()
        message.contactID = try contact?.requireID()
        message.recipient = recipient
        message.text = text
        message.subject = channel == .email ? input.subject : nil
        message.html = html
        message.template = input.template.map { template in
            .object([
                "name": .string(template.name),
                "language": .string(template.language),
                "parameters": .array((template.parameters ?? []).map(JSONValue.string)),
            ])
        }
        message.priority = priority
        message.status = MessageStatus.queued.rawValue
        message.attempts = 0
        message.maxAttempts = settings.maxAttempts
        message.scheduledAt = scheduledAt
        message.nextAttemptAt = Self.firstAttempt(now: now, scheduledAt: scheduledAt, priority: priority, quietHours: quietHours)
        message.fallbackDone = false
        if let fallback {
            message.fallbackChannels = .array(fallback.channels.map { .string($0.rawValue) })
            message.fallbackTo = .object(fallback.recipients.mapValues(JSONValue.string))
            message.fallbackAfter = input.fallbackAfter
            message.fallbackDueAt = input.fallbackAfter.map { now.addingTimeInterval(TimeInterval($0)) }
        }
        return message
    }

    /// When a new message is first due: its schedule (or now), moved past quiet hours unless urgent.
    static func firstAttempt(now: Date, scheduledAt: Date?, priority: String, quietHours: QuietHours?) -> Date {
        let due = max(now, scheduledAt ?? now)
        guard priority != "urgent", let quietHours, let end = quietHours.end(containing: due) else { return due }
        return end
    }

    struct IntegrationProblem: Error {
        let field: String
        let message: String
    }

    /// The named integration (UUID or public id), or the oldest enabled one of the channel's type.
    func resolveIntegration(channel: MessageChannel, requested: String?) async throws -> IntegrationConfig {
        let type = channel.integrationType
        guard let requested else {
            let first = try await IntegrationConfig.query(on: db)
                .filter(\.$integrationType == type.rawValue)
                .filter(\.$isEnabled == true)
                .sort(\.$createdAt).sort(\.$id)
                .first()
            guard let first else {
                throw IntegrationProblem(field: "channel", message: "no enabled \(type.rawValue) integration can carry this message; enable one in Settings → Integrations")
            }
            return first
        }
        let field = "integration_config_id"
        let row: IntegrationConfig? = if let uuid = UUID(uuidString: requested) {
            try await IntegrationConfig.find(uuid, on: db)
        } else if PublicID.matches(requested, .integration) {
            try await IntegrationConfig.query(on: db).filter(\.$publicID == requested).first()
        } else {
            nil
        }
        guard let row else { throw IntegrationProblem(field: field, message: "no integration has this id") }
        guard row.integrationType == type.rawValue else {
            throw IntegrationProblem(field: field, message: "is a \(row.integrationType) integration; \(channel.rawValue) messages need a \(type.rawValue) one")
        }
        guard row.isEnabled else {
            throw IntegrationProblem(field: field, message: "is disabled; enable it or choose another")
        }
        return row
    }
}
