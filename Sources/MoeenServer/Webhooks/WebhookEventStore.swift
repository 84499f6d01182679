import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit

/// Stores verified events, once per (integration, provider event id).
struct WebhookEventStore {
    let db: any Database

    /// Inserts the events that are new, in one statement (atomic on its own); returns how many were new.
    func insert(_ events: [ParsedWebhookEvent], provider: WebhookProvider, integration: UUID, now: Date) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        // One request may repeat an event; keep the first.
        var seen: Set<String> = []
        let unique = events.filter { seen.insert($0.eventID.replacingNULCharacters).inserted }
        guard let sql = db as? any SQLDatabase else { return 0 }
        var insert = sql.insert(into: WebhookEvent.schema)
            .columns("id", "public_id", "provider", "integration_config_id", "event_id", "event_type", "payload",
                     "received_at", "process_after", "created_at", "updated_at")
        for event in unique {
            insert = insert.values(
                SQLBind(OrderedUUID.next(now: now)), SQLBind(PublicID.make(.webhookEvent, at: now, randomHexDigits: 16)),
                SQLBind(provider.rawValue), SQLBind(integration), SQLBind(event.eventID.replacingNULCharacters),
                SQLBind(event.eventType.replacingNULCharacters.capped(characters: 100)), SQLBind(event.payload.replacingNULCharacters),
                SQLBind(now), SQLBind(now),
                SQLBind(now), SQLBind(now))
        }
        let rows = try await insert.ignoringConflicts(with: ["integration_config_id", "event_id"]).returning("id").all()
        return rows.count
    }
}
