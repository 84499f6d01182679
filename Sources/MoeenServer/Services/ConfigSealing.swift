import Foundation
import MoeenCore
import Vapor

/// Applies settings sent by a client to a stored config: plain fields are kept as JSON, secret fields
/// are sealed. Omitted secrets and echoed hints keep the stored value; `null` clears it.
struct ConfigSealing {
    let req: Request

    /// Secret settings per PROVIDERS.md (replaced by the integration catalogue).
    static let secretFields: Set<String> = [
        "access_token", "webhook_verify_token", "app_secret", "auth_token", "api_key",
        "client_secret", "refresh_token", "webhook_url", "signing_secret",
    ]

    func apply(_ incoming: [String: JSONValue], to stored: StoredConfig, rowID: UUID, type: String) async throws -> JSONValue {
        var result = stored.values
        for (key, value) in incoming {
            if Self.secretFields.contains(key) {
                throw APIError.validation(field: "config.\(key)", "secret settings cannot be stored until encryption is configured")
            }
            result[key] = value.isNull ? nil : value
        }
        return .object(result)
    }
}
