import Fluent
import FluentSQL
import Foundation
import Logging
import MoeenCore
import SQLKit
import Vapor

/// Evaluates every alert rule against the database and keeps `alerts` in step: an alert opens once per
/// (rule, integration) while its condition holds, is re-notified only after the rule's cooldown (never once
/// acknowledged), and is resolved — with one "resolved" notification — when the condition clears.
/// `credential_expiry` also re-notifies when its stage moves (14 → 7 → 1 days → expired), whatever the cooldown.
///
/// Safe to call repeatedly and at any times (the scheduler calls it once per period across processes); each
/// call measures the state at `now` (see `AlertEvaluator+Measures.swift`). Notifications are urgent outbox
/// messages (``AlertNotifier``).
struct AlertEvaluator: Sendable {
    let db: any Database
    let notifier: AlertNotifier
    let logger: Logger

    init(app: Application) {
        let dispatcher = app.runningDispatcher
        self.init(db: app.db, settings: app.moeenConfiguration.delivery, publicURL: app.moeenConfiguration.publicURL,
                  logger: Logger(label: "moeen.alerts"), wake: { dispatcher?.notify() })
    }

    /// - Parameter wake: called after notifications were queued (wakes this process's dispatcher).
    init(db: any Database, settings: DeliverySettings, publicURL: String?, logger: Logger = Logger(label: "moeen.alerts"),
         wake: @escaping @Sendable () -> Void = {}) {
        self.db = db
        self.logger = logger
        notifier = AlertNotifier(db: db, settings: settings, publicURL: publicURL, logger: logger, wake: wake)
    }

    var sql: any SQLDatabase {
        get throws {
            guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError, reason: "alerts need an SQL database") }
            return sql
        }
    }

    func evaluate(now: Date) async throws {
        let rules = try await AlertRule.query(on: db).sort(\.$createdAt).sort(\.$id).all()
        let integrations = try await IntegrationConfig.query(on: db).filter(\.$isEnabled == true).sort(\.$createdAt).all()
        let context = Context(now: now, expiries: await expiries(), rejections: try await sampleRejections(now: now))
        for rule in rules {
            do {
                try await evaluate(rule, integrations: integrations, context: context)
            } catch {
                logger.error("alert rule could not be evaluated", metadata: [
                    "rule": .string(rule.publicID), "error": .string(String(describing: error).capped(characters: 300)),
                ])
            }
        }
    }

    private func evaluate(_ rule: AlertRule, integrations: [IntegrationConfig], context: Context) async throws {
        let ruleID = try rule.requireID()
        let open = try await Alert.query(on: db).filter(\.$rule.$id == ruleID).filter(\.$state == AlertState.open.rawValue).all()
        var openBySubject: [String: Alert] = [:]
        for alert in open { openBySubject[alert.subject] = alert }
        guard rule.isEnabled, let kind = rule.alertKind else {
            // A disabled rule watches nothing: its open alerts end without a notification.
            for alert in open { try await resolve(alert, rule: rule, integration: nil, reason: "rule disabled", notify: false, now: context.now) }
            return
        }
        for integration in integrations where Self.inScope(integration, rule: rule, kind: kind) {
            let measurement = try await measure(kind, rule: rule, integration: integration, context: context)
            let existing = openBySubject.removeValue(forKey: integration.publicID)
            switch (measurement.firing, existing) {
            case (true, nil): try await fire(rule, integration: integration, measurement: measurement, now: context.now)
            case (true, let alert?): try await keep(alert, rule: rule, integration: integration, measurement: measurement, now: context.now)
            case (false, let alert?): try await resolve(alert, rule: rule, integration: integration, reason: "condition cleared", notify: true, now: context.now)
            case (false, nil): break
            }
        }
        // Subjects no longer watched (integration disabled, deleted or moved out of the scope).
        for alert in openBySubject.values {
            let integration = try await alert.integrationConfigID.asyncFlatMap { try await IntegrationConfig.find($0, on: db) }
            try await resolve(alert, rule: rule, integration: integration, reason: "no longer watched by the rule", notify: true, now: context.now)
        }
    }

    /// Whether the rule watches the integration (its scope, and the types its kind applies to).
    static func inScope(_ integration: IntegrationConfig, rule: AlertRule, kind: AlertKind) -> Bool {
        if let id = rule.integrationConfigID, integration.id != id { return false }
        if let type = rule.integrationType, integration.integrationType != type { return false }
        if let types = kind.applicableTypes {
            guard let type = IntegrationType(rawValue: integration.integrationType), types.contains(type) else { return false }
        }
        return true
    }

    private func fire(_ rule: AlertRule, integration: IntegrationConfig, measurement: AlertMeasurement, now: Date) async throws {
        let alert = Alert()
        alert.id = UUID()
        alert.publicID = PublicID.make(.alert, at: now, randomHexDigits: 12)
        alert.$rule.id = try rule.requireID()
        alert.integrationConfigID = integration.id
        alert.subject = integration.publicID
        alert.state = AlertState.open.rawValue
        alert.firedAt = now
        alert.notificationsSent = 0
        Self.record(measurement, on: alert, isNew: true)
        alert.lastNotifiedAt = now
        do {
            try await alert.create(on: db)
        } catch where UniqueViolation.matches(error) {
            return // another evaluation opened it
        }
        logger.notice("alert fired", metadata: ["alert": .string(alert.publicID), "rule": .string(rule.publicID),
                                                "integration": .string(integration.publicID)])
        alert.notificationsSent += await notifier.notify(.firing, alert: alert, rule: rule, integration: integration, now: now)
        try await alert.save(on: db)
    }

    /// Still true: refreshes the measurement and re-notifies when due.
    private func keep(_ alert: Alert, rule: AlertRule, integration: IntegrationConfig, measurement: AlertMeasurement, now: Date) async throws {
        let previousStage = alert.details?["stage"].flatMap(Self.int)
        Self.record(measurement, on: alert, isNew: false)
        var notice: AlertNotifier.Notice?
        if let stage = measurement.stage, let previousStage, stage < previousStage {
            notice = .stageChanged
        } else if alert.acknowledgedAt == nil,
                  now.timeIntervalSince(alert.lastNotifiedAt ?? alert.firedAt) >= TimeInterval(rule.cooldownSeconds) {
            notice = .reminder
        }
        if let notice {
            alert.lastNotifiedAt = now
            alert.notificationsSent += await notifier.notify(notice, alert: alert, rule: rule, integration: integration, now: now)
        }
        if alert.hasChanges { try await alert.save(on: db) }
    }

    private func resolve(_ alert: Alert, rule: AlertRule, integration: IntegrationConfig?, reason: String, notify: Bool, now: Date) async throws {
        alert.state = AlertState.resolved.rawValue
        alert.resolvedAt = now
        alert.details = Self.merged(alert.details, ["resolved_reason": .string(reason)])
        try await alert.save(on: db)
        logger.notice("alert resolved", metadata: ["alert": .string(alert.publicID), "reason": .string(reason)])
        if notify {
            let sent = await notifier.notify(.resolved, alert: alert, rule: rule, integration: integration, now: now)
            if sent > 0 {
                alert.notificationsSent += sent
                alert.lastNotifiedAt = now
                try await alert.save(on: db)
            }
        }
    }

    /// The measurement's value, summary and details on the alert (bookkeeping keys kept).
    /// Only changed values are set, so an unchanged open alert is not rewritten on every evaluation.
    private static func record(_ measurement: AlertMeasurement, on alert: Alert, isNew: Bool) {
        let summary = measurement.summary.capped(characters: 1000)
        var details = measurement.details
        details["summary_ar"] = .string(measurement.summaryAR)
        if let stage = measurement.stage { details["stage"] = .number(stage) }
        if isNew || alert.value != measurement.value { alert.value = measurement.value }
        if isNew || alert.summary != summary { alert.summary = summary }
        if isNew || alert.details != .object(details) { alert.details = .object(details) }
    }

    static func merged(_ details: JSONValue?, _ extra: [String: JSONValue]) -> JSONValue {
        .object((details?.objectValue ?? [:]).merging(extra) { _, new in new })
    }

    static func int(_ value: JSONValue) -> Int? {
        if case .number(let text) = value { return Int(text) }
        return nil
    }

    // MARK: - Inputs read once per evaluation

    /// `credentials_expire_at` of every integration that has one; empty (and logged) while the column is missing.
    private func expiries() async -> [UUID: Date] {
        struct Row: Decodable {
            let id: UUID
            let credentialsExpireAt: Date

            enum CodingKeys: String, CodingKey {
                case id
                case credentialsExpireAt = "credentials_expire_at"
            }
        }
        do {
            let rows = try await sql.raw("""
                SELECT id, credentials_expire_at FROM integration_configs WHERE credentials_expire_at IS NOT NULL
                """).all(decoding: Row.self)
            return Dictionary(rows.map { ($0.id, $0.credentialsExpireAt) }, uniquingKeysWith: { first, _ in first })
        } catch {
            logger.warning("credentials_expire_at could not be read", metadata: ["error": .string(String(describing: error).capped(characters: 200))])
            return [:]
        }
    }

    /// Records a sample of each integration's `webhook_rejections.count` when it changed since the last one, drops
    /// samples older than a week (keeping each integration's latest), and returns the counts with their samples.
    func sampleRejections(now: Date) async throws -> [UUID: RejectionCounts] {
        struct Current: Decodable {
            let integrationConfigID: UUID
            let count: Int64
            let lastAt: Date
            enum CodingKeys: String, CodingKey {
                case count
                case integrationConfigID = "integration_config_id"
                case lastAt = "last_at"
            }
        }
        struct Sample: Decodable {
            let integrationConfigID: UUID
            let sampledAt: Date
            let count: Int64
            enum CodingKeys: String, CodingKey {
                case count
                case integrationConfigID = "integration_config_id"
                case sampledAt = "sampled_at"
            }
        }
        let sql = try sql
        let current = try await sql.select().columns("integration_config_id", "count", "last_at").from("webhook_rejections")
            .all(decoding: Current.self)
        guard !current.isEmpty else { return [:] }
        let cutoff = now.addingTimeInterval(-8 * 24 * 3600)
        try await sql.raw("""
            DELETE FROM webhook_rejection_samples WHERE sampled_at < \(bind: cutoff) AND sampled_at < (SELECT MAX(s.sampled_at)
              FROM webhook_rejection_samples s WHERE s.integration_config_id = webhook_rejection_samples.integration_config_id)
            """).run()
        let samples = try await sql.select().columns("integration_config_id", "sampled_at", "count").from("webhook_rejection_samples")
            .orderBy("sampled_at").all(decoding: Sample.self)
        var result: [UUID: RejectionCounts] = [:]
        for row in current {
            let own = samples.filter { $0.integrationConfigID == row.integrationConfigID && $0.sampledAt <= now }
            result[row.integrationConfigID] = RejectionCounts(count: row.count, lastAt: row.lastAt,
                                                              samples: own.map { (at: $0.sampledAt, count: $0.count) })
            if own.last?.count != row.count {
                try await sql.insert(into: "webhook_rejection_samples").columns("integration_config_id", "sampled_at", "count")
                    .values(SQLBind(row.integrationConfigID), SQLBind(now), SQLBind(row.count)).run()
            }
        }
        return result
    }
}

extension Optional {
    /// `map` with an async transform that may return `nil`.
    fileprivate func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
