import Foundation
import MoeenCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// moto's AWS stand-in (`python3 -m moto.server`), started per test on a free loopback port.
enum MotoServer {
    /// Whether python3 with moto's server (and flask) can be imported here.
    static func isAvailable() async -> Bool {
        await withCheckedContinuation { continuation in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", "import moto, moto.server, flask"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.terminationHandler = { finished in
                continuation.resume(returning: finished.terminationReason == .exit && finished.terminationStatus == 0)
            }
            do {
                try process.run()
            } catch {
                continuation.resume(returning: false)
            }
        }
    }

    /// Whether the end-to-end tests against moto run here.
    enum Decision: Equatable {
        /// moto is installed: run.
        case run
        /// A developer machine without moto: skip, saying how to install it.
        case skip(String)
        /// CI without moto: fail — a test that CI never runs proves nothing.
        case fail(String)
    }

    static let installHint = "python3 -m pip install 'moto[server]'"

    /// Whether `CI` is set (to anything but `false` or `0`), as CI services and `.ci/run` do.
    static func isCI(_ environment: [String: String]) -> Bool {
        guard let value = environment["CI"]?.trimmingCharacters(in: .whitespaces).lowercased(), !value.isEmpty else { return false }
        return value != "false" && value != "0"
    }

    static func decision(installed: Bool, environment: [String: String]) -> Decision {
        if installed { return .run }
        if isCI(environment) {
            return .fail("moto's server (python3 -m moto.server with flask) is required when CI is set; install it with \(installHint)")
        }
        return .skip("moto's server is not installed on this machine; install it with \(installHint) to run this test")
    }

    /// The decision for this machine and process.
    static func decision() async -> Decision {
        decision(installed: await isAvailable(), environment: ProcessInfo.processInfo.environment)
    }

    /// For a test's `.enabled` trait: run unless this is a developer machine without moto.
    static func shouldRun() async -> Bool {
        if case .skip = await decision() { return false }
        return true
    }

    /// Fails the running test, with the reason, when CI lacks moto.
    static func requireAvailable() async throws {
        if case .fail(let reason) = await decision() { throw StartFailure(description: reason) }
    }

    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `body` with the base URL of a fresh moto server; kills the server afterwards and waits for its exit.
    ///
    /// The server is ended with SIGKILL: a child spawned from a Swift concurrency thread inherits that
    /// thread's blocked-signal mask, so SIGTERM and SIGINT would never reach it.
    static func run(
        transport: any HTTPTransport, _ body: (URL) async throws -> Void
    ) async throws {
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let (exited, exit) = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in
            exit.yield()
            exit.finish()
        }
        try process.run()
        let pid = process.processIdentifier
        do {
            guard let url = URL(string: "http://127.0.0.1:\(port)") else { throw StartFailure(description: "bad URL") }
            try await waitUntilAnswering(url, process: process, transport: transport)
            try await body(url)
        } catch {
            await stop(pid: pid, exited: exited)
            throw error
        }
        await stop(pid: pid, exited: exited)
    }

    private static func stop(pid: Int32, exited: AsyncStream<Void>) async {
        _ = kill(pid, SIGKILL)
        for await _ in exited {}
    }

    /// Polls until the server answers any HTTP request, failing after a deadline or if the process exits.
    private static func waitUntilAnswering(_ url: URL, process: Process, transport: any HTTPTransport) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw StartFailure(description: "moto exited with status \(process.terminationStatus) before answering")
            }
            do {
                _ = try await transport.send(OutboundRequest(method: "GET", url: url.absoluteString + "/moto-api/", timeout: .seconds(2)))
                return
            } catch {
                try await Task.sleep(for: .milliseconds(100))  // poll interval, not a wait for work
            }
        }
        throw StartFailure(description: "moto did not answer on \(url) within 60 seconds")
    }

    /// A loopback TCP port nobody listens on right now (bound to port 0, then released).
    private static func freePort() throws -> Int {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw StartFailure(description: "socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw StartFailure(description: "bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw StartFailure(description: "getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
