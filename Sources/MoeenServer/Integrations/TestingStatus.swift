import Fluent
import Foundation
import Vapor

/// Keeps `status = testing` from outliving its test. A test sets it before calling the provider; the
/// final transaction replaces it. When that write fails, `restore` puts back the status the row's last
/// recorded test implies; when the process dies mid-test, `resetStuck` (run as the service starts) does
/// the same for every row left `testing` longer than a test can take.
enum TestingStatus {
    /// The status a row has when no test is running: `inactive` when disabled, else from its last test.
    static func settled(isEnabled: Bool, lastTestStatus: String?) -> String {
        guard isEnabled else { return "inactive" }
        return lastTestStatus == "failed" ? "error" : "active"
    }

    /// Puts back the row's settled status (best effort: the caller is already reporting a failure).
    static func restore(_ row: IntegrationConfig, on db: any Database, logger: Logger) async {
        guard let id = row.id else { return }
        do {
            try await IntegrationConfig.query(on: db)
                .filter(\.$id == id)
                .filter(\.$status == "testing")
                .set(\.$status, to: settled(isEnabled: row.isEnabled, lastTestStatus: row.lastTestStatus))
                .update()
        } catch {
            logger.error("could not reset an integration's testing status", metadata: [
                "integration": .string(row.publicID), "error": .string(String(describing: error)),
            ])
        }
    }

    /// Settles every row left `testing` whose last change is older than `olderThan` before `now`
    /// (a test never runs longer than the provider timeout). Returns how many rows it found stuck.
    @discardableResult
    static func resetStuck(on db: any Database, olderThan age: Duration, now: Date = Date()) async throws -> Int {
        let cutoff = now.addingTimeInterval(-Double(age.components.seconds) - Double(age.components.attoseconds) / 1e18)
        let stuck = try await IntegrationConfig.query(on: db)
            .filter(\.$status == "testing")
            .filter(\.$updatedAt < cutoff)
            .all()
        for row in stuck {
            guard let id = row.id else { continue }
            // Conditional: a test that finished meanwhile (and so changed the row) is left alone.
            try await IntegrationConfig.query(on: db)
                .filter(\.$id == id)
                .filter(\.$status == "testing")
                .filter(\.$updatedAt < cutoff)
                .set(\.$status, to: settled(isEnabled: row.isEnabled, lastTestStatus: row.lastTestStatus))
                .update()
        }
        return stuck.count
    }
}

/// Settles rows left `testing` by a process that died mid-test, when the service starts.
struct StuckTestingReset: LifecycleHandler {
    func didBootAsync(_ application: Application) async throws {
        let age = application.moeenConfiguration.providerTimeout + .seconds(60)
        do {
            let count = try await TestingStatus.resetStuck(on: application.db, olderThan: age)
            if count > 0 {
                application.logger.notice("settled integrations left testing by an earlier process", metadata: ["count": .stringConvertible(count)])
            }
        } catch {
            application.logger.warning("could not settle integrations left testing", metadata: ["error": .string(String(describing: error))])
        }
    }
}
