import Fluent
import Foundation
import Logging
import MoeenCore

/// Sends an alert's notifications through the outbox: for each channel of the rule, a Slack integration gets
/// one text message, an e-mail integration one message per recipient with a subject. Messages are `urgent`
/// (never held by quiet hours), have no user, and carry English then Arabic text naming the integration, what
/// is wrong, since when (UTC) and the admin page. A channel that cannot take the message (integration
/// disabled or deleted, recipient opted out) is logged and skipped; the others are still sent.
struct AlertNotifier: Sendable {
    let db: any Database
    let settings: DeliverySettings
    let publicURL: String?
    let logger: Logger
    let wake: @Sendable () -> Void

    enum Notice: String, Sendable {
        case firing, reminder, stageChanged = "stage_changed", resolved
    }

    /// Queues the notice to every channel of the rule; returns how many messages were queued.
    func notify(_ notice: Notice, alert: Alert, rule: AlertRule, integration: IntegrationConfig?, now: Date) async -> Int {
        let channels = rule.channelList
        guard !channels.isEmpty else { return 0 }
        let text = Self.text(notice, alert: alert, rule: rule, integration: integration, link: link(for: integration), now: now)
        let subject = Self.subject(notice, rule: rule, integration: integration)
        let intake = MessageIntake(db: db, settings: settings, now: now, quietHours: nil)
        let round = "\(alert.publicID):\(notice.rawValue):\(Int64(now.timeIntervalSince1970))"
        var queued = 0
        for channel in channels {
            let targets: [(channel: String, to: String?)] = channel.recipients.isEmpty
                ? [("slack", nil)] : channel.recipients.map { ("email", $0) }
            for target in targets {
                var request = MessageRequest(channel: target.channel, to: target.to, text: text, integrationConfigID: channel.integrationID)
                request.priority = "urgent"
                if target.channel == "email" { request.subject = subject }
                let key = "alert:\(round):\(channel.integrationID):\(target.to ?? "slack")".capped(characters: MessageIntake.maximumKeyLength)
                do {
                    let outcome = try await intake.accept(request, idempotencyKey: key, requestHash: nil, createdBy: nil, source: .dispatcher)
                    if !outcome.replayed { queued += 1 }
                } catch {
                    logger.warning("alert notification not queued", metadata: [
                        "alert": .string(alert.publicID), "channel_integration": .string(channel.integrationID),
                        "error": .string(Self.describe(error)),
                    ])
                }
            }
        }
        if queued > 0 { wake() }
        return queued
    }

    /// The integration's admin page (or the Alerts tab), absolute when `MOEEN_PUBLIC_URL` is set.
    func link(for integration: IntegrationConfig?) -> String {
        let path = integration.map { SiteURL.integration(publicID: $0.publicID).path } ?? SiteURL.settings(.alerts).path
        return (publicURL ?? "") + path
    }

    static func subject(_ notice: Notice, rule: AlertRule, integration: IntegrationConfig?) -> String {
        let what = integration.map { "\($0.name) (\($0.integrationType))" } ?? "Moeen Hub"
        let prefix = notice == .resolved ? "Resolved" : "Alert"
        return "[Moeen Hub] \(prefix): \(what): \(rule.name)".capped(characters: 300)
    }

    /// English, then Arabic, in one message.
    static func text(_ notice: Notice, alert: Alert, rule: AlertRule, integration: IntegrationConfig?, link: String, now: Date) -> String {
        let type = integration.flatMap { IntegrationType(rawValue: $0.integrationType) }
        let nameEN = integration.map { "\($0.name) (\(type?.labelEN ?? $0.integrationType))" } ?? alert.subject
        let nameAR = integration.map { "\($0.name) (\(type?.labelAR ?? $0.integrationType))" } ?? alert.subject
        let since = RFC3339Text.format(alert.firedAt)
        let summaryAR = alert.details?["summary_ar"]?.stringValue ?? alert.summary
        var english: [String]
        var arabic: [String]
        switch notice {
        case .resolved:
            let until = RFC3339Text.format(alert.resolvedAt ?? now)
            english = ["[Moeen Hub] RESOLVED: \(nameEN)", "Rule: \(rule.name)", "Was: \(alert.summary)",
                       "From \(since) to \(until) (UTC)"]
            arabic = ["[معين] تم حلّ التنبيه: \(nameAR)", "كانت المشكلة: \(summaryAR)", "من \(since) إلى \(until) (بالتوقيت العالمي UTC)"]
        case .firing, .reminder, .stageChanged:
            let heading = switch notice {
            case .firing: "ALERT"
            case .stageChanged: "ALERT (update)"
            default: "STILL FAILING (reminder)"
            }
            let headingAR = switch notice {
            case .firing: "تنبيه"
            case .stageChanged: "تنبيه (تحديث)"
            default: "تذكير: المشكلة مستمرة"
            }
            english = ["[Moeen Hub] \(heading): \(nameEN)", "Rule: \(rule.name)", "What is wrong: \(alert.summary)",
                       "Since: \(since) (UTC)"]
            arabic = ["[معين] \(headingAR): \(nameAR)", "المشكلة: \(summaryAR)",
                      "منذ: \(since) (بالتوقيت العالمي UTC)"]
        }
        english.append("Open: \(link)")
        arabic.append("الرابط: \(link)")
        return (english + ["", "—", ""] + arabic).joined(separator: "\n")
    }

    static func describe(_ error: any Error) -> String {
        if let apiError = error as? APIError {
            let fields = (apiError.fields ?? [:]).map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ")
            return "\(apiError.message) \(fields)".capped(characters: 300)
        }
        return String(describing: error).capped(characters: 300)
    }
}
