import Fluent
import FluentSQL
import Foundation
import MoeenCore
import SQLKit

/// What a rule's condition measured for one integration.
struct AlertMeasurement: Sendable {
    var firing: Bool
    var value: Double?
    /// What is wrong, in plain English (stored on the alert).
    var summary: String
    /// The same in Arabic (for the notification; kept in the alert's details).
    var summaryAR: String
    /// Extra facts for the alert's details.
    var details: [String: JSONValue] = [:]
    /// `credential_expiry` only: the notice stage reached (14, 7, 1 days; 0 = expired).
    var stage: Int?

    static let clear = AlertMeasurement(firing: false, value: nil, summary: "", summaryAR: "")
}

/// The measurements, one function per kind, all read from the database at `now`.
///
/// - `health_below`: the last `integration_health_history` point at or before `now - window` and every point
///   since are below the threshold (the score stayed below it for the whole window).
/// - `consecutive_failures`: the last N test connections of the stored settings (manual tests and scheduled
///   health checks, `integration_test_logs`) all failed. Dispatch failures are measured by
///   `dispatch_failure_rate` and `dead_messages`, not here.
/// - `dispatch_failure_rate`: over the messages whose send finished (a dispatcher `sent`, `failed` or `dead`
///   event) in the window, by their current status: (failed + dead) / (sent + delivered + read + failed + dead),
///   only when at least ``minimumSends`` finished; the threshold is a fraction 0–1.
/// - `queue_age`: the oldest `queued` message due (`next_attempt_at`) more than threshold seconds ago
///   (messages waiting for a retry time or quiet hours are not due yet).
/// - `dead_messages`: messages that went `dead` in the window.
/// - `signature_failures`: growth of the integration's `webhook_rejections.count` over the window, from the
///   samples the evaluator keeps in `webhook_rejection_samples` (see ``AlertEvaluator/sampleRejections(now:)``).
/// - `receipts_missing`: the silent failure. Webhooks count as configured once the integration has received
///   at least one verified webhook event (`webhook_events`; a request failing its signature is never stored),
///   so an integration whose callbacks were never set up is not reported. Considered: messages accepted by the
///   provider (`sent_at`) within the window and more than threshold minutes ago; fires when there is at least
///   one and none of them got a receipt (a `delivered`, `read` or `failed` event from a webhook).
/// - `credential_expiry`: `integration_configs.credentials_expire_at` within threshold days (default 14); the
///   stage moves to 7, 1 and 0 (expired), each a new notice whatever the cooldown.
extension AlertEvaluator {
    /// Fewest finished sends in the window for `dispatch_failure_rate` to judge.
    static let minimumSends = 5

    struct Context: Sendable {
        let now: Date
        /// `credentials_expire_at` by integration (empty when the column is not there yet).
        let expiries: [UUID: Date]
        /// `webhook_rejections` now and the samples, by integration.
        let rejections: [UUID: RejectionCounts]
    }

    struct RejectionCounts: Sendable {
        var count: Int64
        var lastAt: Date
        /// (sampled_at, count), oldest first.
        var samples: [(at: Date, count: Int64)]
    }

    func measure(_ kind: AlertKind, rule: AlertRule, integration row: IntegrationConfig, context: Context) async throws -> AlertMeasurement {
        let id = try row.requireID()
        let threshold = rule.threshold ?? 0
        let window = TimeInterval(rule.windowSeconds ?? 900)
        let windowText = DurationText.format(.seconds(Int64(window)))
        let now = context.now
        switch kind {
        case .healthBelow:
            let start = now.addingTimeInterval(-window)
            let before = try await sql.raw("""
                SELECT score FROM integration_health_history WHERE integration_config_id = \(bind: id)
                AND recorded_at <= \(bind: start) ORDER BY recorded_at DESC LIMIT 1
                """).first(decoding: ScoreRow.self)
            let since = try await sql.raw("""
                SELECT MAX(score) AS score FROM integration_health_history WHERE integration_config_id = \(bind: id)
                AND recorded_at > \(bind: start) AND recorded_at <= \(bind: now)
                """).first(decoding: OptionalScoreRow.self)
            guard let before, Double(before.score) < threshold else { return .clear }
            if let highest = since?.score, Double(highest) >= threshold { return .clear }
            guard Double(row.healthScore) < threshold else { return .clear }
            return AlertMeasurement(
                firing: true, value: Double(row.healthScore),
                summary: "Health score \(row.healthScore) has stayed below \(AlertJSON.number(threshold)) for at least \(windowText).",
                summaryAR: "درجة الصحة \(row.healthScore) أقل من \(AlertJSON.number(threshold)) منذ \(windowText) على الأقل.")

        case .consecutiveFailures:
            let needed = max(1, Int(threshold))
            let rows = try await sql.raw("""
                SELECT status FROM integration_test_logs WHERE integration_config_id = \(bind: id)
                AND config_source = 'stored' AND status IN ('success', 'failed')
                ORDER BY created_at DESC LIMIT \(unsafeRaw: String(needed))
                """).all(decoding: StatusRow.self)
            guard rows.count >= needed, rows.allSatisfy({ $0.status == "failed" }) else { return .clear }
            let latest = row.lastTestMessage.map { $0.capped(characters: 300) } ?? "no message"
            return AlertMeasurement(
                firing: true, value: Double(needed),
                summary: "The last \(needed) connection tests failed (latest: \(latest)).",
                summaryAR: "فشلت آخر \(needed) اختبارات اتصال متتالية (آخرها: \(latest)).",
                details: ["last_test_message": .string(latest)])

        case .dispatchFailureRate:
            let since = now.addingTimeInterval(-window)
            let rows = try await sql.raw("""
                SELECT m.status AS status, COUNT(DISTINCT m.id) AS count FROM outbound_messages m
                JOIN message_events e ON e.message_id = m.id
                WHERE m.integration_config_id = \(bind: id) AND e.source = 'dispatcher'
                AND e.status IN ('sent', 'failed', 'dead') AND e.at > \(bind: since) AND e.at <= \(bind: now)
                GROUP BY m.status
                """).all(decoding: CountByStatus.self)
            let counts = Dictionary(rows.map { ($0.status, $0.count) }, uniquingKeysWith: +)
            let failed = (counts["failed"] ?? 0) + (counts["dead"] ?? 0)
            let total = failed + ["sent", "delivered", "read"].reduce(0) { $0 + (counts[$1] ?? 0) }
            guard total >= Self.minimumSends else { return .clear }
            let rate = Double(failed) / Double(total)
            guard rate >= threshold else { return .clear }
            let percent = Int((rate * 100).rounded())
            return AlertMeasurement(
                firing: true, value: rate,
                summary: "\(failed) of \(total) sends (\(percent)%) failed in the last \(windowText).",
                summaryAR: "فشل إرسال \(failed) من \(total) رسالة (\(percent)٪) خلال آخر \(windowText).",
                details: ["failed": .number(failed), "finished": .number(total)])

        case .queueAge:
            let oldest = try await sql.raw("""
                SELECT MIN(next_attempt_at) AS at FROM outbound_messages WHERE integration_config_id = \(bind: id)
                AND status = 'queued' AND next_attempt_at IS NOT NULL AND next_attempt_at <= \(bind: now)
                """).first(decoding: OptionalTimeRow.self)
            guard let due = oldest?.at else { return .clear }
            let age = now.timeIntervalSince(due).rounded(.down)
            guard age > threshold else { return .clear }
            let minutes = Int(age / 60)
            return AlertMeasurement(
                firing: true, value: age,
                summary: "Messages have waited in the queue for \(minutes) minutes (due since \(RFC3339Text.format(due))).",
                summaryAR: "رسائل تنتظر في طابور الإرسال منذ \(minutes) دقيقة.",
                details: ["oldest_due_at": .string(RFC3339Text.format(due))])

        case .deadMessages:
            let since = now.addingTimeInterval(-window)
            let dead = try await sql.raw("""
                SELECT COUNT(DISTINCT e.message_id) AS count FROM message_events e
                JOIN outbound_messages m ON m.id = e.message_id
                WHERE m.integration_config_id = \(bind: id) AND e.status = 'dead'
                AND e.at > \(bind: since) AND e.at <= \(bind: now)
                """).first(decoding: CountRow.self)?.count ?? 0
            guard dead >= Int(threshold) else { return .clear }
            return AlertMeasurement(
                firing: true, value: Double(dead),
                summary: "\(dead) message(s) died (gave up after every retry) in the last \(windowText).",
                summaryAR: "توقفت \(dead) رسالة نهائيًا بعد استنفاد المحاولات خلال آخر \(windowText).")

        case .signatureFailures:
            guard let counts = context.rejections[id] else { return .clear }
            let growth = Self.growth(counts, since: now.addingTimeInterval(-window))
            guard growth >= Int64(threshold) else { return .clear }
            return AlertMeasurement(
                firing: true, value: Double(growth),
                summary: "\(growth) webhook request(s) failed the signature check in the last \(windowText) (forged or misconfigured).",
                summaryAR: "رُفض \(growth) طلب webhook لتوقيع غير صحيح خلال آخر \(windowText).")

        case .receiptsMissing:
            return try await receiptsMissing(id, minutes: threshold, window: window, now: now)

        case .credentialExpiry:
            guard let expires = context.expiries[id] else { return .clear }
            return Self.credentialExpiry(expires: expires, firstNotice: Int(threshold == 0 ? 14 : threshold), now: now)
        }
    }

    private func receiptsMissing(_ id: UUID, minutes: Double, window: TimeInterval, now: Date) async throws -> AlertMeasurement {
        let configured = try await sql.raw("""
            SELECT COUNT(*) AS count FROM (SELECT id FROM webhook_events WHERE integration_config_id = \(bind: id) LIMIT 1) w
            """).first(decoding: CountRow.self)?.count ?? 0
        guard configured > 0 else { return .clear }
        let from = now.addingTimeInterval(-window), until = now.addingTimeInterval(-minutes * 60)
        let row = try await sql.raw("""
            SELECT COUNT(*) AS count, MIN(m.sent_at) AS at,
              SUM(CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.source = 'webhook'
                AND e.status IN ('delivered', 'read', 'failed')) THEN 1 ELSE 0 END) AS receipts
            FROM outbound_messages m WHERE m.integration_config_id = \(bind: id)
            AND m.sent_at IS NOT NULL AND m.sent_at > \(bind: from) AND m.sent_at <= \(bind: until)
            """).first(decoding: ReceiptRow.self)
        guard let row, row.count > 0, (row.receipts ?? 0) == 0 else { return .clear }
        let limit = AlertJSON.number(minutes)
        return AlertMeasurement(
            firing: true, value: Double(row.count),
            summary: "\(row.count) message(s) were accepted by the provider but no delivery receipt arrived within \(limit) minutes (first sent \(row.at.map(RFC3339Text.format) ?? "?")); check the provider's webhook settings.",
            summaryAR: "قبل المزوّد \(row.count) رسالة ولم يصل أي إشعار تسليم خلال \(limit) دقيقة؛ تحقّق من إعدادات الـ webhook لدى المزوّد.",
            details: ["messages_without_receipt": .number(row.count)])
    }

    /// The notice for credentials expiring at `expires`: stages `firstNotice`, 7, 1 (those not above it) and 0.
    static func credentialExpiry(expires: Date, firstNotice: Int, now: Date) -> AlertMeasurement {
        let left = expires.timeIntervalSince(now) / 86_400
        guard left <= Double(firstNotice) else { return .clear }
        let stages = Array(Set([firstNotice, 7, 1].filter { $0 <= firstNotice })).sorted()
        let stage = left <= 0 ? 0 : (stages.first { left <= Double($0) } ?? firstNotice)
        let date = RFC3339Text.format(expires)
        let days = Int(left.rounded(.up))
        let details: [String: JSONValue] = ["credentials_expire_at": .string(date), "stage": .number(stage)]
        if stage == 0 {
            return AlertMeasurement(firing: true, value: left, summary: "The credentials expired at \(date); renew them.",
                                    summaryAR: "انتهت صلاحية بيانات الاعتماد في \(date)؛ جدّدها.", details: details, stage: 0)
        }
        return AlertMeasurement(
            firing: true, value: left,
            summary: "The credentials expire at \(date), in \(days) day(s); renew them before then.",
            summaryAR: "تنتهي صلاحية بيانات الاعتماد في \(date) (خلال \(days) يوم)؛ جدّدها قبل ذلك.",
            details: details, stage: stage)
    }

    /// Rejections since `start`: the count now minus the count at `start` (the last sample at or before it);
    /// with no such sample, the earliest sample after it; with none at all, 0 when the last rejection is older
    /// than `start`, else every rejection counted so far.
    static func growth(_ counts: RejectionCounts, since start: Date) -> Int64 {
        if let base = counts.samples.last(where: { $0.at <= start }) { return max(0, counts.count - base.count) }
        if counts.lastAt <= start { return 0 }
        if let first = counts.samples.first { return max(0, counts.count - first.count) }
        return counts.count
    }

    struct ScoreRow: Decodable { let score: Int }
    struct OptionalScoreRow: Decodable { let score: Int? }
    struct StatusRow: Decodable { let status: String }
    struct CountRow: Decodable { let count: Int }
    struct CountByStatus: Decodable { let status: String; let count: Int }
    struct OptionalTimeRow: Decodable { let at: Date? }
    struct ReceiptRow: Decodable { let count: Int; let at: Date?; let receipts: Int? }
}
