import Fluent
import Vapor

/// What runs before a command: the commands that use the database apply pending migrations first (unless
/// `MOEEN_AUTO_MIGRATE=false`), so `moeen users create` works on a fresh machine too; and `moeen serve`,
/// while no user exists, prints the one-time setup link.
public enum ServeStartup {
    /// Whether these command-line arguments run the server (`serve`, or no command at all).
    public static func isServe(_ arguments: [String]) -> Bool {
        guard let command = arguments.dropFirst().first else { return true }
        return command == "serve" || command.hasPrefix("-")
    }

    /// The commands that read or write the database (and so want it migrated).
    static let databaseCommands: Set<String> = ["users", "tokens", "integrations", "keys", "messages", "worker"]

    public static func prepare(_ app: Application, arguments: [String]) async throws {
        let serving = isServe(arguments)
        let command = arguments.dropFirst().first ?? "serve"
        guard serving || databaseCommands.contains(command) else { return }
        guard !arguments.contains("--help"), !arguments.contains("-h") else { return }
        let config = app.moeenConfiguration
        try await DatabaseSetup.prepareSQLite(app)
        if config.autoMigrate {
            try await DatabaseSetup.migrate(app)
        }
        guard serving else { return }
        if config.delivery.dispatch {
            try app.startDispatcher()
        }
        // Scheduled health checks, alert evaluation and retention (each period once across processes).
        app.startScheduler()
        if let token = try await SetupLinks.issueIfNeeded(on: app.db) {
            let base = config.publicURL ?? baseURL(from: arguments)
            let link = "\(base)/setup?token=\(token)"
            app.console.output("No user exists yet. Create the first admin within one hour at:", style: .warning)
            app.console.output("\(link)", style: .info)
        }
    }

    /// `http://HOST:PORT` from `--hostname/-H`, `--port/-p`, `--bind/-b` (defaults 127.0.0.1:8080).
    static func baseURL(from arguments: [String]) -> String {
        var host = "127.0.0.1"
        var port = "8080"
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            let next = arguments.index(after: index) < arguments.endIndex ? arguments[arguments.index(after: index)] : nil
            switch argument {
            case "--hostname", "-H": if let next { host = next }
            case "--port", "-p": if let next { port = next }
            case "--bind", "-b":
                if let next {
                    let parts = next.split(separator: ":")
                    if let first = parts.first { host = String(first) }
                    if parts.count > 1, let last = parts.last { port = String(last) }
                }
            default: break
            }
            index = arguments.index(after: index)
        }
        if host == "0.0.0.0" || host == "::" { host = "127.0.0.1" }
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}
