import Foundation
import Vapor

extension Application {
    private struct DispatcherKey: StorageKey {
        typealias Value = Dispatcher
    }

    /// This process's dispatcher, built on first use over the application's database and connectors.
    var dispatcher: Dispatcher {
        get throws {
            if let dispatcher = storage[DispatcherKey.self] { return dispatcher }
            let app = self
            let dispatcher = Dispatcher(
                db: db, connectors: connectors, secrets: { try app.integrationSecrets },
                settings: moeenConfiguration.delivery, preferences: centrePreferences,
                publicURL: moeenConfiguration.publicURL, logger: Logger(label: "moeen.dispatcher"), metrics: metrics)
            storage[DispatcherKey.self] = dispatcher
            return dispatcher
        }
    }

    /// The dispatcher if this process runs one (to wake it when work is queued here).
    var runningDispatcher: Dispatcher? { storage[DispatcherKey.self] }

    /// Starts the dispatcher and the webhook processor, and stops them (the dispatcher gracefully, releasing
    /// its claims) when the application shuts down.
    func startDispatcher() throws {
        let dispatcher = try dispatcher
        let processor = webhookProcessor
        lifecycle.use(DispatcherShutdown(dispatcher: dispatcher, processor: processor))
        dispatcher.start()
        processor.start()
    }
}

/// Stops the dispatcher and the webhook processor before the database goes away.
struct DispatcherShutdown: LifecycleHandler {
    let dispatcher: Dispatcher
    let processor: WebhookProcessor

    func shutdownAsync(_ application: Application) async {
        await dispatcher.stop()
        await processor.stop()
    }
}

/// `moeen worker`: the dispatcher without the HTTP server, until SIGINT or SIGTERM.
struct WorkerCommand: AsyncCommand {
    struct Signature: CommandSignature {}

    var help: String { "Runs the message dispatcher and the scheduler without the HTTP server (scale workers apart from web processes)" }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        try app.startDispatcher()
        app.startScheduler()
        context.console.print("Dispatcher and scheduler running; press Ctrl-C to stop.")
        await SignalWait.untilInterrupted()
    }
}

/// Suspends until SIGINT or SIGTERM.
enum SignalWait {
    static func untilInterrupted() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let queue = DispatchQueue(label: "moeen.signals")
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
