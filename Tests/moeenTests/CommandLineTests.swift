import Foundation
import MoeenCore
import ProviderStandIns
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import Testing

/// Runs the real `moeen` executable (built by `swift test` next to the test bundle) against a fresh
/// SQLite file, as a person would from a fresh clone.
@Suite("moeen command line", .serialized)
struct CommandLineTests {
    static var binary: URL {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0])
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the tests run as `.build/debug/<package>PackageTests.xctest`; on macOS inside the bundle.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("moeen").path),
              directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("moeen")
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = environment
        if let directory = environment["MOEEN_TEST_DIRECTORY"] { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self)
        )
    }

    static func freshEnvironment() throws -> (env: [String: String], directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moeen-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MOEEN_") || key == "DATABASE_URL" { env[key] = nil }
        env["MOEEN_SQLITE_PATH"] = directory.appendingPathComponent("moeen.sqlite").path
        env["MOEEN_BCRYPT_COST"] = "10"
        env["LOG_LEVEL"] = "warning"
        env["MOEEN_TEST_DIRECTORY"] = directory.path
        return (env, directory)
    }

    @Test("users create and tokens create: the token is the last stdout line and is stored hashed")
    func usersAndTokens() throws {
        let (env, directory) = try Self.freshEnvironment()
        defer { try? FileManager.default.removeItem(at: directory) }

        let migrate = try Self.run(["migrate", "--yes"], environment: env)
        #expect(migrate.status == 0, "\(migrate.stderr)")

        let created = try Self.run(
            ["users", "create", "--email", "Admin@Example.org", "--name", "Admin", "--role", "admin", "--password-stdin"],
            stdin: "a long enough password\n", environment: env
        )
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("admin@example.org"))

        let badRole = try Self.run(
            ["users", "create", "--email", "x@example.org", "--name", "X", "--role", "owner", "--password", "a long enough password"],
            environment: env
        )
        #expect(badRole.status != 0)
        #expect(badRole.stderr.contains("--role"))

        let token = try Self.run(["tokens", "create", "--email", "admin@example.org", "--name", "ci"], environment: env)
        #expect(token.status == 0, "\(token.stderr)")
        let lastLine = token.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.hasPrefix("mhk_"))
        #expect(lastLine.count > 40)

        let database = try Data(contentsOf: directory.appendingPathComponent("moeen.sqlite"))
        let wal = (try? Data(contentsOf: directory.appendingPathComponent("moeen.sqlite-wal"))) ?? Data()
        #expect(database.range(of: Data(lastLine.utf8)) == nil)
        #expect(wal.range(of: Data(lastLine.utf8)) == nil)

        let unknown = try Self.run(["tokens", "create", "--email", "nobody@example.org", "--name", "ci"], environment: env)
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("nobody@example.org") || unknown.stderr.contains("--email"))
    }

    @Test("serve on a fresh SQLite file: migrates, prints the setup link, answers /health and /ready, and the link's page works")
    func serveFromScratch() async throws {
        let (env, directory) = try Self.freshEnvironment()
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try freePort()

        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve", "--port", "\(port)"]
        process.environment = env
        process.currentDirectoryURL = directory
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }

        // Wait (with a deadline) for the setup link on stdout.
        let reader = LineCollector(out.fileHandleForReading)
        let link = try await reader.firstLine(containing: "/setup?token=", within: .seconds(60))
        #expect(link.contains("http://127.0.0.1:\(port)/setup?token="))

        let health = try await poll(try #require(URL(string: "http://127.0.0.1:\(port)/health")), within: .seconds(30))
        #expect(health == 200)
        let ready = try await poll(try #require(URL(string: "http://127.0.0.1:\(port)/ready")), within: .seconds(10))
        #expect(ready == 200)

        let linkURL = try #require(URL(string: link.trimmingCharacters(in: .whitespaces)))
        let (page, response) = try await URLSession.shared.data(from: linkURL)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: page, as: UTF8.self).contains("data-testid=\"setup-form\""))

        // The SQLite file holds every table and the seven default integrations.
        process.terminate()
        process.waitUntilExit()
        let tables = try Self.sqlite(directory.appendingPathComponent("moeen.sqlite"), "SELECT name FROM sqlite_master WHERE type='table'")
        for table in ["integration_configs", "integration_test_logs", "crm_contacts", "crm_leads", "crm_deals", "progress_goals",
                      "training_programs", "users", "patients", "audit_logs", "api_tokens", "sessions"] {
            #expect(tables.contains(table), "missing \(table)")
        }
        let integrations = try Self.sqlite(directory.appendingPathComponent("moeen.sqlite"), "SELECT integration_type FROM integration_configs")
        #expect(integrations.count == 7)
    }

    @Test("serve on a fresh database says in one line how many migrations it applied; each migration's lines are debug only")
    func serveMigrationSummary() async throws {
        var (env, directory) = try Self.freshEnvironment()
        defer { try? FileManager.default.removeItem(at: directory) }
        env["LOG_LEVEL"] = "info"
        let port = try freePort()

        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve", "--port", "\(port)"]
        process.environment = env
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        let stdout = LineCollector(out.fileHandleForReading)
        let stderr = LineCollector(err.fileHandleForReading)

        _ = try await stdout.firstLine(containing: "/setup?token=", within: .seconds(60))
        let summary = try await stderr.firstLine(containing: "Applied ", within: .seconds(10))
        let applied = try Self.sqlite(directory.appendingPathComponent("moeen.sqlite"), "SELECT COUNT(*) FROM _fluent_migrations").first ?? ""
        #expect(Int(applied) ?? 0 > 10)
        #expect(summary.hasSuffix("Applied \(applied) migrations."), "\(summary)")
        let logged = stderr.text
        #expect(!logged.contains("[Migrator]"), "\(logged)")
        #expect(logged.split(separator: "\n").filter { $0.lowercased().contains("migrat") }.count == 1, "\(logged)")
        process.terminate()
        process.waitUntilExit()

        // Nothing left to apply: no summary at all.
        let again = try Self.run(["users", "create", "--email", "a@example.org", "--name", "A", "--role", "admin", "--password", "a long enough password"],
                                 environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("Applied"), "\(again.stderr)")
        #expect(!again.stderr.contains("[Migrator]"), "\(again.stderr)")
    }

    @Test("integrations test prints the result and logs it like the API; integrations list and keys status answer")
    func integrationsTestCommand() async throws {
        var (env, directory) = try Self.freshEnvironment()
        defer { try? FileManager.default.removeItem(at: directory) }
        env["MOEEN_ALLOW_PRIVATE_TARGETS"] = "true"
        let standIn = RecordAPIStandIn.seha()
        let standInURL = try await standIn.start()
        defer { Task { try? await standIn.shutdown() } }

        #expect(try Self.run(["users", "create", "--email", "ops@example.org", "--name", "Ops", "--role", "admin", "--password", "a long enough password"], environment: env).status == 0)
        let token = try Self.run(["tokens", "create", "--email", "ops@example.org", "--name", "cli"], environment: env)
        let bearer = "Bearer " + (token.stdout.split(separator: "\n").last.map(String.init) ?? "")

        let port = try freePort()
        let server = Process()
        server.executableURL = Self.binary
        server.arguments = ["serve", "--port", "\(port)"]
        server.environment = env
        server.currentDirectoryURL = directory
        server.standardOutput = Pipe()
        server.standardError = Pipe()
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        #expect(try await poll(try #require(URL(string: "http://127.0.0.1:\(port)/ready")), within: .seconds(60)) == 200)

        var settings = standIn.workingSettings(baseURL: standInURL)
        settings["facility_id"] = settings["facility_id"] ?? "F-100"
        var create = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/api/integrations")))
        create.httpMethod = "POST"
        create.setValue(bearer, forHTTPHeaderField: "Authorization")
        create.setValue("application/json", forHTTPHeaderField: "Content-Type")
        create.httpBody = try JSONSerialization.data(withJSONObject: [
            "integration_type": "seha", "name": "Seha", "is_enabled": true, "config": settings,
        ])
        let (body, response) = try await URLSession.shared.data(for: create)
        #expect((response as? HTTPURLResponse)?.statusCode == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try #require((try JSONSerialization.jsonObject(with: body) as? [String: Any])?["public_id"] as? String)

        let test = try Self.run(["integrations", "test", id], environment: env)
        #expect(test.status == 0, "\(test.stderr)")
        #expect(test.stdout.contains("\(id) seha: success"), "\(test.stdout)")
        #expect(test.stdout.contains("health score:"))

        var logs = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/api/integrations/\(id)/logs")))
        logs.setValue(bearer, forHTTPHeaderField: "Authorization")
        let (logBody, _) = try await URLSession.shared.data(for: logs)
        // The server's scheduler may have run its own check (`health_check`) meanwhile: only the command's test counts here.
        let rows = ((try JSONSerialization.jsonObject(with: logBody) as? [String: Any])?["data"] as? [[String: Any]])?
            .filter { $0["test_type"] as? String == "connection" }
        #expect(rows?.count == 1)
        #expect(rows?.first?["status"] as? String == "success")

        let list = try Self.run(["integrations", "list"], environment: env)
        #expect(list.status == 0)
        #expect(list.stdout.contains(id))
        #expect(list.stdout.split(separator: "\n").count == 9, "header, seven defaults and the new one: \(list.stdout)")

        let keys = try Self.run(["keys", "status"], environment: env)
        #expect(keys.status == 0, "\(keys.stderr)")
        #expect(keys.stdout.contains("key provider: local"))

        await standIn.faults.set(FaultPlan(errorRate: 1))
        let failing = try Self.run(["integrations", "test", id], environment: env)
        #expect(failing.status != 0)
        #expect(failing.stderr.contains("failed"))
    }

    /// Reads a query's first column with the sqlite3 command-line tool when present, else via python3.
    static func sqlite(_ file: URL, _ query: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3,sys; [print(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]", file.path, query]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

/// Polls a URL until it answers, within a deadline; returns the status code.
func poll(_ url: URL, within limit: Duration) async throws -> Int {
    let deadline = ContinuousClock.now + limit
    while true {
        do {
            let (_, response) = try await URLSession.shared.data(from: url)
            if let status = (response as? HTTPURLResponse)?.statusCode { return status }
        } catch {
            if ContinuousClock.now > deadline { throw error }
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// Collects a child's output lines as they arrive.
final class LineCollector: Sendable {
    private let buffer = Mutex("")

    init(_ handle: FileHandle) {
        handle.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.buffer.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
    }

    /// Everything collected so far.
    var text: String { buffer.withLock { $0 } }

    func firstLine(containing needle: String, within limit: Duration) async throws -> String {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let text = buffer.withLock { $0 }
            if let line = text.split(separator: "\n").first(where: { $0.contains(needle) }) {
                return String(line)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CollectorTimeout(needle: needle)
    }
}

struct CollectorTimeout: Error {
    let needle: String
}
