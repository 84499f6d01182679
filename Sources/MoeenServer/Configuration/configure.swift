import Fluent
import Leaf
import LeafKit
import Vapor

/// Builds the whole application. The executable and every test call this; tests differ only in the
/// configuration they pass.
///
/// - Parameter configuration: the settings; `nil` reads them from the process environment.
public func configure(_ app: Application, configuration: MoeenConfiguration? = nil) async throws {
    let config = try configuration ?? MoeenConfiguration.parse(
        environment: ProcessInfo.processInfo.environment,
        environmentName: app.environment.name
    )
    app.moeenConfiguration = config
    app.readiness = Readiness()
    app.logger.logLevel = config.logLevel

    // This application's own metrics registry (tests run many applications in one process).
    app.metrics = MoeenMetrics()
    // HTTPMetricsMiddleware counts requests (by route template) instead of Vapor's own swift-metrics series.
    app.http.server.configuration.reportMetrics = false
    app.middleware = Middlewares()
    app.middleware.use(HTTPMetricsMiddleware(metrics: app.metrics))
    app.middleware.use(ErrorRenderingMiddleware())
    app.routes.defaultMaxBodySize = "1mb"

    try DatabaseSetup.configure(app, target: config.database)
    app.directory.viewsDirectory = Resources.viewsDirectory
    app.directory.publicDirectory = Resources.publicDirectory
    app.views.use(.leaf)
    // The templates ship as a resource bundle inside the build folder (`.build/…`); allow that hidden
    // folder but keep the sandbox at the views directory.
    app.leaf.sources = .singleSource(NIOLeafFiles(
        fileio: app.fileio,
        limits: [.toSandbox, .requireExtensions],
        sandboxDirectory: Resources.viewsDirectory,
        viewDirectory: Resources.viewsDirectory
    ))

    try await ServicesSetup.configure(app, config: config)
    // Made now, while one thread configures: request handlers only read them afterwards.
    _ = app.centrePreferences
    _ = app.webhookSettings
    app.lifecycle.use(SQLitePragmas())
    app.lifecycle.use(StuckTestingReset())
    try routes(app)
    registerCommands(app)
}

/// Sets the SQLite pragmas (WAL…) once the application boots.
struct SQLitePragmas: LifecycleHandler {
    func willBootAsync(_ application: Application) async throws {
        try await DatabaseSetup.prepareSQLite(application)
    }
}

/// Where the bundled Leaf templates and static files live.
enum Resources {
    static var root: String {
        // `bundleURL`, not `resourceURL`: Foundation on Linux treats a `Resources` folder as the bundle's own.
        Bundle.module.bundleURL.appendingPathComponent("Resources").path + "/"
    }

    static var viewsDirectory: String { root + "Views/" }
    static var publicDirectory: String { root + "Public/" }
}
