import Foundation
import MoeenCore
import Vapor

/// `moeen sandbox [--port-base 9400] [--only sms,email]`: starts the seven provider stand-ins (or the named
/// ones) on 127.0.0.1, prints `TYPE URL` per provider followed by the settings that work, and runs until
/// interrupted. Each also serves the test-only control API under `/_standin/` (see `StandInControl`).
/// Register with `app.asyncCommands.use(SandboxCommand(), as: "sandbox")`.
public struct SandboxCommand: AsyncCommand {
    public struct Signature: CommandSignature {
        @Option(name: "port-base", help: "First port; the stand-ins take this and the next six (default 9400, 0 for any free ports)")
        var portBase: Int?

        @Option(name: "only", help: "Comma-separated integration types to start (default: all), e.g. sms,email")
        var only: String?

        public init() {}
    }

    public var help: String { "Starts the local provider stand-ins and prints their base URLs and working settings" }

    public init() {}

    public func run(using context: CommandContext, signature: Signature) async throws {
        let base = signature.portBase ?? 9400
        let only = try signature.only.map(Self.types(named:))
        let sandbox = StandInSandbox()
        let endpoints = try await sandbox.start(portBase: base == 0 ? nil : base, only: only)
        for endpoint in endpoints {
            context.console.print("\(endpoint.type.rawValue) \(endpoint.baseURL.absoluteString)")
            for (key, value) in endpoint.settings.sorted(by: { $0.key < $1.key }) {
                context.console.print("  \(key)=\(value)")
            }
        }
        context.console.print("Stand-ins running (fake credentials above); press Ctrl-C to stop.")
        await Self.waitForInterrupt()
        try await sandbox.shutdown()
    }

    /// The types `--only` names (`sms,email`); refuses an unknown name or an empty list.
    public static func types(named list: String) throws -> Set<IntegrationType> {
        var types = Set<IntegrationType>()
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let type = IntegrationType(rawValue: name) else {
                throw SandboxError(description: "unknown integration type \(name) in --only (known: "
                    + IntegrationType.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            types.insert(type)
        }
        guard !types.isEmpty else { throw SandboxError(description: "--only needs at least one integration type") }
        return types
    }

    /// Suspends until SIGINT or SIGTERM.
    static func waitForInterrupt() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let queue = DispatchQueue(label: "moeen.sandbox.signals")
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { continuation.yield() }
            source.resume()
            sources.append(source)
        }
        for await _ in stream { break }
        for source in sources { source.cancel() }
    }
}

/// A sandbox command line that cannot be run.
struct SandboxError: Error, CustomStringConvertible {
    var description: String
}
