import Foundation

/// How statuses and scores read on a page: always a word and an icon, never colour alone.
struct StatusBadge: Encodable, Equatable {
    /// The machine value (`success`, `failed`, `timeout`, `active`…), also the CSS modifier.
    let value: String
    let label: String
    /// A decorative symbol (hidden from screen readers; the label carries the meaning).
    let icon: String

    static func testResult(_ status: String?, _ language: Language) -> StatusBadge? {
        guard let status else { return nil }
        let icon = switch status {
        case "success": "✓"
        case "failed": "✗"
        case "timeout": "⏱"
        default: "…"
        }
        return StatusBadge(value: status, label: Strings.text("result_\(status)", language), icon: icon)
    }

    static func integrationStatus(_ status: String, _ language: Language) -> StatusBadge {
        let icon = switch status {
        case "active": "●"
        case "error": "!"
        case "testing": "…"
        default: "○"
        }
        return StatusBadge(value: status, label: Strings.text("status_\(status)", language), icon: icon)
    }

    /// A message's state (`queued` … `cancelled`); an unknown value is shown as it is.
    static func messageStatus(_ status: String, _ language: Language) -> StatusBadge {
        let icon = switch status {
        case "queued": "…"
        case "sending": "↻"
        case "sent": "✓"
        case "delivered": "✓✓"
        case "read": "◉"
        case "failed": "✗"
        case "dead": "⊘"
        case "cancelled": "–"
        default: "?"
        }
        let key = "msg_status_\(status)"
        return StatusBadge(value: status, label: Strings.table[key] == nil ? status : Strings.text(key, language), icon: icon)
    }

    /// What processing a webhook event did (`applied` … `failed`), or `waiting` before it is processed; an
    /// unknown value is shown as it is.
    static func webhookOutcome(_ outcome: String?, _ language: Language) -> StatusBadge {
        let value = outcome ?? "waiting"
        let icon = switch value {
        case "applied": "✓"
        case "unchanged": "="
        case "unknown_message": "?"
        case "inbound": "↩"
        case "opt_out": "⊘"
        case "opt_in": "↺"
        case "recorded": "•"
        case "failed": "✗"
        case "waiting": "…"
        default: "?"
        }
        let key = "webhook_outcome_\(value)"
        return StatusBadge(value: value, label: Strings.table[key] == nil ? value : Strings.text(key, language), icon: icon)
    }

    /// Whether an inbound reply opted its sender out (`opt_out`) or back in (`opt_in`); nothing otherwise.
    static func inboundAction(_ action: String?, _ language: Language) -> StatusBadge? {
        guard let action else { return nil }
        let key = "inbound_action_\(action)"
        return StatusBadge(value: action, label: Strings.table[key] == nil ? action : Strings.text(key, language),
                           icon: action == "opt_out" ? "⊘" : action == "opt_in" ? "↺" : "?")
    }

    static func enabled(_ enabled: Bool, _ language: Language) -> StatusBadge {
        StatusBadge(value: enabled ? "on" : "off", label: Strings.text(enabled ? "enabled" : "disabled", language), icon: enabled ? "✓" : "–")
    }
}

/// A health score as shown: the number, a level word and an icon.
struct HealthBadge: Encodable, Equatable {
    let score: Int
    let level: String
    let label: String
    let icon: String

    init(score: Int, tested: Bool, _ language: Language) {
        self.score = score
        let level = !tested ? "unknown" : score >= 80 ? "good" : score >= 50 ? "fair" : "poor"
        self.level = level
        label = Strings.text("health_\(level)", language)
        icon = switch level {
        case "good": "▲"
        case "fair": "◆"
        case "poor": "▼"
        default: "?"
        }
    }
}

/// A time as shown: the viewer's format, and the machine-readable value for `<time datetime>`.
struct TimeDisplay: Encodable, Equatable {
    let text: String
    let iso: String

    init(_ date: Date, _ language: Language) {
        text = language.format(date)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        iso = formatter.string(from: date)
    }
}
