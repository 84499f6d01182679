import Foundation
import MoeenCore

/// "Credentials expire in N days" / "expired" beside an integration on the Integrations tab, shown for expiries
/// within `CredentialExpiry.upcomingDays` and for past ones.
struct CredentialExpiryMarker: Encodable, Equatable {
    /// The badge's CSS modifier: `failed` once expired, `timeout` (a warning) before.
    let level: String
    let text: String
    /// Whole UTC days left; negative once past.
    let days: Int
    let expired: Bool
    let at: TimeDisplay

    init?(_ date: Date?, now: Date, _ language: Language) {
        guard let date, CredentialExpiry.isUpcoming(date, now: now) else { return nil }
        let days = CredentialExpiry.daysLeft(until: date, now: now)
        self.days = days
        expired = date <= now
        level = expired ? "failed" : "timeout"
        at = TimeDisplay(date, language)
        if expired {
            text = Strings.text("credentials_expired", language)
        } else if days == 0 {
            text = Strings.text("credentials_expire_today", language)
        } else {
            text = "\(Strings.text("credentials_expire_in", language)) \(Self.days(days, language))"
        }
    }

    /// "5 days" / "٥ أيام" with the Arabic noun that goes with the number (Western digits, as the pages write numbers).
    static func days(_ count: Int, _ language: Language) -> String {
        guard language == .ar else { return count == 1 ? "1 day" : "\(language.format(count)) days" }
        switch count {
        case 1: return "يوم واحد"
        case 2: return "يومين"
        case 3...10: return "\(count) أيام"
        default: return "\(language.format(count)) يوماً"
        }
    }
}

/// One line of the Integrations tab's "upcoming expiries" summary.
struct UpcomingExpiry: Encodable, Equatable {
    let name: String
    let typeLabel: String
    let href: String
    let marker: CredentialExpiryMarker

    /// The integrations whose credentials expired or expire within the window, soonest first.
    static func list(_ rows: [IntegrationConfig], now: Date, _ language: Language) -> [UpcomingExpiry] {
        rows.compactMap { row -> (Date, UpcomingExpiry)? in
            guard let date = row.credentialsExpireAt, let marker = CredentialExpiryMarker(date, now: now, language) else { return nil }
            let type = IntegrationType(rawValue: row.integrationType)
            return (date, UpcomingExpiry(
                name: row.name, typeLabel: type.map { language == .ar ? $0.labelAR : $0.labelEN } ?? row.integrationType,
                href: SiteURL.integration(publicID: row.publicID).path, marker: marker))
        }
        .sorted { $0.0 < $1.0 }.map(\.1)
    }
}

/// The integration form's date field for `credentials_expire_at`.
struct CredentialExpiryField: Encodable, Equatable {
    /// `YYYY-MM-DD` (UTC day), or what a refused submission entered.
    let value: String
    let error: String?
    let marker: CredentialExpiryMarker?

    /// - Parameters:
    ///   - entered: what a refused submission typed, shown again.
    ///   - problem: the writer's problem for the field, if any.
    init(_ row: IntegrationConfig, entered: String?, problem: String?, now: Date = Date(), _ language: Language) {
        value = entered ?? CredentialExpiry.formValue(row.credentialsExpireAt)
        error = problem.map { _ in Strings.text("error_credentials_expire_at", language) }
        marker = CredentialExpiryMarker(row.credentialsExpireAt, now: now, language)
    }
}
