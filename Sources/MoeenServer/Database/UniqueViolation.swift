import PostgresNIO
import SQLiteNIO

/// Recognises the database refusing a duplicate value of a unique index or primary key, by the error code
/// each database gives for it — never by the wording of its message, which changes between versions and
/// languages (and, on PostgreSQL, quotes the duplicate value itself).
enum UniqueViolation {
    /// PostgreSQL's SQLSTATE for `unique_violation` (a primary key or a unique index).
    static let postgresSQLState = "23505"

    /// Whether `error` is a unique-key (or primary-key) violation: SQLite's extended result codes
    /// `SQLITE_CONSTRAINT_UNIQUE` (2067) and `SQLITE_CONSTRAINT_PRIMARYKEY` (1555), PostgreSQL's SQLSTATE 23505.
    static func matches(_ error: any Error) -> Bool {
        if let error = error as? SQLiteError {
            switch error.reason {
            case .constraintUniqueFailed, .constraintPrimaryKeyFailed: return true
            default: return false
            }
        }
        if let error = error as? PSQLError {
            return error.code == .server && error.serverInfo?[.sqlState] == postgresSQLState
        }
        return false
    }
}
