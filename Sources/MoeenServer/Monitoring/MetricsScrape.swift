import Fluent
import Foundation
import Logging
import MoeenCore
import Prometheus
import SQLKit
import Synchronization

/// The gauges read from the database at scrape time, so every process reports the same truth whatever it
/// did itself: the message backlog, the oldest due message's wait, each integration's health and delivery
/// state.
///
/// Every query is served by an index or reads a small table: messages of the last 24 hours
/// (`idx_outbound_messages_created`), queued messages and the oldest due one (`idx_outbound_messages_due`,
/// status first), the integrations and their delivery states. A database that does not answer costs the
/// scrape those series only (`moeen_metrics_database_up 0`); the process's own counters are still served.
struct MetricsScrape: Sendable {
    let db: any Database
    let logger: Logger
    let now: Date

    /// How far back `moeen_messages` counts.
    static let recentWindow: TimeInterval = 24 * 3600

    static let deliveryStates = ["active", "paused", "half_open"]

    /// How long the database may take before the scrape goes on without its series (Prometheus' default
    /// scrape timeout is 10 s).
    static let queryTimeout: Duration = .seconds(4)

    /// The gauges in Prometheus text format (a fresh registry per scrape: series of deleted integrations or
    /// emptied statuses disappear instead of keeping their last value).
    func render(timeout: Duration = Self.queryTimeout) async -> String {
        let scrape = self
        // Whichever comes first: the queries or the timeout. Not a task group: it would wait for a query that
        // hangs; the abandoned one ends on its own with the pool's timeout.
        let answered = await withCheckedContinuation { (continuation: CheckedContinuation<PrometheusCollectorRegistry?, Never>) in
            let done = Mutex(false)
            let answer: @Sendable (PrometheusCollectorRegistry?) -> Void = { value in
                let first = done.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: value) }
            }
            let timer = Task { try? await Task.sleep(for: timeout); answer(nil) }
            Task {
                answer(await scrape.query())
                timer.cancel()
            }
        }
        if answered == nil {
            logger.warning("metrics: the database did not answer in time; its series are left out of this scrape",
                           metadata: ["timeout": .string(DurationText.format(timeout))])
        }
        let output = answered ?? PrometheusCollectorRegistry()
        output.makeGauge(descriptor: Self.descriptor("moeen_metrics_database_up", "1 when the scrape-time database queries answered, else 0."))
            .set(to: answered == nil ? 0 : 1)
        return output.emitToString()
    }

    /// Every database series, or nil when a query failed (a partly filled registry is dropped).
    private func query() async -> PrometheusCollectorRegistry? {
        let registry = PrometheusCollectorRegistry()
        do {
            try await messages(into: registry)
            try await integrations(into: registry)
            return registry
        } catch {
            logger.warning("metrics: the database did not answer; its series are left out of this scrape",
                           metadata: ["error": .string(String(describing: error))])
            return nil
        }
    }

    private var sql: any SQLDatabase {
        get throws {
            guard let sql = db as? any SQLDatabase else { throw MetricsScrapeError.notSQL }
            return sql
        }
    }

    private func messages(into registry: PrometheusCollectorRegistry) async throws {
        let sql = try sql
        let recent = try await sql.select()
            .column("channel").column("status").column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
            .from(OutboundMessage.schema)
            .where("created_at", .greaterThanOrEqual, SQLBind(now.addingTimeInterval(-Self.recentWindow)))
            .groupBy("channel").groupBy("status")
            .all()
        let recentName = Self.descriptor("moeen_messages", "Messages created in the last 24 hours, by channel and current status.")
        for row in recent {
            let channel = try row.decode(column: "channel", as: String.self)
            let status = try row.decode(column: "status", as: String.self)
            let count = try row.decode(column: "n", as: Int.self)
            registry.makeGauge(descriptor: recentName, labels: [("channel", channel), ("status", status)]).set(Double(count))
        }

        let queued = try await sql.select()
            .column("channel").column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
            .from(OutboundMessage.schema)
            .where("status", .equal, SQLBind(MessageStatus.queued.rawValue))
            .groupBy("channel")
            .all()
        let queuedName = Self.descriptor("moeen_messages_queued", "Messages queued now (due or not), by channel.")
        for channel in MessageChannel.allCases {
            registry.makeGauge(descriptor: queuedName, labels: [("channel", channel.rawValue)]).set(to: 0)
        }
        for row in queued {
            let channel = try row.decode(column: "channel", as: String.self)
            registry.makeGauge(descriptor: queuedName, labels: [("channel", channel)])
                .set(Double(try row.decode(column: "n", as: Int.self)))
        }

        let oldest = try await sql.select()
            .column(SQLFunction("MIN", args: SQLColumn("next_attempt_at")), as: "oldest")
            .from(OutboundMessage.schema)
            .where("status", .equal, SQLBind(MessageStatus.queued.rawValue))
            .where("next_attempt_at", .lessThanOrEqual, SQLBind(now))
            .first()
        let due = try oldest?.decode(column: "oldest", as: Date?.self)
        registry.makeGauge(descriptor: Self.descriptor(
            "moeen_message_queue_oldest_age_seconds",
            "How long the queued message that has been due longest has waited since it fell due (0 when none is due)."))
            .set(max(0, due.map { now.timeIntervalSince($0) } ?? 0))
    }

    private func integrations(into registry: PrometheusCollectorRegistry) async throws {
        let rows = try await sql.select()
            .columns("id", "public_id", "integration_type", "health_score", "is_enabled")
            .from(IntegrationConfig.schema)
            .all()
        var integrations: [(id: UUID, labels: [(String, String)], score: Int, enabled: Bool)] = []
        for row in rows {
            let labels = [("type", try row.decode(column: "integration_type", as: String.self)),
                          ("public_id", try row.decode(column: "public_id", as: String.self))]
            integrations.append((try row.decode(column: "id", as: UUID.self), labels,
                                 try row.decode(column: "health_score", as: Int.self), try row.decode(column: "is_enabled", as: Bool.self)))
        }
        let snapshots = try await DeliveryPolicyStore(db: db).snapshots(integrations.map(\.id), now: now)
        let score = Self.descriptor("moeen_integration_health_score", "Each integration's health score (0 to 100), by type and public id.")
        let enabled = Self.descriptor("moeen_integration_enabled", "1 when the integration is enabled, else 0.")
        let state = Self.descriptor(
            "moeen_integration_delivery_state", "1 for the integration's current delivery state (active, paused, half_open), 0 for the others.")
        for integration in integrations {
            registry.makeGauge(descriptor: score, labels: integration.labels).set(Double(integration.score))
            registry.makeGauge(descriptor: enabled, labels: integration.labels).set(to: integration.enabled ? 1 : 0)
            let current = snapshots[integration.id]?.state ?? "active"
            for value in Self.deliveryStates {
                registry.makeGauge(descriptor: state, labels: integration.labels + [("state", value)]).set(to: value == current ? 1 : 0)
            }
        }
    }

    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MoeenMetrics.Name.descriptor(name, help)
    }
}

enum MetricsScrapeError: Error {
    case notSQL
}
