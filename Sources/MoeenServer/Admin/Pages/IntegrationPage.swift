import Foundation
import MoeenCore

/// `/settings/integrations/{public_id}`: the settings form, test connection, webhook URL, health, test log.
struct IntegrationPage: Encodable {
    struct Field: Encodable {
        let id: String
        let inputName: String
        let label: String
        /// The label in runs, words in Latin letters inside an Arabic label marked as English (`unlimited`, `SID`).
        let labelParts: [TextPart]
        let inputType: String
        let required: Bool
        let secret: Bool
        /// Plain settings only; a secret's value is never put in the page.
        let value: String
        let placeholder: String
        /// For a secret: "set, ending …abcd" or "not set".
        let secretState: String?
        /// The stored secret's last characters (`…9f2c`), shown left to right inside either language.
        let secretHint: String?
        /// The stored secret cannot be decrypted: the input is required and says "enter it again" instead
        /// of "leave empty to keep".
        let mustReenter: Bool
        let error: String?
        let ltr: Bool
    }

    struct Result: Encodable {
        let status: String
        let badge: StatusBadge
        let message: String
        let duration: String?
        let statusCode: Int?
        let at: TimeDisplay?
    }

    /// The notice above the form when the stored secrets cannot be used: why, and what to do.
    struct SecretsNotice: Encodable {
        /// `unreadable` (enter every secret again) or `unavailable` (the key provider is down).
        let kind: String
        let title: String
        let body: String
        /// The service's technical reason (key ids, never a secret), shown left to right.
        let reason: String

        init(_ problem: SecretsProblem, _ language: Language) {
            kind = problem.kind.rawValue
            title = Strings.text("secrets_\(problem.kind.rawValue)_title", language)
            body = Strings.text("secrets_\(problem.kind.rawValue)_body", language)
            reason = problem.reason
        }
    }

    /// What arrived at the webhook URL: the latest events and the requests refused for their signature.
    struct WebhookActivity: Encodable {
        struct Event: Encodable {
            let publicID: String
            let received: TimeDisplay
            /// `status.delivered`, `message`, `event.open`… as the provider named it.
            let eventType: String
            /// What processing did (`applied` … `failed`), or `waiting`.
            let outcome: String
            let badge: StatusBadge
            /// The provider's id of the event (what a duplicate repeats).
            let eventID: String
        }

        /// The latest events, newest first (at most `IntegrationPageController.webhookEventLimit`).
        let events: [Event]
        /// Requests refused for a missing, wrong or stale signature (nothing of them is kept but the count).
        let rejected: Int64
        let rejectedText: String
        let lastRejected: TimeDisplay?
    }

    struct LogRow: Encodable {
        let id: String
        let at: TimeDisplay?
        let testType: String
        let badge: StatusBadge?
        let message: String
        let duration: String
    }

    let frame: PageFrame
    let publicID: String
    let type: String
    let typeLabel: String
    let name: String
    let description: String
    let enabled: StatusBadge
    let isEnabled: Bool
    let status: StatusBadge
    let canEdit: Bool
    let canTest: Bool
    let saveAction: String
    let enableAction: String
    let testAction: String
    let nameError: String?
    let formError: String?
    let secretsNotice: SecretsNotice?
    let fields: [Field]
    let result: Result?
    let testError: String?
    let webhookURL: String?
    /// Types with a webhook URL: its latest events and refused requests.
    let webhook: WebhookActivity?
    /// Messaging types only: whether sending through the integration is active, paused or half-open.
    let delivery: DeliveryStateView?
    let health: HealthBadge
    let chart: HealthChart
    let logs: [LogRow]
    /// The `credentials_expire_at` date field (`CredentialExpiryDisplay.swift`).
    var credentialsExpiry: CredentialExpiryField? = nil
}

/// The health score over time as an inline SVG line chart (no script needed), with a table as its text
/// alternative. Coordinates are computed here; the template only draws them.
struct HealthChart: Encodable {
    struct Point: Encodable {
        let x: Int
        let y: Int
        let score: Int
        let at: TimeDisplay
    }

    struct Gridline: Encodable {
        let y: Int
        let label: String
    }

    static let width = 600
    static let height = 200
    static let padding = 30

    let width: Int
    let height: Int
    let points: [Point]
    /// The `points` attribute of the polyline.
    let polyline: String
    let gridlines: [Gridline]
    let summary: String
    let isEmpty: Bool

    init(_ history: [(at: Date, score: Int)], language: Language) {
        width = Self.width
        height = Self.height
        let sorted = history.sorted { $0.at < $1.at }.suffix(50)
        let plotWidth = Double(Self.width - 2 * Self.padding)
        let plotHeight = Double(Self.height - 2 * Self.padding)
        let count = sorted.count
        var points: [Point] = []
        for (index, entry) in sorted.enumerated() {
            let fraction = count > 1 ? Double(index) / Double(count - 1) : 0.5
            let x = Self.padding + Int((fraction * plotWidth).rounded())
            let clamped = min(100, max(0, entry.score))
            let y = Self.padding + Int(((1 - Double(clamped) / 100) * plotHeight).rounded())
            points.append(Point(x: x, y: y, score: clamped, at: TimeDisplay(entry.at, language)))
        }
        self.points = points
        polyline = points.map { "\($0.x),\($0.y)" }.joined(separator: " ")
        gridlines = [100, 50, 0].map { value in
            Gridline(y: Self.padding + Int(((1 - Double(value) / 100) * plotHeight).rounded()), label: String(value))
        }
        isEmpty = points.isEmpty
        if let first = points.first, let last = points.last {
            let title = Strings.text("health_chart_title", language)
            summary = "\(title): \(first.score) → \(last.score) (\(points.count))"
        } else {
            summary = Strings.text("health_chart_empty", language)
        }
    }

    /// A score history rebuilt from test logs (until the health history table is kept): after each test,
    /// the score `HealthScore` gives for the tests so far.
    static func history(fromLogs logs: [(at: Date, success: Bool, durationMs: Int)]) -> [(at: Date, score: Int)] {
        let sorted = logs.sorted { $0.at < $1.at }
        var result: [(at: Date, score: Int)] = []
        for index in sorted.indices {
            let upTo = Array(sorted[...index])
            result.append((sorted[index].at, HealthScore.compute(results: upTo, now: sorted[index].at)))
        }
        return result
    }
}

/// A run of text in a page's language, or (`foreign`) a word in Latin letters inside Arabic text, which a page
/// marks `lang="en" dir="ltr"` so that screen readers pronounce it as English and it reads left to right.
struct TextPart: Encodable, Equatable {
    let text: String
    let foreign: Bool

    static func split(_ text: String, _ language: Language) -> [TextPart] {
        guard language == .ar else { return [TextPart(text: text, foreign: false)] }
        var parts: [TextPart] = []
        var current = ""
        var currentForeign = false
        for character in text {
            // A Latin letter starts or continues an English run; digits, `_` and `-` continue one but never start it.
            let latin = character.isASCII && character.isLetter
            let continues = currentForeign && character.isASCII && (character.isNumber || character == "_" || character == "-")
            let foreign = latin || continues
            if foreign != currentForeign, !current.isEmpty {
                parts.append(TextPart(text: current, foreign: currentForeign))
                current = ""
            }
            currentForeign = foreign
            current.append(character)
        }
        if !current.isEmpty { parts.append(TextPart(text: current, foreign: currentForeign)) }
        return parts
    }
}

extension FieldKind {
    /// The `<input type>` of the field.
    var inputType: String {
        switch self {
        case .url: "url"
        case .phone: "tel"
        case .email: "email"
        case .secret: "password"
        case .text, .select: "text"
        }
    }
}
