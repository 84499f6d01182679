import Fluent
import Foundation
import MoeenCore
import Vapor

/// `/settings/alerts` (التنبيهات): every role reads the open alerts, their history and the rules; managers and up
/// acknowledge an open alert; admins add, change and delete rules (`AlertsPageController+Rules.swift`). Plain form
/// posts that redirect back (no script). Acknowledging goes through `AlertsController.acknowledge`, and the rule
/// form is checked by `AlertRuleValidation`, exactly as the API checks them.
struct AlertsPageController: RouteCollection {
    /// The tab's addresses (the tab itself is `SiteURL.settings(.alerts)`).
    enum Paths {
        static var tab: String { SiteURL.settings(.alerts).path }
        static var rules: String { tab + "/rules" }
        static func rule(_ publicID: String) -> String { rules + "/" + publicID }
        static func ruleDelete(_ publicID: String) -> String { rule(publicID) + "/delete" }
        static func acknowledge(_ publicID: String) -> String { tab + "/" + publicID + "/acknowledge" }
        static func edit(_ publicID: String) -> String { SiteURL.path(tab, query: [("edit", publicID)]) + "#rule-form" }
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.grouped(RequirePageRole(role: .viewer)).get(SiteURL.settings(.alerts).pathComponents, use: index)
        routes.grouped(RequirePageRole(role: .manager))
            .formPost(["settings", "alerts", ":id", "acknowledge"], maxSize: "16kb", use: acknowledge)
        let admins = routes.grouped(RequirePageRole(role: .admin))
        admins.formPost(["settings", "alerts", "rules"], maxSize: "32kb", use: createRule)
        admins.formPost(["settings", "alerts", "rules", ":id"], maxSize: "32kb", use: updateRule)
        admins.formPost(["settings", "alerts", "rules", ":id", "delete"], maxSize: "16kb", use: deleteRule)
    }

    /// Notices a redirect back to the tab may ask for, and whether each reports a refusal.
    static let notices: [String: Bool] = [
        "rule_created": false, "rule_updated": false, "rule_deleted": false,
        "alert_acknowledged_notice": false, "alert_already_resolved": true,
    ]

    // MARK: Reading

    @Sendable
    func index(req: Request) async throws -> Response {
        var draft: RuleDraft?
        if try req.currentUser.role == .admin, let edit = req.query[String.self, at: "edit"],
           let rule = try await AlertRule.find(idOrPublicID: edit, on: req.db) {
            draft = try await RuleDraft(rule, on: req.db)
        }
        return try await render(req, draft: draft)
    }

    /// The tab; `draft` fills the rule form (a rule being edited, or a refused submission with its problems).
    func render(_ req: Request, draft: RuleDraft?, status: HTTPResponseStatus = .ok) async throws -> Response {
        let language = req.language
        let user = try req.currentUser
        let isAdmin = user.role == .admin
        let canAcknowledge = user.role.isAtLeast(.manager)

        let paging = try PageRequest(req)
        let limit = req.query[String.self, at: "limit"] != nil ? paging.limit : nil
        let cursor = req.query[String.self, at: "cursor"].flatMap { $0.isEmpty ? nil : $0 }
        let open = try await Alert.query(on: req.db).filter(\.$state == AlertState.open.rawValue).with(\.$rule)
            .sort(\.$firedAt, .descending).limit(PageRequest.maxLimit).all()
        let (history, next) = try await Alert.query(on: req.db).filter(\.$state == AlertState.resolved.rawValue)
            .with(\.$rule).page(paging, newestFirst: true)

        let integrations = try await IntegrationConfig.query(on: req.db).all()
        let byID = Dictionary(integrations.compactMap { row in row.id.map { ($0, row) } }, uniquingKeysWith: { first, _ in first })
        let byPublicID = Dictionary(integrations.map { ($0.publicID, $0) }, uniquingKeysWith: { first, _ in first })
        let ackIDs = (open + history).compactMap(\.acknowledgedBy)
        let users = ackIDs.isEmpty ? [] : try await User.query(on: req.db).filter(\.$id ~~ Array(Set(ackIDs))).all()
        let names = Dictionary(users.compactMap { user in user.id.map { ($0, user.name) } }, uniquingKeysWith: { first, _ in first })

        // Sorted here, not by the database: SQLite and PostgreSQL collate names differently.
        let rules = try await AlertRule.query(on: req.db).all()
            .sorted { ($0.isDefault ? 0 : 1, $0.name, $0.publicID) < ($1.isDefault ? 0 : 1, $1.name, $1.publicID) }
        let context = Context(language: language, integrations: byID, byPublicID: byPublicID)
        let page = AlertsTabPage(
            frame: PageFrame(req, title: Strings.text("tab_alerts", language), tab: .alerts,
                             notice: Self.notice(req, language), languagePath: Paths.tab),
            open: open.map { context.alertRow($0, users: names, canAcknowledge: canAcknowledge) },
            history: history.map { context.alertRow($0, users: names, canAcknowledge: false) },
            historyNextHref: next.map { Self.listPath(limit: limit, cursor: $0) },
            historyFirstHref: cursor == nil ? nil : Self.listPath(limit: limit, cursor: nil),
            historyPaged: next != nil || cursor != nil,
            rules: rules.map { context.ruleRow($0, isAdmin: isAdmin) },
            form: isAdmin ? context.form(draft ?? RuleDraft()) : nil,
            canAcknowledge: canAcknowledge,
            rulesReadOnly: !isAdmin
        )
        return try await AdminView.render("admin-alerts", page, status: status, for: req)
    }

    static func notice(_ req: Request, _ language: Language) -> PageFrame.Notice? {
        guard let key = req.query[String.self, at: "notice"], let isError = notices[key] else { return nil }
        return PageFrame.Notice(kind: isError ? "error" : "success", text: Strings.text(key, language))
    }

    /// The history's address at this cursor.
    static func listPath(limit: Int?, cursor: String?) -> String {
        var items: [(String, String)] = []
        if let limit { items.append(("limit", String(limit))) }
        if let cursor { items.append(("cursor", cursor)) }
        return SiteURL.path(Paths.tab, query: items) + "#history-heading"
    }

    // MARK: Acknowledging

    /// Acknowledge, as `POST /api/alerts/{id}/acknowledge` (same handler, same audit row); a resolved alert is a
    /// notice, not an error page.
    @Sendable
    func acknowledge(req: Request) async throws -> Response {
        do {
            _ = try await AlertsController().acknowledge(req: req)
        } catch let error as APIError where error.status == .conflict {
            return AdminView.redirect(req, to: Paths.tab, notice: "alert_already_resolved")
        }
        return AdminView.redirect(req, to: Paths.tab, notice: "alert_acknowledged_notice")
    }
}

/// What the tab's rows and form are built from.
struct AlertsPageContext {
    let language: Language
    let integrations: [UUID: IntegrationConfig]
    let byPublicID: [String: IntegrationConfig]

    func typeLabel(_ raw: String) -> String {
        IntegrationType(rawValue: raw).map { language == .ar ? $0.labelAR : $0.labelEN } ?? raw
    }

    func integrationLabel(_ row: IntegrationConfig) -> String {
        "\(typeLabel(row.integrationType)) — \(row.name)"
    }

    func kindLabel(_ kind: String) -> String {
        Strings.table["alert_kind_\(kind)"] == nil ? kind : Strings.text("alert_kind_\(kind)", language)
    }

    func alertRow(_ alert: Alert, users: [UUID: String], canAcknowledge: Bool) -> AlertsTabPage.AlertRow {
        let isOpen = alert.state == AlertState.open.rawValue
        let integration = alert.integrationConfigID.flatMap { integrations[$0] } ?? byPublicID[alert.subject]
        let subject = integration.map(integrationLabel)
            ?? (alert.subject == "outbox" ? Strings.text("subject_outbox", language) : alert.subject)
        return AlertsTabPage.AlertRow(
            publicID: alert.publicID, state: alert.state,
            stateBadge: StatusBadge(value: isOpen ? "failed" : "success",
                                    label: Strings.text("alert_state_\(isOpen ? "open" : "resolved")", language),
                                    icon: isOpen ? "!" : "✓"),
            ruleName: alert.rule.name, kindLabel: kindLabel(alert.rule.kind),
            subject: subject, subjectHref: integration.map { SiteURL.integration(publicID: $0.publicID).path },
            summary: alert.summary,
            value: AlertValueText.format(alert.value, kind: alert.rule.alertKind),
            firedAt: TimeDisplay(alert.firedAt, language),
            resolvedAt: alert.resolvedAt.map { TimeDisplay($0, language) },
            notifications: language.format(alert.notificationsSent),
            acknowledged: alert.acknowledgedAt != nil,
            acknowledgedAt: alert.acknowledgedAt.map { TimeDisplay($0, language) },
            acknowledgedBy: alert.acknowledgedBy.flatMap { users[$0] },
            acknowledgeAction: canAcknowledge && isOpen && alert.acknowledgedAt == nil
                ? AlertsPageController.Paths.acknowledge(alert.publicID) : nil
        )
    }

    func ruleRow(_ rule: AlertRule, isAdmin: Bool) -> AlertsTabPage.RuleRow {
        let scope: String
        if let id = rule.integrationConfigID, let row = integrations[id] {
            scope = integrationLabel(row)
        } else if let type = rule.integrationType {
            scope = Strings.text("scope_type", language).replacingOccurrences(of: "{type}", with: typeLabel(type))
        } else {
            scope = Strings.text("scope_all", language)
        }
        let channels = rule.channelList.map { channel -> String in
            let name = byPublicID[channel.integrationID].map(integrationLabel) ?? channel.integrationID
            return channel.recipients.isEmpty ? name : "\(name): \(channel.recipients.joined(separator: ", "))"
        }
        let none = Strings.text("none", language)
        return AlertsTabPage.RuleRow(
            publicID: rule.publicID, name: rule.name, kind: rule.kind, kindLabel: kindLabel(rule.kind), scope: scope,
            threshold: rule.threshold.map(AlertJSON.number) ?? none,
            window: rule.windowSeconds.map { DurationText.format(.seconds($0)) } ?? none,
            cooldown: DurationText.format(.seconds(rule.cooldownSeconds)),
            channels: channels, enabled: .enabled(rule.isEnabled, language), isDefault: rule.isDefault,
            editHref: isAdmin ? AlertsPageController.Paths.edit(rule.publicID) : nil,
            deleteAction: isAdmin ? AlertsPageController.Paths.ruleDelete(rule.publicID) : nil
        )
    }
}

extension AlertsPageController {
    typealias Context = AlertsPageContext
}
