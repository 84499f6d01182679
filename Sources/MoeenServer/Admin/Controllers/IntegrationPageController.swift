import Fluent
import Foundation
import MoeenCore
import MoeenSecrets
import Vapor

/// `/settings/integrations/{public_id}`: every role reads; managers test; admins save and enable/disable.
/// The forms post and redirect back (no script needed); `admin.js` runs the test in place instead.
struct IntegrationPageController: RouteCollection {
    static let fieldPrefix = "config."
    /// Plain-text settings whose values read left to right in either language (numbers, or `unlimited`).
    static let leftToRightFields: Set<String> = ["rate_limit_per_second", "rate_limit_burst"]

    func boot(routes: any RoutesBuilder) throws {
        routes.grouped(RequirePageRole(role: .viewer)).get(SiteURL.pattern(.integration(publicID: "")), use: show)
        routes.grouped(RequirePageRole(role: .manager))
            .formPost(SiteURL.pattern(.integrationTest(publicID: "")), maxSize: "64kb", use: test)
        let admins = routes.grouped(RequirePageRole(role: .admin))
        admins.formPost(SiteURL.pattern(.integrationSave(publicID: "")), maxSize: "64kb", use: save)
        admins.formPost(SiteURL.pattern(.integrationEnable(publicID: "")), maxSize: "16kb", use: enable)
    }

    // MARK: Reading

    @Sendable
    func show(req: Request) async throws -> Response {
        let row = try await load(req)
        return try await render(req, row)
    }

    /// What a re-shown form keeps of a failed submission.
    struct Draft {
        var name: String
        var description: String
        var values: [String: String]
        var errors: [String: String]
        var formError: String?
    }

    func render(_ req: Request, _ row: IntegrationConfig, draft: Draft? = nil, testError: String? = nil,
                status: HTTPResponseStatus = .ok) async throws -> Response {
        let language = req.language
        let user = try req.currentUser
        let rowID = try row.requireID()
        let type = IntegrationType(rawValue: row.integrationType)
        let typeLabel = type.map { language == .ar ? $0.labelAR : $0.labelEN } ?? row.integrationType
        let stored = StoredConfig(row.config)
        let problem = await Self.secretsProblem(req, row, stored)
        let mustReenter = problem?.kind == .unreadable

        let specs = type.map(IntegrationCatalog.fields(for:)) ?? []
        let fields = specs.map { spec -> IntegrationPage.Field in
            let storedValue = stored.values[spec.name]
            var secretState: String?
            var secretHint: String?
            var reenter = false
            if spec.secret {
                if let storedValue, StoredConfig.isSealedEntry(storedValue) {
                    if mustReenter {
                        // The stored value cannot be opened: it must be typed again, not kept.
                        secretState = Strings.text("secret_unreadable", language)
                        reenter = true
                    } else {
                        secretState = Strings.text("secret_set", language)
                        secretHint = storedValue["hint"]?.stringValue.map { "…" + $0 }
                    }
                } else {
                    secretState = Strings.text("secret_unset", language)
                }
            }
            let plain = spec.secret ? "" : (draft?.values[spec.name] ?? storedValue?.plainText ?? "")
            let label = language == .ar ? spec.labelAR : spec.labelEN
            return IntegrationPage.Field(
                id: "field-\(spec.name)", inputName: Self.fieldPrefix + spec.name,
                label: label, labelParts: TextPart.split(label, language),
                inputType: spec.secret ? "password" : spec.kind.inputType,
                required: spec.required || reenter, secret: spec.secret, value: plain,
                placeholder: spec.defaultValue ?? "", secretState: secretState, secretHint: secretHint,
                mustReenter: reenter,
                error: draft?.errors["config.\(spec.name)"].map { Self.describe($0, language) },
                ltr: spec.kind != .text || spec.secret || Self.leftToRightFields.contains(spec.name)
            )
        }

        let logs = try await IntegrationTestLog.query(on: req.db)
            .filter(\.$integration.$id == rowID)
            .sort(\.$createdAt, .descending)
            .limit(50)
            .all()
        let latest = logs.first
        let result = latest.map { log -> IntegrationPage.Result in
            let badge = StatusBadge.testResult(log.status, language) ?? StatusBadge(value: log.status, label: log.status, icon: "…")
            return IntegrationPage.Result(
                status: log.status, badge: badge,
                // Our own success text is shown in the viewer's language; a failure shows the provider's words.
                message: log.status == "success"
                    ? Strings.text("test_success_message", language)
                    : log.errorMessage ?? row.lastTestMessage ?? badge.label,
                duration: log.durationMs.map { "\(language.format($0)) \(Strings.text("ms", language))" },
                statusCode: log.responseData?["status_code"]?.intNumber,
                at: log.createdAt.map { TimeDisplay($0, language) }
            )
        }
        let history = try await HealthHistorySource.points(for: row, logs: logs, on: req.db)
        // Messaging types have a delivery state (integrations without a row yet are active).
        let delivery: DeliveryStateView? = if let type, IntegrationCatalog.defaultRateLimit(for: type) != nil {
            DeliveryStateView(try await DeliveryPolicyStore(db: req.db).snapshots([rowID], now: Date())[rowID], language)
        } else {
            nil
        }

        let webhookURL = WebhookPaths.url(base: Self.publicBase(req), type: row.integrationType, publicID: row.publicID)
        let webhook = webhookURL == nil ? nil : try await Self.webhookActivity(rowID, language, on: req.db)

        let page = IntegrationPage(
            frame: PageFrame(req, title: "\(typeLabel) — \(row.name)", tab: .integrations,
                             languagePath: SiteURL.integration(publicID: row.publicID).path),
            publicID: row.publicID, type: row.integrationType, typeLabel: typeLabel,
            name: draft?.name ?? row.name, description: draft?.description ?? row.description ?? "",
            enabled: .enabled(row.isEnabled, language), isEnabled: row.isEnabled,
            status: .integrationStatus(row.status, language),
            canEdit: user.role == .admin, canTest: user.role.isAtLeast(.manager),
            saveAction: SiteURL.integrationSave(publicID: row.publicID).path,
            enableAction: SiteURL.integrationEnable(publicID: row.publicID).path,
            testAction: SiteURL.integrationTest(publicID: row.publicID).path,
            nameError: draft?.errors["name"].map { Self.describe($0, language) },
            formError: draft?.formError ?? (draft.map { _ in Strings.text("fix_errors", language) }),
            secretsNotice: problem.map { IntegrationPage.SecretsNotice($0, language) },
            fields: fields, result: result, testError: testError,
            webhookURL: webhookURL, webhook: webhook,
            delivery: delivery,
            health: HealthBadge(score: row.healthScore, tested: row.lastTestAt != nil, language),
            chart: HealthChart(history, language: language),
            logs: logs.map { log in
                IntegrationPage.LogRow(
                    id: log.publicID, at: log.createdAt.map { TimeDisplay($0, language) }, testType: log.testType,
                    badge: .testResult(log.status, language),
                    message: log.errorMessage ?? (log.status == "success" ? Strings.text("result_success", language) : ""),
                    duration: log.durationMs.map { "\(language.format($0)) \(Strings.text("ms", language))" } ?? "—"
                )
            },
            credentialsExpiry: CredentialExpiryField(row, entered: draft?.values[CredentialExpiry.field],
                                                     problem: draft?.errors[CredentialExpiry.field], language)
        )
        return try await AdminView.render("admin-integration", page, status: status, for: req)
    }

    // MARK: Saving

    @Sendable
    func save(req: Request) async throws -> Response {
        let row = try await load(req)
        let form = try req.content.decode([String: String].self)
        let type = try Self.type(of: row)
        var config: [String: JSONValue] = [:]
        var entered: [String: String] = [:]
        for spec in IntegrationCatalog.fields(for: type) {
            guard let raw = form[Self.fieldPrefix + spec.name] else { continue }
            let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if spec.secret {
                // An empty secret input keeps the stored secret.
                if !value.isEmpty { config[spec.name] = .string(value) }
            } else {
                entered[spec.name] = value
                config[spec.name] = value.isEmpty ? .null : .string(value)
            }
        }
        let name = form["name"]?.trimmingCharacters(in: .whitespacesAndNewlines)
        let description = form["description"]?.trimmingCharacters(in: .whitespacesAndNewlines)
        var patch = IntegrationPatch(name: name, description: description, config: config, isEnabled: nil)
        patch.credentialsExpireAt = CredentialExpiry.change(form: form[CredentialExpiry.field], stored: row.credentialsExpireAt)
        entered[CredentialExpiry.field] = form[CredentialExpiry.field]
        do {
            _ = try await IntegrationWriter(req: req).update(row, patch, by: req.currentUser)
        } catch let error as APIError where error.code == UnreadableSecrets.code {
            // Some, not all, secrets were re-entered over secrets that cannot be decrypted: ask for the rest.
            let fresh = try await load(req)
            let draft = Draft(name: name ?? fresh.name, description: description ?? fresh.description ?? "",
                              values: entered, errors: Self.reentryErrors(error, req.language),
                              formError: Strings.text("secrets_reenter_all", req.language))
            return try await render(req, fresh, draft: draft, status: error.status)
        } catch let error as APIError where error.status == .unprocessableEntity || error.status == .conflict {
            let fresh = try await load(req)
            var errors = error.fields ?? [:]
            if error.status == .conflict { errors["name"] = error.message }
            let draft = Draft(name: name ?? fresh.name, description: description ?? fresh.description ?? "",
                              values: entered, errors: errors,
                              formError: errors.isEmpty ? error.message : nil)
            return try await render(req, fresh, draft: draft, status: error.status)
        } catch let error as SecretsError {
            // The key provider is down (or the secrets cannot be used): say so on the form, keep what was typed.
            let fresh = try await load(req)
            let draft = Draft(name: name ?? fresh.name, description: description ?? fresh.description ?? "",
                              values: entered, errors: [:], formError: error.description)
            return try await render(req, fresh, draft: draft, status: error.apiError.status)
        }
        return AdminView.redirect(req, to: SiteURL.integration(publicID: row.publicID).path, notice: "saved")
    }

    @Sendable
    func enable(req: Request) async throws -> Response {
        let row = try await load(req)
        let wanted = (try? req.content.get(String.self, at: "enabled")) == "true"
        do {
            _ = try await IntegrationWriter(req: req).update(row, IntegrationPatch(isEnabled: wanted), by: req.currentUser)
        } catch let error as APIError where error.code == UnreadableSecrets.code {
            let fresh = try await load(req)
            let draft = Draft(name: fresh.name, description: fresh.description ?? "", values: [:],
                              errors: Self.reentryErrors(error, req.language), formError: Strings.text("secrets_reenter_all", req.language))
            return try await render(req, fresh, draft: draft, status: error.status)
        } catch let error as APIError where error.status == .unprocessableEntity {
            // Enabling needs complete settings: show what is missing next to each field.
            let fresh = try await load(req)
            let draft = Draft(name: fresh.name, description: fresh.description ?? "", values: [:],
                              errors: error.fields ?? [:], formError: Strings.text("fix_errors", req.language))
            return try await render(req, fresh, draft: draft, status: .unprocessableEntity)
        }
        return AdminView.redirect(req, to: SiteURL.integration(publicID: row.publicID).path, notice: wanted ? "now_enabled" : "now_disabled")
    }

    // MARK: Testing

    /// Runs the connection test on the saved settings. With `Accept: application/json` (the page's script)
    /// answers the test result; otherwise redirects back to the page, which shows the latest result.
    @Sendable
    func test(req: Request) async throws -> Response {
        let row = try await load(req)
        let type = try Self.type(of: row)
        // Compared as text: HTTPMediaType equality treats a browser's `*/*` as matching JSON.
        let wantsJSON = req.headers.accept.contains { $0.mediaType.type == "application" && $0.mediaType.subType == "json" }
        let testType = (try? req.content.get(String.self, at: "test_type")).flatMap { $0.isEmpty ? nil : $0 } ?? "connection"
        let request = IntegrationTestRequest(integration: row, type: type, config: nil, testType: testType, recipient: nil)
        do {
            let result = try await IntegrationTester(req: req).run(request, by: req.currentUser)
            if wantsJSON { return try await result.encodeResponse(for: req) }
        } catch let error as APIError where error.status.code < 500 || error.status == .serviceUnavailable {
            if wantsJSON { throw error }
            let fields = (error.fields ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            let message = ([error.message] + fields).joined(separator: " — ")
            return try await render(req, try await load(req), testError: message, status: error.status)
        } catch let error as SecretsError {
            // Secrets that cannot be decrypted, or a key provider that is down: the page says which, and why.
            if wantsJSON { throw error }
            return try await render(req, try await load(req), testError: error.description, status: error.apiError.status)
        }
        return req.redirect(to: SiteURL.integration(publicID: row.publicID).path + "#test-result", redirectType: .normal)
    }

    // MARK: Helpers

    private func load(_ req: Request) async throws -> IntegrationConfig {
        guard let id = req.parameters.get("public_id"), PublicID.matches(id, .integration) else {
            throw APIError.notFound("The integration")
        }
        return try await IntegrationConfig.find(idOrPublicID: id, on: req.db)
    }

    static func type(of row: IntegrationConfig) throws -> IntegrationType {
        guard let type = IntegrationType(rawValue: row.integrationType) else {
            throw APIError.validation(field: "integration_type", "is not a known type")
        }
        return type
    }

    /// The base of webhook URLs: `MOEEN_PUBLIC_URL`, else the address this page was reached at.
    static func publicBase(_ req: Request) -> String {
        if let configured = req.moeenConfiguration.publicURL { return configured }
        let host = req.headers.first(name: .host) ?? "127.0.0.1:8080"
        return "http://\(host)"
    }

    /// A validation problem in the viewer's language where we know it; the service's own text otherwise.
    static func describe(_ problem: String, _ language: Language) -> String {
        problem == "required" ? Strings.text("required_mark", language) : problem
    }
}
