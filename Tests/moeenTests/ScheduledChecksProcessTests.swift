import Foundation
import MoeenCore
import ProviderStandIns
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Scheduled health checks across real processes: two `moeen serve` on one database (PostgreSQL when
/// `MOEEN_TEST_POSTGRES_URL` is set, else one SQLite file) with `MOEEN_HEALTH_INTERVAL=10s` probe an enabled
/// integration without anyone pressing a button, and never twice in one interval.
@Suite("Scheduled checks across processes", .serialized)
struct ScheduledChecksProcessTests {
    /// One scheduled check as the test-log API shows it.
    struct Check {
        let claimedAt: Date
        let process: String
    }

    static func checks(_ server: Server, integration: String, bearer: String) async throws -> [Check] {
        var request = URLRequest(url: server.url("api/integrations/\(integration)/logs?limit=200"))
        request.setValue(bearer, forHTTPHeaderField: "Authorization")
        let (body, _) = try await URLSession.shared.data(for: request)
        let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        let rows = object?["data"] as? [[String: Any]] ?? []
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return rows.compactMap { row in
            guard row["test_type"] as? String == "health_check",
                  let scheduled = (row["request_data"] as? [String: Any])?["scheduled"] as? [String: Any],
                  let claimed = (scheduled["claimed_at"] as? String).flatMap({ formatter.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }),
                  let process = scheduled["process"] as? String
            else { return nil }
            return Check(claimedAt: claimed, process: process)
        }.sorted { $0.claimedAt < $1.claimedAt }
    }

    @Test("two serve processes, one integration, MOEEN_HEALTH_INTERVAL=10s: scheduled checks arrive, each interval probed once")
    func twoProcessesProbeOncePerInterval() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        workspace.environment["MOEEN_HEALTH_INTERVAL"] = "10s"
        workspace.environment["MOEEN_OUTBOUND_ALLOWLIST"] = "127.0.0.0/8,::1,localhost"
        workspace.environment["MOEEN_DISPATCH"] = "false"
        #expect(try workspace.run(["migrate", "--yes"]).status == 0)
        let bearer = try workspace.adminToken()
        let twilio = TwilioStandIn()
        let twilioURL = try await twilio.start()
        defer { Task { try? await twilio.shutdown() } }

        let first = try await workspace.serve()
        defer { first.stop() }
        let second = try await workspace.serve()
        defer { second.stop() }
        #expect(try await poll(first.url("ready"), within: .seconds(60)) == 200)
        #expect(try await poll(second.url("ready"), within: .seconds(60)) == 200)

        var create = URLRequest(url: first.url("api/integrations"))
        create.httpMethod = "POST"
        create.setValue(bearer, forHTTPHeaderField: "Authorization")
        create.setValue("application/json", forHTTPHeaderField: "Content-Type")
        create.httpBody = try JSONSerialization.data(withJSONObject: [
            "integration_type": "sms", "name": "Twilio", "is_enabled": true, "config": twilio.workingSettings(baseURL: twilioURL),
        ])
        let (body, response) = try await URLSession.shared.data(for: create)
        #expect((response as? HTTPURLResponse)?.statusCode == 201, "\(String(decoding: body, as: UTF8.self))")
        let integration = try #require((try JSONSerialization.jsonObject(with: body) as? [String: Any])?["public_id"] as? String)

        // Wait (with a deadline) for three scheduled checks: the first comes within a tenth of the interval.
        let deadline = ContinuousClock.now + .seconds(120)
        var checks: [Check] = []
        while checks.count < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            checks = try await Self.checks(second, integration: integration, bearer: bearer)
        }
        #expect(checks.count >= 3, "scheduled checks seen: \(checks.count)")
        // Every pair of consecutive checks is at least one interval apart, whichever process ran them.
        for (earlier, later) in zip(checks, checks.dropFirst()) {
            #expect(later.claimedAt.timeIntervalSince(earlier.claimedAt) >= 10,
                    "\(earlier.process) at \(earlier.claimedAt), then \(later.process) at \(later.claimedAt)")
        }
        // Each check is one probe at the provider (the account fetch), never two: stop both processes (each
        // finishes a check in flight), then read the log through a third that runs no scheduler.
        first.stop()
        second.stop()
        workspace.environment["MOEEN_SCHEDULER"] = "false"
        let reader = try await workspace.serve()
        defer { reader.stop() }
        #expect(try await poll(reader.url("ready"), within: .seconds(60)) == 200)
        let probes = await twilio.recorder.requests(pathSuffix: nil).filter { $0.method == "GET" }.count
        let finalChecks = try await Self.checks(reader, integration: integration, bearer: bearer)
        #expect(probes == finalChecks.count, "provider saw \(probes) probes for \(finalChecks.count) logged checks")
    }
}
