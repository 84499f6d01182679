import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit

/// Channel fallback: when a message ends `failed` or `dead`, or is not `delivered` by its `fallback_after`,
/// a child message goes out on the next channel (`parent_id`), once.
struct Fallback {
    let db: any Database
    let settings: DeliverySettings
    var quietHours: QuietHours?

    /// Makes the fallback of `parentID` if it has one still to make; returns the child, if one was made.
    /// Safe to call from several processes at once: one flag, set by one conditional statement, decides.
    @discardableResult
    func make(for parentID: UUID, because reason: String, now: Date) async throws -> OutboundMessage? {
        try await db.transaction { tx in
            guard let sql = tx as? any SQLDatabase else { return nil }
            let won = try await sql.update(OutboundMessage.schema)
                .set("fallback_done", to: SQLBind(true))
                .set("updated_at", to: SQLBind(now))
                .where("id", .equal, SQLBind(parentID))
                .where("fallback_done", .equal, SQLBind(false))
                .where("fallback_channels", .isNot, SQLLiteral.null)
                .returning("id")
                .all()
            guard !won.isEmpty, let parent = try await OutboundMessage.find(parentID, on: tx),
                  let parentStatus = parent.messageStatus
            else { return nil }
            var remaining = parent.fallbackChannelList
            guard !remaining.isEmpty else { return nil }
            let channel = remaining.removeFirst()
            let store = MessageStore(db: tx)
            let parentEvent: (String) async throws -> Void = { detail in
                try await store.insertEvents([(parentID, parentStatus, detail)], at: now, source: .dispatcher)
            }
            guard let recipient = parent.fallbackTo?[channel.rawValue]?.stringValue else {
                try await parentEvent("fallback to \(channel.rawValue) impossible: no recipient")
                return nil
            }
            if channel != .slack, try await OptOuts.isOptedOut(channel: channel.rawValue, address: recipient, on: tx) {
                try await parentEvent("fallback to \(channel.rawValue) skipped: the recipient opted out")
                return nil
            }
            let intake = MessageIntake(db: tx, settings: settings, now: now, quietHours: quietHours)
            let integration: IntegrationConfig
            do {
                integration = try await intake.resolveIntegration(channel: channel, requested: nil)
            } catch let problem as MessageIntake.IntegrationProblem {
                try await parentEvent("fallback to \(channel.rawValue) impossible: \(problem.message)")
                return nil
            }
            let child = OutboundMessage()
            child.id = UUID()
            child.publicID = PublicID.make(.message, at: now, randomHexDigits: 16)
            child.channel = channel.rawValue
            child.$integration.id = try integration.requireID()
            child.patientID = parent.patientID
            child.contactID = parent.contactID
            child.parentID = parentID
            child.recipient = recipient
            child.text = parent.text
            child.subject = channel == .email ? parent.subject : nil
            child.html = channel == .email ? parent.html : nil
            child.priority = parent.priority
            child.status = MessageStatus.queued.rawValue
            child.attempts = 0
            child.maxAttempts = settings.maxAttempts
            child.nextAttemptAt = MessageIntake.firstAttempt(now: now, scheduledAt: nil, priority: parent.priority,
                                                             quietHours: quietHours)
            child.createdBy = parent.createdBy
            child.fallbackDone = remaining.isEmpty
            if !remaining.isEmpty {
                child.fallbackChannels = .array(remaining.map { .string($0.rawValue) })
                child.fallbackTo = parent.fallbackTo
                child.fallbackAfter = parent.fallbackAfter
                child.fallbackDueAt = parent.fallbackAfter.map { now.addingTimeInterval(TimeInterval($0)) }
            }
            try await child.create(on: tx)
            // A message to a CRM contact is an activity of theirs, the fallback too.
            if child.contactID != nil { try await MessageIntake.recordContactActivity(child, createdBy: child.createdBy, on: tx) }
            try await store.insertEvents([(try child.requireID(), .queued, "fallback from \(parent.publicID): \(reason)")],
                                         at: now, source: .dispatcher)
            try await parentEvent("fallback: \(child.publicID) on \(channel.rawValue) (\(reason))")
            return child
        }
    }

    /// Messages past their `fallback_after` and not delivered (nor failed/dead, whose fallback is made when they
    /// end): the fallback is made for each. Returns how many were made.
    @discardableResult
    func sweepOverdue(now: Date, limit: Int = 100) async throws -> Int {
        let overdue = try await OutboundMessage.query(on: db)
            .filter(\.$fallbackDone == false)
            .filter(\.$fallbackDueAt <= now)
            .filter(\.$status ~~ [MessageStatus.queued.rawValue, MessageStatus.sending.rawValue, MessageStatus.sent.rawValue])
            .limit(limit)
            .all()
        var made = 0
        for message in overdue {
            guard let id = message.id else { continue }
            let reason = "not delivered within \(message.fallbackAfter ?? 0) s"
            if try await make(for: id, because: reason, now: now) != nil { made += 1 }
        }
        return made
    }
}
