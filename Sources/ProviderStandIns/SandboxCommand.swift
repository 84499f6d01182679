import Foundation
import MoeenCore
import Vapor

/// `moeen sandbox [--port-base 9400]`: starts the seven provider stand-ins on 127.0.0.1,
/// prints `TYPE URL` per provider followed by the settings that work, and runs until interrupted.
/// Register with `app.asyncCommands.use(SandboxCommand(), as: "sandbox")`.
public struct SandboxCommand: AsyncCommand {
    public struct Signature: CommandSignature {
        @Option(name: "port-base", help: "First port; the stand-ins take this and the next six (default 9400, 0 for any free ports)")
        var portBase: Int?

        public init() {}
    }

    public var help: String { "Starts the local provider stand-ins and prints their base URLs and working settings" }

    public init() {}

    public func run(using context: CommandContext, signature: Signature) async throws {
        let base = signature.portBase ?? 9400
        let sandbox = StandInSandbox()
        let endpoints = try await sandbox.start(portBase: base == 0 ? nil : base)
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
