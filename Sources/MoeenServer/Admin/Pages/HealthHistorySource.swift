import Fluent
import Foundation
import MoeenCore

/// Where the health chart's points come from: the health history (newest 50 points); for a row tested before
/// the history was kept, rebuilt from its test logs.
enum HealthHistorySource {
    static func points(for row: IntegrationConfig, logs: [IntegrationTestLog], on db: any Database) async throws -> [(at: Date, score: Int)] {
        let history = try await IntegrationHealthHistory.query(on: db)
            .filter(\.$integration.$id == row.requireID())
            .sort(\.$recordedAt, .descending)
            .limit(50)
            .all()
        if !history.isEmpty {
            return history.reversed().map { (at: $0.recordedAt, score: $0.score) }
        }
        return HealthChart.history(fromLogs: logs.compactMap { log in
            log.createdAt.map { (at: $0, success: log.status == "success", durationMs: log.durationMs ?? 0) }
        })
    }
}

extension JSONValue {
    /// A number as an integer (the status code a test log recorded).
    var intNumber: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }
}
