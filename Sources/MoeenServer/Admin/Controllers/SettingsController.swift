import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/settings` and its tabs General, Integrations, Alerts and Security (Users: `UsersPageController`; Messages:
/// `MessagesPageController`; Alerts: `AlertsPageController`).
/// Every signed-in role reads General, Integrations and Alerts; Security, and changing the quiet hours on
/// General (`SettingsController+QuietHours.swift`), are for admins.
struct SettingsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let readers = routes.grouped(RequirePageRole(role: .viewer))
        readers.get(SiteURL.settings(.general).pathComponents, use: general)
        readers.get(SiteURL.settings(.integrations).pathComponents, use: integrations)
        let admins = routes.grouped(RequirePageRole(role: .admin))
        admins.get(SiteURL.settings(.security).pathComponents, use: security)
        admins.formPost(SiteURL.deliverySettings.pathComponents, maxSize: "16kb", use: saveQuietHours)
    }

    @Sendable
    func general(req: Request) async throws -> Response {
        try await renderGeneral(req)
    }

    /// The General tab; `quietHoursDraft` re-shows a quiet-hours submission that was refused, with its problems.
    func renderGeneral(_ req: Request, quietHoursDraft: QuietHoursDraft? = nil, status: HTTPResponseStatus = .ok) async throws -> Response {
        let language = req.language
        let config = req.moeenConfiguration
        let rows = try await IntegrationConfig.query(on: req.db).all()
        let database = switch config.database {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        }
        let facts: [GeneralPage.Fact] = [
            .init(label: Strings.text("environment", language), value: config.environmentName, ltr: true),
            .init(label: Strings.text("public_url", language), value: config.publicURL ?? Strings.text("not_set", language), ltr: config.publicURL != nil),
            .init(label: Strings.text("database", language), value: database, ltr: true),
            .init(label: Strings.text("integrations_enabled", language),
                  value: "\(language.format(rows.filter(\.isEnabled).count)) / \(language.format(rows.count))", ltr: true),
            .init(label: Strings.text("integrations_healthy", language),
                  value: language.format(rows.filter { $0.lastTestAt != nil && $0.healthScore >= 80 }.count), ltr: true),
            .init(label: Strings.text("health_interval", language),
                  value: "\(language.format(Int(config.healthInterval.components.seconds))) \(Strings.text("seconds", language))", ltr: false),
            .init(label: Strings.text("scheduled_checks", language),
                  value: try await Self.lastScheduledCheck(req, language), ltr: false),
            .init(label: Strings.text("retention", language),
                  value: "\(language.format(config.monitoring.retentionDays)) \(Strings.text("days", language))", ltr: false),
        ]
        let preferences = try await CentreDeliveryPreferences.load(on: req.db)
        let form = try req.currentUser.role == .admin ? Self.quietHoursForm(preferences, draft: quietHoursDraft, language) : nil
        let page = GeneralPage(frame: PageFrame(req, title: Strings.text("tab_general", language), tab: .general), facts: facts,
                               quietHours: QuietHoursSection(preferences, form: form, language))
        return try await AdminView.render("admin-general", page, status: status, for: req)
    }

    /// When the scheduler last finished a health check (any process), or that none has run yet.
    static func lastScheduledCheck(_ req: Request, _ language: Language) async throws -> String {
        let jobs = try await ScheduledJobStore(db: req.db).all().filter { $0.name.hasPrefix(Scheduler.healthPrefix) }
        guard let last = jobs.compactMap(\.lastFinishedAt).max() else { return Strings.text("scheduled_checks_none", language) }
        return Strings.text("scheduled_checks_last", language) + " " + language.format(last)
    }

    @Sendable
    func integrations(req: Request) async throws -> Response {
        let language = req.language
        let rows = try await IntegrationConfig.query(on: req.db).all()
        let order = Dictionary(uniqueKeysWithValues: IntegrationType.allCases.enumerated().map { ($1.rawValue, $0) })
        let sorted = rows.sorted { (order[$0.integrationType] ?? 99, $0.name) < (order[$1.integrationType] ?? 99, $1.name) }
        let page = IntegrationsPage(
            frame: PageFrame(req, title: Strings.text("tab_integrations", language), tab: .integrations),
            rows: sorted.map { row in
                let type = IntegrationType(rawValue: row.integrationType)
                return IntegrationsPage.Row(
                    publicID: row.publicID, type: row.integrationType,
                    typeLabel: type.map { language == .ar ? $0.labelAR : $0.labelEN } ?? row.integrationType,
                    name: row.name, href: SiteURL.integration(publicID: row.publicID).path,
                    enabled: .enabled(row.isEnabled, language),
                    status: .integrationStatus(row.status, language),
                    health: HealthBadge(score: row.healthScore, tested: row.lastTestAt != nil, language),
                    lastTest: row.lastTestAt.map { TimeDisplay($0, language) },
                    lastResult: .testResult(row.lastTestStatus, language),
                    lastMessage: row.lastTestStatus == "success" ? Strings.text("test_success_message", language) : row.lastTestMessage,
                    expiry: CredentialExpiryMarker(row.credentialsExpireAt, now: Date(), language)
                )
            },
            upcomingExpiries: UpcomingExpiry.list(sorted, now: Date(), language)
        )
        return try await AdminView.render("admin-integrations", page, for: req)
    }

    @Sendable
    func security(req: Request) async throws -> Response {
        let language = req.language
        let keys = await KeyUsage.read(on: req.db, logger: req.logger)
        let page = SecurityPage(
            frame: PageFrame(req, title: Strings.text("tab_security", language), tab: .security),
            keyProvider: req.moeenConfiguration.keyProvider.rawValue,
            versions: keys.versions.map { .init(key: $0.key, version: $0.version, rows: language.format($0.rows)) },
            lastRotation: keys.lastRotation.map { TimeDisplay($0, language) }
        )
        return try await AdminView.render("admin-security", page, for: req)
    }
}

/// Which wrapping keys the stored data keys use (`integration_data_keys`, rows per provider/key/version) and
/// when a rotation last completed (`key_rotations`). Read defensively: a database without those tables
/// (or an unreadable one) shows "no key data" instead of failing the page.
enum KeyUsage {
    struct Version: Equatable {
        let key: String
        let version: String
        let rows: Int
    }

    static func read(on db: any Database, logger: Logger) async -> (versions: [Version], lastRotation: Date?) {
        do {
            let keys = try await IntegrationDataKey.query(on: db).all()
            var counts: [String: Version] = [:]
            for key in keys {
                let label = "\(key.provider):\(key.keyID)"
                let id = label + "\u{1f}\(key.keyVersion)"
                counts[id] = Version(key: label, version: String(key.keyVersion), rows: (counts[id]?.rows ?? 0) + 1)
            }
            let versions = counts.values.sorted { ($0.key, $0.version) < ($1.key, $1.version) }
            let rotation = try? await KeyRotation.query(on: db)
                .filter(\.$status == "completed")
                .sort(\.$startedAt, .descending)
                .first()
            return (versions, rotation.map { $0.finishedAt ?? $0.startedAt })
        } catch {
            logger.debug("key usage not readable", metadata: ["reason": "\(String(describing: error).prefix(200))"])
            return ([], nil)
        }
    }
}

extension SiteURL {
    var pathComponents: [PathComponent] { components.map { PathComponent(stringLiteral: $0) } }

    /// The route pattern of a URL with a parameter in place of the public id / user id.
    static func pattern(_ url: SiteURL) -> [PathComponent] {
        switch url {
        case .integration: ["settings", "integrations", ":public_id"]
        case .integrationSave: ["settings", "integrations", ":public_id", "save"]
        case .integrationEnable: ["settings", "integrations", ":public_id", "enable"]
        case .integrationTest: ["settings", "integrations", ":public_id", "test"]
        case .message: ["settings", "messages", ":public_id"]
        case .messageRetry: ["settings", "messages", ":public_id", "retry"]
        case .messageCancel: ["settings", "messages", ":public_id", "cancel"]
        case .optOutRemove: ["settings", "messages", "opt-outs", ":public_id", "remove"]
        case .user: ["settings", "users", ":user_id"]
        default: url.pathComponents
        }
    }
}
