import Fluent
import Foundation
import MoeenCore
import Vapor

extension Application {
    private struct SchedulerKey: StorageKey {
        typealias Value = Scheduler
    }

    /// This process's scheduler, built on first use over the application's database and connectors.
    var scheduler: Scheduler {
        if let scheduler = storage[SchedulerKey.self] { return scheduler }
        let config = moeenConfiguration
        let scheduler = Scheduler(
            db: db,
            settings: Scheduler.Settings(healthInterval: config.healthInterval, providerTimeout: config.providerTimeout),
            work: Scheduler.Work.of(self),
            logger: Logger(label: "moeen.scheduler"))
        storage[SchedulerKey.self] = scheduler
        return scheduler
    }

    /// Starts the scheduler (unless `MOEEN_SCHEDULER=false`) and stops it before the database goes away.
    func startScheduler() {
        guard moeenConfiguration.monitoring.schedulerEnabled else { return }
        let scheduler = scheduler
        lifecycle.use(SchedulerShutdown(scheduler: scheduler))
        scheduler.start()
    }
}

extension Scheduler.Work {
    /// The real jobs of `app`: the integration's scheduled check through `IntegrationTester` (logged as
    /// `health_check`, no user), the alert rules, and retention.
    static func of(_ app: Application) -> Scheduler.Work {
        let days = app.moeenConfiguration.monitoring.retentionDays
        return Scheduler.Work(
            healthCheck: { id, run in
                guard let row = try await IntegrationConfig.find(id, on: app.db), row.isEnabled,
                      let type = IntegrationType(rawValue: row.integrationType)
                else { return false }
                let request = IntegrationTestRequest(integration: row, type: type, config: nil,
                                                     testType: IntegrationTester.healthCheck, recipient: nil, scheduled: run)
                _ = try await IntegrationTester(app: app, logger: Logger(label: "moeen.scheduler")).run(request, by: nil)
                return true
            },
            evaluateAlerts: { now in
                try await AlertEvaluator(app: app).evaluate(now: now)
            },
            retention: { now in
                let report = try await Retention(db: app.db, days: days).run(now: now)
                if report.redactedMessages > 0 || report.deleted.values.contains(where: { $0 > 0 }) {
                    app.logger.info("retention", metadata: [
                        "days": .stringConvertible(days), "redacted_messages": .stringConvertible(report.redactedMessages),
                        "deleted": .string(report.deleted.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")),
                    ])
                }
                return report.more
            })
    }
}

/// Stops the scheduler before the database goes away.
struct SchedulerShutdown: LifecycleHandler {
    let scheduler: Scheduler

    func shutdownAsync(_ application: Application) async {
        await scheduler.stop()
    }
}
