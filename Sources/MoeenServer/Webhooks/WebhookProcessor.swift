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
