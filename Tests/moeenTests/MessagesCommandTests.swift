import Foundation
import MoeenCore
import ProviderStandIns
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `moeen messages` and `moeen worker` as separate processes from the web server, on one SQLite file.
@Suite("moeen messages and worker", .serialized)
struct MessagesCommandTests {
    typealias CLI = CommandLineTests

    @Test("a web process that does not dispatch, `messages send` from the shell, a separate `worker` that delivers; list and retry; the worker stops on SIGTERM")
    func sendListRetryAndWorker() async throws {
        var (env, directory) = try CLI.freshEnvironment()
        defer { try? FileManager.default.removeItem(at: directory) }
        env["MOEEN_ALLOW_PRIVATE_TARGETS"] = "true"
        env["MOEEN_OUTBOUND_ALLOWLIST"] = "127.0.0.0/8,::1,localhost"
        let twilio = TwilioStandIn()
        let twilioURL = try await twilio.start()
        defer { Task { try? await twilio.shutdown() } }

        #expect(try CLI.run(["users", "create", "--email", "ops@example.org", "--name", "Ops", "--role", "admin", "--password", "a long enough password"], environment: env).status == 0)
        let token = try CLI.run(["tokens", "create", "--email", "ops@example.org", "--name", "cli"], environment: env)
        let bearer = "Bearer " + (token.stdout.split(separator: "\n").last.map(String.init) ?? "")

        // The web process: no dispatcher in it.
        var webEnv = env
        webEnv["MOEEN_DISPATCH"] = "false"
        let port = try freePort()
        let web = Process()
        web.executableURL = CLI.binary
        web.arguments = ["serve", "--port", "\(port)"]
        web.environment = webEnv
        web.currentDirectoryURL = directory
        web.standardOutput = Pipe()
        web.standardError = Pipe()
        try web.run()
        defer { web.terminate(); web.waitUntilExit() }
        #expect(try await poll(try #require(URL(string: "http://127.0.0.1:\(port)/ready")), within: .seconds(60)) == 200)

        var create = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/api/integrations")))
        create.httpMethod = "POST"
        create.setValue(bearer, forHTTPHeaderField: "Authorization")
        create.setValue("application/json", forHTTPHeaderField: "Content-Type")
        create.httpBody = try JSONSerialization.data(withJSONObject: [
            "integration_type": "sms", "name": "Twilio", "is_enabled": true, "config": twilio.workingSettings(baseURL: twilioURL),
        ])
        let (body, response) = try await URLSession.shared.data(for: create)
        #expect((response as? HTTPURLResponse)?.statusCode == 201, "\(String(decoding: body, as: UTF8.self))")

        let sent = try CLI.run(["messages", "send", "--channel", "sms", "--to", "055 123 4567", "--text", "تذكير بالموعد"], environment: env)
        #expect(sent.status == 0, "\(sent.stderr)")
        let id = try #require(sent.stdout.split(separator: "\n").last.map(String.init))
        #expect(id.hasPrefix("msg_"), "\(sent.stdout)")

        let refused = try CLI.run(["messages", "send", "--channel", "sms", "--to", "12", "--text", "x"], environment: env)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--to"), "\(refused.stderr)")

        // Nothing dispatches yet: the web process was told not to.
        let queued = try CLI.run(["messages", "list", "--status", "queued"], environment: env)
        #expect(queued.stdout.contains(id), "\(queued.stdout)")

        let worker = Process()
        worker.executableURL = CLI.binary
        worker.arguments = ["worker"]
        worker.environment = env
        worker.currentDirectoryURL = directory
        worker.standardOutput = Pipe()
        worker.standardError = Pipe()
        try worker.run()
        defer { if worker.isRunning { worker.terminate(); worker.waitUntilExit() } }
        let deadline = ContinuousClock.now + .seconds(60)
        while await twilio.state.sent.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let delivered = await twilio.state.sent
        #expect(delivered.count == 1)
        #expect(delivered.first?.form["To"] == "+966551234567")

        var listed = try CLI.run(["messages", "list", "--status", "sent"], environment: env)
        while !listed.stdout.contains(id), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            listed = try CLI.run(["messages", "list", "--status", "sent"], environment: env)
        }
        #expect(listed.stdout.contains(id), "\(listed.stdout)")

        let retry = try CLI.run(["messages", "retry", id], environment: env)
        #expect(retry.status != 0)
        #expect(retry.stderr.contains("only failed or dead"), "\(retry.stderr)")
        #expect(try CLI.run(["messages", "retry", "msg_20260101_0000000000000000"], environment: env).status != 0)

        worker.terminate()
        worker.waitUntilExit()
        #expect(worker.terminationStatus == 0)
    }
}
