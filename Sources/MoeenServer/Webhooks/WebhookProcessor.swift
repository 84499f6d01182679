import Fluent
import FluentSQL
import Foundation
import Logging
import MoeenCore
import SQLKit
import Synchronization
import Vapor

/// Applies stored webhook events after their 200: status changes to `outbound_messages`, inbound replies,
/// STOP/START opt-outs. Each batch is one transaction that marks its events processed together with their
/// effects, so an event is applied exactly once, whatever crashes in between; processes sharing a PostgreSQL
/// take disjoint batches (`SKIP LOCKED`).
final class WebhookProcessor: Sendable {
    private let db: any Database
    private let settings: DeliverySettings
    private let preferences: CentrePreferencesCache
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private let wake = WakeSignal()
    private let state = Mutex<(stopping: Bool, loop: Task<Void, Never>?)>((false, nil))

    /// How long a status for a message not (yet) known is kept waiting for the send's record before it is
    /// marked `unknown_message`.
    static let unknownMessageGrace: TimeInterval = 30
    static let batchSize = 50

    init(db: any Database, settings: DeliverySettings, preferences: CentrePreferencesCache,
         clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.db = db
        self.settings = settings
        self.preferences = preferences
        self.clock = clock
        self.logger = logger
    }

    func start() {
        state.withLock { state in
            guard state.loop == nil, !state.stopping else { return }
            state.loop = Task { await self.run() }
        }
    }

    func notify() { wake.signal() }

    func stop() async {
        let loop = state.withLock { state -> Task<Void, Never>? in
            state.stopping = true
            return state.loop
        }
        wake.signal()
        await loop?.value
    }

    private func run() async {
        var failures = 0
        while !state.withLock({ $0.stopping }), !Task.isCancelled {
            do {
                let processed = try await processOnce()
                failures = 0
                if processed == Self.batchSize { continue }
                await wake.wait(timeout: settings.pollInterval)
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("webhook processing cannot reach the database; trying again", metadata: ["error": .string(String(describing: error))])
                }
                await wake.wait(timeout: .milliseconds(min(100 * (1 << min(failures, 6)), 5_000)))
            }
        }
    }

    /// Processes one batch of due events; returns how many were taken. For tests and the loop.
    @discardableResult
    func processOnce() async throws -> Int {
        let now = clock()
        do {
            return try await db.transaction { tx in
                let events = try await Self.claim(limit: Self.batchSize, now: now, on: tx)
                for event in events { try await self.apply(event, now: now, on: tx) }
                return events.count
            }
        } catch {
            // One event's failure must not hold the others: take them one at a time, and mark the one that fails.
            logger.warning("a webhook batch failed; processing its events one by one", metadata: ["error": .string(String(describing: error))])
            var taken = 0
            for _ in 0..<Self.batchSize {
                let attempted = Mutex<UUID?>(nil)
                do {
                    let count = try await db.transaction { tx in
                        let events = try await Self.claim(limit: 1, now: now, on: tx)
                        for event in events {
                            attempted.withLock { $0 = event.id }
                            try await self.apply(event, now: now, on: tx)
                        }
                        return events.count
                    }
                    if count == 0 { break }
                    taken += count
                } catch {
                    guard let id = attempted.withLock({ $0 }) else { throw error }
                    try await WebhookEvent.query(on: db).filter(\.$id == id).filter(\.$processedAt == nil)
                        .set(\.$processedAt, to: now).set(\.$outcome, to: "failed")
                        .set(\.$processingError, to: String(describing: error).capped(characters: 500))
                        .update()
                    taken += 1
                }
            }
            return taken
        }
    }

    /// Marks up to `limit` due events processed (inside the caller's transaction) and returns them.
    static func claim(limit: Int, now: Date, on db: any Database) async throws -> [WebhookEvent] {
        guard let sql = db as? any SQLDatabase else { return [] }
        let lock: SQLQueryString = db.isPostgres ? " FOR UPDATE SKIP LOCKED" : ""
        let pick: SQLQueryString = """
            SELECT id FROM webhook_events WHERE processed_at IS NULL AND process_after <= \(bind: now)
            ORDER BY received_at, id LIMIT \(literal: limit)\(lock)
            """
        let query: SQLQueryString = db.isPostgres
            ? """
              WITH picked AS (\(pick))
              UPDATE webhook_events AS w SET processed_at = \(bind: now), updated_at = \(bind: now)
              FROM picked WHERE w.id = picked.id AND w.processed_at IS NULL RETURNING w.id
              """
            : """
              UPDATE webhook_events SET processed_at = \(bind: now), updated_at = \(bind: now)
              WHERE id IN (\(pick)) AND processed_at IS NULL RETURNING id
              """
        let ids = try await sql.raw(query).all().map { try $0.decode(column: "id", as: UUID.self) }
        guard !ids.isEmpty else { return [] }
        return try await WebhookEvent.query(on: db).filter(\.$id ~~ ids).sort(\.$receivedAt).sort(\.$id).all()
    }

    // MARK: - Applying one event

    private func apply(_ event: WebhookEvent, now: Date, on tx: any Database) async throws {
        let outcome: String
        switch (WebhookProvider(rawValue: event.provider), event.eventType) {
        case (.whatsapp?, let type) where type.hasPrefix("status."):
            let status = event.payload["status"] ?? .null
            let error = status["errors"]?.arrayValue?.first
            let detail = error.map { e in
                [e["code"].map { "code \($0.stringValue ?? $0.jsonText())" }, e["title"]?.stringValue, e["message"]?.stringValue]
                    .compactMap { $0 }.joined(separator: ": ")
            }
            outcome = try await applyStatus(
                event, providerIDs: [status["id"]?.stringValue].compactMap { $0 },
                target: Self.whatsAppTarget(String(type.dropFirst(7))), detail: detail,
                errorCode: error?["code"].map { $0.stringValue ?? $0.jsonText() }, now: now, on: tx)
        case (.twilio?, let type) where type.hasPrefix("status."):
            let state = String(type.dropFirst(7))
            let code = event.payload["ErrorCode"]?.stringValue
            outcome = try await applyStatus(
                event, providerIDs: [event.payload["MessageSid"]?.stringValue].compactMap { $0 },
                target: Self.twilioTarget(state), detail: "Twilio \(state)" + (code.map { " (error \($0))" } ?? ""),
                errorCode: code, now: now, on: tx)
        case (.sendgrid?, let type) where type.hasPrefix("event."):
            let name = String(type.dropFirst(6))
            let reason = event.payload["reason"]?.stringValue ?? event.payload["response"]?.stringValue
            outcome = try await applyStatus(
                event, providerIDs: Self.sendGridCandidates(event.payload["sg_message_id"]?.stringValue),
                target: Self.sendGridTarget(name), detail: "SendGrid \(name)" + (reason.map { ": \($0)" } ?? ""),
                errorCode: event.payload["status"]?.stringValue, now: now, on: tx)
        case (.whatsapp?, "message"):
            let message = event.payload["message"] ?? .null
            let text = message["text"]?["body"]?.stringValue ?? message["button"]?["text"]?.stringValue
                ?? message["interactive"]?["button_reply"]?["title"]?.stringValue
            outcome = try await applyInbound(
                event, channel: .whatsapp, from: message["from"]?.stringValue,
                to: event.payload["metadata"]?["display_phone_number"]?.stringValue, text: text,
                providerID: message["id"]?.stringValue, now: now, on: tx)
        case (.twilio?, "message"):
            outcome = try await applyInbound(
                event, channel: .sms, from: event.payload["From"]?.stringValue, to: event.payload["To"]?.stringValue,
                text: event.payload["Body"]?.stringValue, providerID: event.payload["MessageSid"]?.stringValue, now: now, on: tx)
        default:
            outcome = "recorded"
        }
        if outcome == "later" { return }
        event.outcome = outcome
        try await event.save(on: tx)
    }

    /// Statuses a provider reports, as ours; `nil` for those that are only recorded (events, not changes).
    static func whatsAppTarget(_ status: String) -> MessageStatus? {
        switch status {
        case "sent": .sent
        case "delivered": .delivered
        case "read": .read
        case "failed": .failed
        default: nil
        }
    }

    static func twilioTarget(_ status: String) -> MessageStatus? {
        switch status {
        case "sent": .sent
        case "delivered": .delivered
        case "read": .read
        case "undelivered", "failed": .failed
        default: nil  // queued, accepted, sending, scheduled, canceled, receiving, received
        }
    }

    static func sendGridTarget(_ event: String) -> MessageStatus? {
        switch event {
        case "delivered": .delivered
        case "open": .read
        case "bounce", "dropped": .failed
        default: nil  // processed, deferred, click, spamreport, unsubscribe…
        }
    }

    /// SendGrid's `sg_message_id` is the `X-Message-Id` we stored followed by `.filter…` parts: every prefix
    /// ending at a dot is a candidate.
    static func sendGridCandidates(_ id: String?) -> [String] {
        guard let id, !id.isEmpty else { return [] }
        var candidates = [id]
        var index = id.startIndex
        while let dot = id[index...].firstIndex(of: ".") {
            candidates.append(String(id[..<dot]))
            index = id.index(after: dot)
            if candidates.count > 12 { break }
        }
        return candidates
    }

    /// Which states each reported status may move a message from: forward only (a late `delivered` after
    /// `read` changes nothing; nothing moves a `delivered` message to `failed`).
    static func allowed(from current: MessageStatus, to target: MessageStatus) -> Bool {
        switch target {
        case .sent: [.queued, .sending].contains(current)
        case .delivered: [.queued, .sending, .sent].contains(current)
        case .read: [.queued, .sending, .sent, .delivered].contains(current)
        case .failed: [.queued, .sending, .sent].contains(current)
        default: false
        }
    }

    private func applyStatus(
        _ event: WebhookEvent, providerIDs: [String], target: MessageStatus?, detail: String?, errorCode: String?,
        now: Date, on tx: any Database
    ) async throws -> String {
        guard !providerIDs.isEmpty,
              let message = try await OutboundMessage.query(on: tx)
                .filter(\.$integration.$id == event.integrationID)
                .filter(\.$providerMessageID ~~ providerIDs).first(),
              let messageID = message.id, let current = message.messageStatus
        else {
            // The status may have overtaken the record of its send (a send of this integration still in flight):
            // then wait a little before calling it unknown; otherwise it is unknown now.
            let inFlight = try await OutboundMessage.query(on: tx)
                .filter(\.$integration.$id == event.integrationID)
                .filter(\.$status == MessageStatus.sending.rawValue)
                .count() > 0
            if inFlight, now.timeIntervalSince(event.receivedAt) < Self.unknownMessageGrace {
                event.processedAt = nil
                event.processAfter = now.addingTimeInterval(2)
                try await event.save(on: tx)
                return "later"
            }
            return "unknown_message"
        }
        guard let target else {
            try await MessageStore(db: tx).insertEvents([(messageID, current, detail ?? event.eventType)], at: now, source: .webhook)
            return "recorded"
        }
        guard Self.allowed(from: current, to: target), let sql = tx as? any SQLDatabase else { return "unchanged" }
        var update = sql.update(OutboundMessage.schema)
            .set("status", to: SQLBind(target.rawValue))
            .set("updated_at", to: SQLBind(now))
            .set("next_attempt_at", to: SQLLiteral.null)
            .set("lease_owner", to: SQLLiteral.null)
            .set("lease_expires_at", to: SQLLiteral.null)
        switch target {
        case .sent: update = update.set("sent_at", to: SQLBind(message.sentAt ?? now))
        case .delivered: update = update.set("delivered_at", to: SQLBind(now))
        case .read:
            update = update.set("read_at", to: SQLBind(now))
            if message.deliveredAt == nil { update = update.set("delivered_at", to: SQLBind(now)) }
        case .failed:
            update = update.set("failed_at", to: SQLBind(now))
                .set("last_error", to: SQLBind((detail ?? "the provider reported a failure").capped(characters: 500)))
                .set("last_error_code", to: SQLBind(errorCode))
        default: break
        }
        let changed = try await update.where("id", .equal, SQLBind(messageID))
            .where("status", .equal, SQLBind(current.rawValue))
            .returning("id").all()
        guard !changed.isEmpty else { return "unchanged" }
        try await MessageStore(db: tx).insertEvents([(messageID, target, detail)], at: now, source: .webhook)
        if target == .failed, message.fallbackChannels != nil {
            let quiet = await preferences.current(on: tx).activeQuietHours
            try await Fallback(db: tx, settings: settings, quietHours: quiet).make(for: messageID, because: "failed (reported by the provider)", now: now)
        }
        return "applied"
    }

    // MARK: - Inbound replies and STOP

    static let stopWords: Set<String> = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
                                         "إيقاف", "ايقاف", "الغاء", "إلغاء", "توقف", "أوقف", "اوقف"]
    static let startWords: Set<String> = ["START", "UNSTOP", "YES", "SUBSCRIBE", "اشتراك", "إشتراك", "ابدأ", "ابدا"]

    /// The reply as a keyword: trimmed, upper-cased, punctuation and invisible marks removed.
    static func keyword(_ text: String?) -> String {
        guard let text, text.count <= 40 else { return "" }
        let kept = text.unicodeScalars.filter { CharacterSet.letters.contains($0) || CharacterSet.decimalDigits.contains($0) }
        return String(String.UnicodeScalarView(kept)).uppercased()
    }

    private func applyInbound(
        _ event: WebhookEvent, channel: MessageChannel, from rawFrom: String?, to rawTo: String?, text: String?,
        providerID: String?, now: Date, on tx: any Database
    ) async throws -> String {
        let cleaned = rawFrom.map { $0.replacingOccurrences(of: "whatsapp:", with: "") } ?? ""
        guard let from = PhoneNumber.normalizeE164(cleaned.hasPrefix("+") ? cleaned : "+" + cleaned) else { return "recorded" }
        let inbound = InboundMessage()
        inbound.id = UUID()
        inbound.publicID = PublicID.make(.inboundMessage, at: now, randomHexDigits: 16)
        inbound.channel = channel.rawValue
        inbound.integrationID = event.integrationID
        inbound.webhookEventID = event.id
        inbound.from = from
        inbound.to = rawTo.map { $0.replacingOccurrences(of: "whatsapp:", with: "").capped(characters: 64) }
        inbound.text = text?.capped(characters: 4096)
        inbound.providerMessageID = providerID?.capped(characters: 255)
        inbound.receivedAt = event.receivedAt
        (inbound.patientID, inbound.contactID) = try await Self.match(phone: from, on: tx)
        let word = Self.keyword(text)
        var outcome = "inbound"
        if Self.stopWords.contains(word) {
            _ = try await OptOuts.add(channel: channel, address: from, reason: "replied \(text ?? word)", source: .webhook, by: nil, on: tx, now: now)
            inbound.optOutAction = "opt_out"
            outcome = "opt_out"
        } else if Self.startWords.contains(word) {
            try await RecipientOptOut.query(on: tx).filter(\.$channel == channel.rawValue).filter(\.$address == from).delete()
            inbound.optOutAction = "opt_in"
            outcome = "opt_in"
        }
        try await inbound.create(on: tx)
        return outcome
    }

    /// The patient and CRM contact whose phone is this number, in whatever form it was typed.
    static func match(phone: String, on db: any Database) async throws -> (UUID?, UUID?) {
        guard let sql = db as? any SQLDatabase else { return (nil, nil) }
        // Candidates whose digits end like the number (spaces, dashes, dots and brackets ignored), then the
        // one rule that decides: the same E.164 form.
        let pattern = "%" + String(phone.suffix(9))
        func candidates(_ table: String) async throws -> [(UUID, String)] {
            try await sql.raw("""
                SELECT id, phone FROM \(ident: table)
                WHERE REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(phone, ' ', ''), '-', ''), '.', ''), '(', ''), ')', '') LIKE \(bind: pattern)
                LIMIT 50
                """).all().map { (try $0.decode(column: "id", as: UUID.self), try $0.decode(column: "phone", as: String.self)) }
        }
        let patient = try await candidates(Patient.schema).first { PhoneNumber.normalizeE164($0.1) == phone }?.0
        let contact = try await candidates(CRMContact.schema).first { PhoneNumber.normalizeE164($0.1) == phone }?.0
        return (patient, contact)
    }
}

extension Application {
    private struct WebhookProcessorKey: StorageKey {
        typealias Value = WebhookProcessor
    }

    /// This process's webhook processor, if it runs one (serve and worker do).
    var runningWebhookProcessor: WebhookProcessor? { storage[WebhookProcessorKey.self] }

    var webhookProcessor: WebhookProcessor {
        if let processor = storage[WebhookProcessorKey.self] { return processor }
        let processor = WebhookProcessor(db: db, settings: moeenConfiguration.delivery, preferences: centrePreferences,
                                         logger: Logger(label: "moeen.webhooks"))
        storage[WebhookProcessorKey.self] = processor
        return processor
    }
}
