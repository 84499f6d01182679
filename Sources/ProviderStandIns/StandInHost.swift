import Vapor

/// Runs one Vapor application on 127.0.0.1 for a stand-in.
actor StandInHost {
    private var app: Application?
    private var url: URL?
    let name: String

    init(name: String) { self.name = name }

    /// Starts the server on `port` (0: any free port) with `routes`; returns the base URL.
    func start(port: Int, middleware: StandInMiddleware, routes: @Sendable (Application) -> Void) async throws -> URL {
        if let url { return url }
        let app = try await Application.make(Environment(name: "testing", arguments: ["standin"]))
        app.logger.logLevel = .warning
        app.http.server.configuration.hostname = "127.0.0.1"
        app.http.server.configuration.port = port
        app.routes.defaultMaxBodySize = "1mb"
        app.middleware.use(middleware)
        routes(app)
        do {
            try await app.server.start(address: .hostname("127.0.0.1", port: port))
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        guard let bound = app.http.server.shared.localAddress?.port,
              let url = URL(string: "http://127.0.0.1:\(bound)")
        else {
            await app.server.shutdown()
            try? await app.asyncShutdown()
            throw Abort(.internalServerError, reason: "\(name) stand-in did not report its port")
        }
        self.app = app
        self.url = url
        return url
    }

    /// The base URL once started.
    var baseURL: URL? { url }

    func shutdown() async throws {
        guard let app else { return }
        self.app = nil
        self.url = nil
        await app.server.shutdown()
        try await app.asyncShutdown()
    }
}
