import FluentKit
import Logging

/// Keeps the values of queries out of the log, at every level.
///
/// The database layers log what they run below `info`: Fluent ("Running query" with the values a row is
/// written with and filtered by), SQLKit ("Executing query" with its binds) and, at `trace`, PostgresNIO (the
/// protocol messages, rows included). Those values are patients' phones and e-mail addresses, so the
/// logger every database (and every connection it opens) is given keeps, on lines below `info`, only the
/// message and the metadata named in `allowedDebugMetadata` — the SQL text, never its binds. Lines at
/// `info` and above pass unchanged.
struct BindFreeDatabaseConfiguration: DatabaseConfiguration {
    var base: any DatabaseConfiguration

    var middleware: [any AnyModelMiddleware] {
        get { base.middleware }
        set { base.middleware = newValue }
    }

    func makeDriver(for databases: Databases) -> any DatabaseDriver {
        BindFreeDatabaseDriver(base: base.makeDriver(for: databases))
    }
}

extension DatabaseConfigurationFactory {
    /// `factory`, with the values of its queries kept out of the log (see `BindFreeDatabaseConfiguration`).
    static func bindFree(_ factory: DatabaseConfigurationFactory) -> DatabaseConfigurationFactory {
        DatabaseConfigurationFactory { BindFreeDatabaseConfiguration(base: factory.make()) }
    }
}

/// Hands every database it makes a logger that drops query values (the connections a pool opens take the
/// logger of the database that asked for them, so they are covered too).
struct BindFreeDatabaseDriver: DatabaseDriver {
    let base: any DatabaseDriver

    func makeDatabase(with context: DatabaseContext) -> any Database {
        var logger = context.logger
        logger.handler = BindFreeLogHandler(base: logger.handler)
        return base.makeDatabase(with: DatabaseContext(
            configuration: context.configuration, logger: logger, eventLoop: context.eventLoop,
            history: context.history, pageSizeLimit: context.pageSizeLimit, shouldTrace: context.shouldTrace
        ))
    }

    func shutdown() { base.shutdown() }
    func shutdownAsync() async { await base.shutdownAsync() }
}

/// Passes `info` and above through; below that, keeps only metadata known to carry no data values.
struct BindFreeLogHandler: LogHandler {
    var base: any LogHandler

    /// Metadata of the database layers' debug and trace lines that never holds a stored value: the SQL text
    /// (values are always bound, never spliced in), the kind of query and its table, a migration's name.
    static let allowedDebugMetadata: Set<String> = ["sql", "action", "schema", "migration"]

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.level < .info, let metadata = event.metadata else {
            base.log(event: event)
            return
        }
        var event = event
        event.metadata = metadata.filter { Self.allowedDebugMetadata.contains($0.key) }
        base.log(event: event)
    }
}
