import Fluent
import Foundation
import MoeenCore

/// The integration page's view of its webhook: what arrived at the URL and what was refused.
extension IntegrationPageController {
    /// How many of an integration's webhook events its page lists (the API pages through all of them).
    static let webhookEventLimit = 20

    /// The integration's latest webhook events, newest first in the API's order, and its refused requests.
    static func webhookActivity(_ integration: UUID, _ language: Language, on db: any Database) async throws -> IntegrationPage.WebhookActivity {
        let rows = try await WebhookEvent.query(on: db)
            .filter(\.$integrationID == integration)
            .sort(\.$createdAt, .descending)
            .sort(\.$id, .descending)
            .limit(webhookEventLimit)
            .all()
        let rejections = try await WebhookEventsController.rejections(integration, on: db)
        return IntegrationPage.WebhookActivity(
            events: rows.map { row in
                let badge = StatusBadge.webhookOutcome(row.outcome, language)
                return IntegrationPage.WebhookActivity.Event(
                    publicID: row.publicID, received: TimeDisplay(row.receivedAt, language), eventType: row.eventType,
                    outcome: badge.value, badge: badge, eventID: row.eventID)
            },
            rejected: rejections.count,
            rejectedText: language.format(Int(clamping: rejections.count)),
            lastRejected: rejections.lastAt.map { TimeDisplay($0, language) }
        )
    }
}
