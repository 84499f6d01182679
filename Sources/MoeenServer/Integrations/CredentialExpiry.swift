import Fluent
import Foundation
import MoeenConnectors
import MoeenCore
import Vapor

/// `integration_configs.credentials_expire_at` (issue 12): when an integration's credentials stop working.
///
/// An admin enters it (API `credentials_expire_at`, RFC 3339 or `null`; the integration form's date field), and a
/// provider that says the credentials have expired marks it: Google's token endpoint answering `invalid_grant`
/// (PROVIDERS.md: "Token has been expired or revoked") and the WhatsApp Graph API's error code 190 when it says
/// the session has expired (Meta's subcode 463, "Error validating access token: Session has expired on …"); a
/// token that is simply wrong (190 "Invalid OAuth access token") is a bad credential, not an expired one. A mark sets the time the error was seen, unless an earlier time is already stored —
/// credentials that expired last week did not expire again today. The Integrations tab lists expiries within
/// `upcomingDays`; the `credential_expiry` alert rule (Alerts/) notifies before them.
enum CredentialExpiry {
    /// How far ahead the Integrations tab shows an expiry.
    static let upcomingDays = 30
    static let field = "credentials_expire_at"
    /// The API's validation message for the field.
    static let problem = "must be an RFC 3339 timestamp like 2026-12-31T00:00:00Z, or null"

    /// A change to the field asked for by a write.
    enum Change: Sendable, Equatable {
        case set(Date)
        case clear
        /// The value sent could not be read; the writer answers 422 naming the field.
        case invalid(String)
    }

    // MARK: Reading what a write asks for

    /// The change an API body asks for: `nil` when the key is absent, `.clear` for `null`.
    static func change(json value: JSONValue?) -> Change? {
        switch value {
        case .none: nil
        case .some(.null): .clear
        case .some(.string(let text)): RFC3339.parse(text).map(Change.set) ?? .invalid(problem)
        case .some: .invalid(problem)
        }
    }

    /// The change a JSON request body asks for (its `credentials_expire_at` key), read after the caller decoded
    /// the rest of the body (so a malformed body was already a 400).
    static func requested(_ req: Request) -> Change? {
        guard let body = try? req.content.decode(JSONValue.self), case .object(let object) = body else { return nil }
        return change(json: object[field])
    }

    /// The change the integration form asks for: its date input (`2026-12-31`, meaning 00:00 UTC that day, or a
    /// full RFC 3339 time); empty clears; `nil` (no such input) or the day already `stored` keeps the stored value
    /// (so saving the form again does not move a time of day the API set).
    static func change(form raw: String?, stored: Date? = nil) -> Change? {
        guard let raw else { return nil }
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if text == formValue(stored) { return nil }
        if text.isEmpty { return .clear }
        if let day = day(text) { return .set(day) }
        return RFC3339.parse(text).map(Change.set) ?? .invalid(problem)
    }

    /// `YYYY-MM-DD` as 00:00 UTC of that day.
    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let dayOfMonth = Int(parts[2]),
              (1...12).contains(month), (1...31).contains(dayOfMonth)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: dayOfMonth)
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }

    /// The value of the form's date input for a stored time (its UTC day).
    static func formValue(_ date: Date?) -> String {
        guard let date else { return "" }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    // MARK: Marking from provider errors

    /// Whether a provider's error means the credentials have expired (or, for Google, were revoked).
    static func meansExpired(type: IntegrationType, code: String?, message: String) -> Bool {
        switch type {
        case .googleCalendar: code == "invalid_grant"
        case .whatsapp: code == "190" && message.lowercased().contains("expired")
        default: false
        }
    }

    /// The dispatcher's hook: a send failed with `error`.
    static func markIfExpired(_ error: ProviderError, type: IntegrationType, row: IntegrationConfig,
                              on db: any Database, logger: Logger, at seen: Date = Date()) async {
        guard meansExpired(type: type, code: error.code, message: error.message) else { return }
        await mark(row, at: seen, code: error.code ?? "", on: db, logger: logger)
    }

    /// The test connection's hook: `row` is the tested integration when its stored settings were tested (a test
    /// of unsaved settings says nothing about the stored credentials), else `nil`.
    static func markIfExpired(_ outcome: TestOutcome, type: IntegrationType, row: IntegrationConfig?,
                              on db: any Database, logger: Logger, at seen: Date = Date()) async {
        guard !outcome.success, let row else { return }
        let code: String? = switch outcome.details["provider_error_code"] {
        case .string(let text)?: text
        case .number(let text)?: text
        default: nil
        }
        guard meansExpired(type: type, code: code, message: outcome.message) else { return }
        await mark(row, at: seen, code: code ?? "", on: db, logger: logger)
    }

    /// Sets `credentials_expire_at` to `seen` when it is unset or later, with an audit entry (no user). Never
    /// throws: the failure it records is already logged and answered; a mark that cannot be written is logged.
    static func mark(_ row: IntegrationConfig, at seen: Date, code: String, on db: any Database, logger: Logger) async {
        do {
            let rowID = try row.requireID()
            let changed = try await db.transaction { db -> Bool in
                guard let current = try await IntegrationConfig.find(rowID, on: db) else { return false }
                if let stored = current.credentialsExpireAt, stored <= seen { return false }
                let before = current.credentialsExpireAt
                try await IntegrationConfig.query(on: db).filter(\.$id == rowID)
                    .set(\.$credentialsExpireAt, to: seen).update()
                try await AuditLog(
                    action: "UPDATE", tableName: IntegrationConfig.schema, recordID: rowID.uuidString,
                    oldValues: [field: before.map { .string(MessageIntake.timestamp($0)) } ?? .null],
                    newValues: [field: .string(MessageIntake.timestamp(seen)), "reason": .string("provider error \(code)")],
                    userID: nil, ipAddress: nil
                ).create(on: db)
                return true
            }
            guard changed else { return }
            row.credentialsExpireAt = seen
            logger.warning("integration credentials marked expired", metadata: [
                "integration": .string(row.publicID), "provider_error_code": .string(code),
                "credentials_expire_at": .string(MessageIntake.timestamp(seen)),
            ])
        } catch {
            logger.warning("could not mark the integration's credentials expired", metadata: [
                "integration": .string(row.publicID), "error": .string(String(describing: error)),
            ])
        }
    }

    // MARK: Showing

    /// Whole days from `now` until `date` (negative once past), counted by the UTC calendar day.
    static func daysLeft(until date: Date, now: Date) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let from = calendar.startOfDay(for: now)
        let to = calendar.startOfDay(for: date)
        return calendar.dateComponents([.day], from: from, to: to).day ?? 0
    }

    /// Whether the Integrations tab shows the expiry: passed, or within `upcomingDays`.
    static func isUpcoming(_ date: Date?, now: Date) -> Bool {
        guard let date else { return false }
        return date <= now || daysLeft(until: date, now: now) <= upcomingDays
    }
}
