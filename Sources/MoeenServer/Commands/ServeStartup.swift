import Fluent
import Vapor

/// What `moeen serve` does before it starts listening: apply pending migrations (unless
/// `MOEEN_AUTO_MIGRATE=false`) and, while no user exists, print the one-time setup link.
public enum ServeStartup {
    /// Whether these command-line arguments run the server (`serve`, or no command at all).
    public static func isServe(_ arguments: [String]) -> Bool {
        guard let command = arguments.dropFirst().first else { return true }
        return command == "serve" || command.hasPrefix("-")
    }

    public static func prepare(_ app: Application, arguments: [String]) async throws {
        let config = app.moeenConfiguration
        try await DatabaseSetup.prepareSQLite(app.db)
        if config.autoMigrate {
            try await DatabaseSetup.migrate(app)
        }
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
