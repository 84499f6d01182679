import Foundation
import MoeenCore

/// `/settings` (General).
struct GeneralPage: Encodable {
    struct Fact: Encodable {
        let label: String
        let value: String
        let ltr: Bool
    }

    let frame: PageFrame
    let facts: [Fact]
    let quietHours: QuietHoursSection
}

/// `/settings/integrations`: one row per integration.
struct IntegrationsPage: Encodable {
    struct Row: Encodable {
        let publicID: String
        let type: String
        let typeLabel: String
        let name: String
        let href: String
        let enabled: StatusBadge
        let status: StatusBadge
        let health: HealthBadge
        let lastTest: TimeDisplay?
        let lastResult: StatusBadge?
        let lastMessage: String?
        /// Credentials that expired or expire within 30 days.
        var expiry: CredentialExpiryMarker? = nil
    }

    let frame: PageFrame
    let rows: [Row]
    /// The "upcoming expiries" summary (`CredentialExpiryDisplay.swift`).
    var upcomingExpiries: [UpcomingExpiry] = []
}

/// `/settings/security`.
struct SecurityPage: Encodable {
    struct KeyVersion: Encodable {
        let key: String
        let version: String
        let rows: String
    }

    let frame: PageFrame
    let keyProvider: String
    let versions: [KeyVersion]
    let lastRotation: TimeDisplay?
}

/// `/settings/users`.
struct UsersPage: Encodable {
    struct Row: Encodable {
        let id: String
        let name: String
        let email: String
        let role: String
        let roleLabel: String
        let active: StatusBadge
        let isActive: Bool
        let lastLogin: TimeDisplay?
        let updateAction: String
        let isSelf: Bool
        let roleOptions: [Option]
    }

    struct Option: Encodable {
        let value: String
        let label: String
        let selected: Bool
    }

    struct NewUser: Encodable {
        let action: String
        let name: String
        let email: String
        let roleOptions: [Option]
        let errors: [String: String]
        let minimumPasswordLength: Int
    }

    let frame: PageFrame
    let rows: [Row]
    let newUser: NewUser

    static func roleOptions(selected: UserRole, _ language: Language) -> [Option] {
        UserRole.allCases.map { Option(value: $0.rawValue, label: Strings.text("role_\($0.rawValue)", language), selected: $0 == selected) }
    }
}
