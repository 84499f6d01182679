import Foundation
import MoeenCore
import ProviderStandIns
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Key rotation and key-provider outages across real processes: a `moeen serve` keeps answering while
/// `moeen keys rotate` and `moeen keys retire` run from other processes against the same database and key
/// file. SQLite file by default; a fresh PostgreSQL database when `MOEEN_TEST_POSTGRES_URL` is set.
@Suite("Keys across processes", .serialized)
struct KeyRotationProcessTests {
    // MARK: Tests

    @Test("a running server keeps using its secrets after `moeen keys rotate` and `moeen keys retire` ran from other processes")
    func rotationUnderARunningServer() async throws {
        try await withWorkspace { workspace in
            let whatsapp = StandIns.make(.whatsapp)
            let standInURL = try await whatsapp.start()
            defer { Task { try? await whatsapp.shutdown() } }
            let bearer = try workspace.adminToken()
            let server = try await workspace.serve()
            defer { server.stop() }
            #expect(try await poll(server.url("ready"), within: .seconds(60)) == 200)

            let created = try await HTTP.send("POST", server.url("api/integrations"), bearer: bearer, json: [
                "integration_type": "whatsapp", "name": "WhatsApp", "is_enabled": true,
                "config": whatsapp.workingSettings(baseURL: standInURL),
            ])
            #expect(created.status == 201, "\(created.text)")
            let id = try #require(created.json["public_id"] as? String)
            try await expectTestSucceeds(server, id: id, bearer: bearer, "before any rotation")

            let rotate = try workspace.run(["keys", "rotate"])
            #expect(rotate.status == 0, "\(rotate.stderr)")
            #expect(rotate.stdout.contains("added key version v2"), "\(rotate.stdout)")
            #expect(try workspace.keyFileText().contains("v2:"))
            // The server loaded v1 only at start; the row's data key is now wrapped by v2.
            try await expectTestSucceeds(server, id: id, bearer: bearer, "after a rotation by another process")

            let status = try workspace.run(["keys", "status"])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("rows no configured key can open: none"), "\(status.stdout)")

            // An operator adds v3 by hand; v2 still wraps the row, v3 is current: neither may be retired.
            try workspace.appendKeyVersion(3)
            let inUse = try workspace.run(["keys", "retire", "2"])
            #expect(inUse.status != 0)
            #expect(inUse.stderr.contains("still wraps the data keys of 1 row"), "\(inUse.stderr)")
            let current = try workspace.run(["keys", "retire", "v3"])
            #expect(current.status != 0)
            #expect(current.stderr.contains("current key version"), "\(current.stderr)")

            let again = try workspace.run(["keys", "rotate"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("added key version v4"), "\(again.stdout)")
            for version in ["2", "1", "3"] {
                let retired = try workspace.run(["keys", "retire", version])
                #expect(retired.status == 0, "retire \(version): \(retired.stderr)")
                #expect(retired.stdout.contains("retired"), "\(retired.stdout)")
            }
            let text = try workspace.keyFileText()
            #expect(!text.contains("v1:") && !text.contains("v2:") && !text.contains("v3:") && text.contains("v4:"), "\(text.count) characters")
            #expect(workspace.keyFileMode() == 0o600)
            try await expectTestSucceeds(server, id: id, bearer: bearer, "after retiring every old version")

            // The key file replaced by another key (instead of rotated): status names the row it cannot open.
            server.stop()
            try Data("v4:\(Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString())\n".utf8)
                .write(to: workspace.keyFile, options: .atomic)
            let lost = try workspace.run(["keys", "status"])
            #expect(lost.status == 0, "\(lost.stderr)")
            #expect(lost.stdout.contains("rows no configured key can open: 1"), "\(lost.stdout)")
            let line = lost.stdout.split(separator: "\n").first { $0.contains(id) }.map(String.init) ?? ""
            #expect(line.contains("WhatsApp") && line.contains("local:") && line.contains("v4"), "\(lost.stdout)")
        }
    }

    @Test("while a rotation holds the lease, a second `moeen keys rotate` fails naming it and writes nothing")
    func secondRotationRefused() async throws {
        try await withWorkspace { workspace in
            let migrate = try workspace.run(["migrate", "--yes"])
            #expect(migrate.status == 0, "\(migrate.stderr)")
            // The first rotation, as its process left it in the database mid-run: running, lease ten minutes ahead.
            let runID = UUID()
            try workspace.database.insertLiveRotation(id: runID, owner: "rotation-host pid 4242 #cafe0001")
            let before = try workspace.keyFileText()

            let second = try workspace.run(["keys", "rotate"])
            #expect(second.status != 0)
            #expect(second.stderr.contains("another key rotation is running"), "\(second.stderr)")
            #expect(second.stderr.lowercased().contains(runID.uuidString.lowercased()), "names the run: \(second.stderr)")
            #expect(second.stderr.contains("rotation-host pid 4242"), "names its process: \(second.stderr)")
            #expect(try workspace.keyFileText() == before, "no key version was added")
            let retire = try workspace.run(["keys", "retire", "1"])
            #expect(retire.status != 0)
            #expect(retire.stderr.contains("another key rotation is running"), "\(retire.stderr)")
        }
    }

    @Test("with Vault down, migrate and users create work and serve answers /health but not /ready; a missing Vault setting still stops them")
    func vaultDown() async throws {
        try await withWorkspace { workspace in
            let closedPort = try freePort()
            workspace.environment["MOEEN_MASTER_KEY_FILE"] = nil
            workspace.environment["MOEEN_KEY_PROVIDER"] = "vault"
            workspace.environment["VAULT_ADDR"] = "http://127.0.0.1:\(closedPort)"
            workspace.environment["VAULT_TOKEN"] = "testing-vault-token"

            let migrate = try workspace.run(["migrate", "--yes"])
            #expect(migrate.status == 0, "\(migrate.stderr)")
            let user = try workspace.run(["users", "create", "--email", "ops@example.org", "--name", "Ops", "--role", "admin", "--password", "a long enough password"])
            #expect(user.status == 0, "\(user.stderr)")

            let server = try await workspace.serve()
            defer { server.stop() }
            #expect(try await poll(server.url("health"), within: .seconds(60)) == 200)
            let ready = try await HTTP.send("GET", server.url("ready"), bearer: nil, json: nil)
            #expect(ready.status == 503)
            #expect((ready.json["reason"] as? String)?.contains("vault key provider") == true, "\(ready.text)")

            workspace.environment["VAULT_TOKEN"] = nil
            let misconfigured = try workspace.run(["migrate", "--yes"])
            #expect(misconfigured.status != 0)
            #expect(misconfigured.stderr.contains("VAULT_TOKEN"), "\(misconfigured.stderr)")
        }
    }

    // MARK: Helpers

    func expectTestSucceeds(_ server: Server, id: String, bearer: String, _ when: String) async throws {
        let result = try await HTTP.send("POST", server.url("api/integrations/\(id)/test"), bearer: bearer, json: nil)
        #expect(result.status == 200, "\(when): \(result.text)")
        #expect(result.json["status"] as? String == "success", "\(when): \(result.text)")
    }

    func withWorkspace(_ body: (Workspace) async throws -> Void) async throws {
        let workspace = try Workspace()
        do {
            try await body(workspace)
        } catch {
            workspace.remove()
            throw error
        }
        workspace.remove()
    }
}

/// A temporary directory with a key file (`v1`) and a database (a SQLite file in the directory, or a new
/// PostgreSQL database), and the environment the `moeen` processes of one test share.
final class Workspace: @unchecked Sendable {
    let directory: URL
    let keyFile: URL
    let database: ProcessDatabase
    var environment: [String: String]

    init() throws {
        let (env, directory) = try CommandLineTests.freshEnvironment()
        self.directory = directory
        keyFile = directory.appendingPathComponent("master.key")
        let key = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
        guard FileManager.default.createFile(atPath: keyFile.path, contents: Data("v1:\(key)\n".utf8), attributes: [.posixPermissions: 0o600]) else {
            throw WorkspaceError(message: "could not create \(keyFile.path)")
        }
        var environment = env
        environment["MOEEN_MASTER_KEY_FILE"] = keyFile.path
        environment["MOEEN_ALLOW_PRIVATE_TARGETS"] = "true"
        database = try ProcessDatabase(directory: directory, environment: &environment)
        self.environment = environment
    }

    func run(_ arguments: [String]) throws -> CommandLineTests.Result {
        try CommandLineTests.run(arguments, environment: environment)
    }

    /// An admin user and an API token for it; the `Authorization` header value.
    func adminToken() throws -> String {
        let user = try run(["users", "create", "--email", "ops@example.org", "--name", "Ops", "--role", "admin", "--password", "a long enough password"])
        guard user.status == 0 else { throw WorkspaceError(message: "users create: \(user.stderr)") }
        let token = try run(["tokens", "create", "--email", "ops@example.org", "--name", "rotation tests"])
        guard token.status == 0, let last = token.stdout.split(separator: "\n").last else { throw WorkspaceError(message: "tokens create: \(token.stderr)") }
        return "Bearer \(last)"
    }

    /// Starts `moeen serve` on a free loopback port.
    func serve() async throws -> Server {
        let port = try freePort()
        let process = Process()
        process.executableURL = CommandLineTests.binary
        process.arguments = ["serve", "--hostname", "127.0.0.1", "--port", "\(port)"]
        process.environment = environment
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        let log = directory.appendingPathComponent("serve-\(port).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else { throw WorkspaceError(message: "could not create \(log.path)") }
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        return Server(process: process, port: port)
    }

    func keyFileText() throws -> String { try String(contentsOf: keyFile, encoding: .utf8) }

    func keyFileMode() -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: keyFile.path)[.posixPermissions]) as? Int
    }

    /// Adds `vN:<fresh key>` to the key file, as an operator would by hand.
    func appendKeyVersion(_ version: Int) throws {
        let key = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
        let text = try keyFileText() + "v\(version):\(key)\n"
        try Data(text.utf8).write(to: keyFile, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)
    }

    func remove() {
        database.drop()
        try? FileManager.default.removeItem(at: directory)
    }
}

struct WorkspaceError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A running `moeen serve`.
struct Server {
    let process: Process
    let port: Int

    func url(_ path: String) -> URL {
        URL(string: "http://127.0.0.1:\(port)/\(path)") ?? URL(fileURLWithPath: "/")
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

/// The database of one workspace: a SQLite file, or (with `MOEEN_TEST_POSTGRES_URL`) a PostgreSQL database
/// created for it with `psql` and dropped afterwards.
struct ProcessDatabase {
    let postgres: (admin: String, url: String, name: String)?
    let sqlitePath: String?

    init(directory: URL, environment: inout [String: String]) throws {
        guard let admin = ProcessInfo.processInfo.environment["MOEEN_TEST_POSTGRES_URL"], !admin.isEmpty,
              var components = URLComponents(string: admin)
        else {
            postgres = nil
            sqlitePath = environment["MOEEN_SQLITE_PATH"]
            return
        }
        let name = "moeen_cli_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try Self.psql(admin, "CREATE DATABASE \(name)")
        components.path = "/" + name
        let url = components.string ?? admin
        postgres = (admin, url, name)
        sqlitePath = nil
        environment["DATABASE_URL"] = url
    }

    /// A `key_rotations` row as a rotating process leaves it mid-run: `running`, its lease ten minutes ahead.
    func insertLiveRotation(id: UUID, owner: String) throws {
        if let postgres {
            try Self.psql(postgres.url, """
                INSERT INTO key_rotations (id, provider, target_key_id, target_key_version, reencrypt, status, rows_total, rows_done, started_at, claimed_by, lease_expires_at)
                VALUES ('\(id.uuidString)', 'local', 'local:0badc0de', 7, false, 'running', 12, 5, now(), '\(owner)', now() + interval '10 minutes')
                """)
            return
        }
        let script = """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1])
            now = time.time()
            c.execute("INSERT INTO key_rotations (id, provider, target_key_id, target_key_version, reencrypt, status, rows_total, rows_done, started_at, claimed_by, lease_expires_at) VALUES (?, 'local', 'local:0badc0de', 7, 0, 'running', 12, 5, ?, ?, ?)", (sys.argv[2], now, sys.argv[3], now + 600))
            c.commit()
            """
        try Self.tool(["python3", "-c", script, sqlitePath ?? "", id.uuidString, owner])
    }

    func drop() {
        if let postgres { try? Self.psql(postgres.admin, "DROP DATABASE IF EXISTS \(postgres.name) WITH (FORCE)") }
    }

    static func psql(_ url: String, _ statement: String) throws {
        try tool(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement])
    }

    static func tool(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw WorkspaceError(message: "\(arguments[0]) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}

/// Small JSON-over-HTTP client for the tests.
enum HTTP {
    struct Answer {
        let status: Int
        let json: [String: Any]
        let text: String
    }

    static func send(_ method: String, _ url: URL, bearer: String?, json: [String: Any]?) async throws -> Answer {
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let bearer { request.setValue(bearer, forHTTPHeaderField: "Authorization") }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
        }
        let (body, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, json: object, text: String(decoding: body, as: UTF8.self))
    }
}
