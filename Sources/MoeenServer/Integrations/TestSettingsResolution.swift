import Fluent
import Foundation
import MoeenConnectors
import MoeenCore
import MoeenSecrets
import Vapor

/// Which settings a test runs with (see `IntegrationTester`: stored secrets never follow a changed URL).
extension IntegrationTester {
    /// The settings a test runs with, and whether they are exactly the row's stored ones.
    struct ResolvedSettings {
        var settings: [String: String]
        var testsStoredSettings: Bool
    }

    /// The settings to test: the stored row's (secrets opened only when they may be used) with the
    /// request's edits laid over them under `SettingsEdits`' rule, and stored secrets dropped — 422 naming
    /// each — when a URL setting or Google's client id differs from the stored value.
    func resolveSettings(_ request: IntegrationTestRequest) async throws -> ResolvedSettings {
        let type = request.type
        let overrides = request.config ?? [:]
        guard let row = request.integration else {
            let edits = try SettingsEdits.parse(overrides, type: type, storedHints: [:])
            return ResolvedSettings(settings: edits.applied(to: [:]), testsStoredSettings: false)
        }
        guard row.integrationType == type.rawValue else {
            throw APIError.validation(field: "integration_type", "does not match the integration's type (\(row.integrationType))")
        }
        let stored = StoredConfig(row.config)
        let edits = try SettingsEdits.parse(overrides, type: type, storedHints: stored.secretHints)
        var storedPlain: [String: String] = [:]
        for (field, value) in stored.values where !StoredConfig.isSealedEntry(value) {
            storedPlain[field] = value.plainText
        }
        let changed = Self.credentialBoundFields(for: type).filter { field in
            IntegrationCatalog.resolved(type: type, config: storedPlain)[field]
                != IntegrationCatalog.resolved(type: type, config: edits.applied(to: storedPlain))[field]
        }
        let storedSecrets = Set(stored.values.compactMap { StoredConfig.isSealedEntry($0.value) ? $0.key : nil })
        let wanted = storedSecrets.filter { field in
            switch edits.edits[field] {
            case .none, .keep: true
            case .remove, .set: false
            }
        }
        if !changed.isEmpty, !wanted.isEmpty {
            let reason = "must be given with the request: stored secrets are used only with the stored "
                + changed.sorted().joined(separator: ", ")
            throw APIError.validation(Dictionary(uniqueKeysWithValues: wanted.sorted().map { ("config.\($0)", reason) }))
        }
        var base = storedPlain
        if !wanted.isEmpty {
            let opened = try await secrets.open(row, on: db)
            for field in wanted { base[field] = opened[field] }
        }
        let settings = edits.applied(to: base)
        return ResolvedSettings(
            settings: settings,
            testsStoredSettings: try await isUnchanged(edits, type: type, storedPlain: storedPlain, storedSecrets: storedSecrets, row: row)
        )
    }

    /// Whether the edits leave the stored settings as they are (then the test is of the stored row and
    /// counts in its health). A secret sent again is compared with the stored one only when it has to be.
    private func isUnchanged(
        _ edits: SettingsEdits, type: IntegrationType, storedPlain: [String: String], storedSecrets: Set<String>, row: IntegrationConfig
    ) async throws -> Bool {
        let secretNames = Set(IntegrationCatalog.secretFieldNames(for: type))
        var plainEdits = edits
        plainEdits.edits = edits.edits.filter { !secretNames.contains($0.key) }
        guard IntegrationCatalog.resolved(type: type, config: plainEdits.applied(to: storedPlain))
            == IntegrationCatalog.resolved(type: type, config: storedPlain)
        else { return false }
        var resent: [String: String] = [:]
        for (field, edit) in edits.edits where secretNames.contains(field) {
            switch edit {
            case .keep: continue
            case .remove: if storedSecrets.contains(field) { return false }
            case .set(let value):
                guard storedSecrets.contains(field) else { return false }
                resent[field] = value
            }
        }
        guard !resent.isEmpty else { return true }
        guard let opened = try? await secrets.open(row, on: db) else { return false }
        return resent.allSatisfy { opened[$0.key] == $0.value }
    }

    /// The settings that decide where credentials are sent: every URL setting that is not itself a secret,
    /// and Google's client id (its secret and refresh token belong to that client).
    static func credentialBoundFields(for type: IntegrationType) -> [String] {
        var fields = IntegrationCatalog.fields(for: type).filter { $0.kind == .url && !$0.secret }.map(\.name)
        if type == .googleCalendar { fields.append("client_id") }
        return fields
    }
}
