import Logging
import MoeenServer
import ProviderStandIns
import Vapor

/// The `moeen` executable: bootstraps logging, builds the application with `configure`, runs the command.
@main
enum Entrypoint {
    static func main() async {
        var env: Environment
        do {
            env = try Environment.detect()
        } catch {
            FileHandle.standardError.write(Data("moeen: \(error)\n".utf8))
            exit(2)
        }
        // Logs go to stderr so that command output on stdout (tokens, tables) stays machine-readable.
        let level = Logger.Level(rawValue: Environment.get("LOG_LEVEL")?.lowercased() ?? "") ?? .info
        // LOG_FORMAT=json: one JSON object per line. Read here because logging starts before the configuration.
        let format: LogFormat
        do {
            format = try LogFormat.parse(ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("moeen: \(error)\n".utf8))
            exit(1)
        }
        LoggingSystem.bootstrap { label in format.makeHandler(label: label, level: level) }

        let app: Application
        do {
            app = try await Application.make(env)
        } catch {
            FileHandle.standardError.write(Data("moeen: could not start: \(error)\n".utf8))
            exit(1)
        }
        do {
            try await configure(app)
            app.bootstrapProcessMetrics()
            app.asyncCommands.use(SandboxCommand(), as: "sandbox")
            try await ServeStartup.prepare(app, arguments: env.arguments)
            try await app.execute()
            try await app.asyncShutdown()
        } catch {
            FileHandle.standardError.write(Data("moeen: \(describe(error))\n".utf8))
            try? await app.asyncShutdown()
            exit(1)
        }
    }

    static func describe(_ error: any Error) -> String {
        String(describing: error)
    }
}
