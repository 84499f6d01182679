import Fluent
import Foundation
import MoeenCore
import MoeenSecrets
import Vapor

/// The integration page's view of secrets that cannot be used: why, and what to ask the operator for.
extension IntegrationPageController {
    /// What stands between the row's stored secrets and their use, if anything: secrets no configured key
    /// opens (they must be entered again), or a key provider that cannot be reached. Rows without stored
    /// secrets have no problem to report.
    static func secretsProblem(_ req: Request, _ row: IntegrationConfig, _ stored: StoredConfig) async -> SecretsProblem? {
        guard stored.values.values.contains(where: StoredConfig.isSealedEntry) else { return nil }
        do {
            let secrets = try req.application.integrationSecrets
            guard let reason = try await secrets.unreadableReason(of: row, on: req.db) else { return nil }
            return SecretsProblem(kind: .unreadable, reason: reason.description)
        } catch let error as SecretsError {
            return SecretsProblem(kind: .unavailable, reason: error.description)
        } catch let error as APIError {
            return SecretsProblem(kind: .unavailable, reason: error.message)
        } catch {
            req.logger.warning("could not check the stored secrets", metadata: ["integration": .string(row.publicID), "error": "\(error)"])
            return nil
        }
    }

    /// The writer's "re-enter these secrets" fields, in the viewer's language.
    static func reentryErrors(_ error: APIError, _ language: Language) -> [String: String] {
        (error.fields ?? [:]).mapValues { _ in Strings.text("secret_reenter_required", language) }
    }
}

/// Why an integration's stored secrets cannot be used right now.
struct SecretsProblem: Equatable {
    enum Kind: String {
        /// No configured key opens them: they must be entered again (all of them, in one save).
        case unreadable
        /// The key provider cannot be reached (or is not configured); nothing to re-enter.
        case unavailable
    }

    let kind: Kind
    /// The technical reason (names the integration and key ids, never a secret).
    let reason: String
}
