/// Everything that can go wrong while sealing, opening or (un)wrapping secrets.
///
/// Messages name the integration, the key (id and version) and the setting to fix.
/// They never contain plaintext or key material.
public enum SecretsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Authenticated decryption failed: the key is wrong, or the data (or its row/field binding) was altered.
    /// `integration` is empty when the failure happened outside any integration (e.g. a start-up check).
    /// `keyID` names the key as shown to people, e.g. `local:ab12cd34 v1` (see `WrappedDataKey.label`).
    case decryptionFailed(integration: String, keyID: String, reason: String)
    /// A sealed value carries a format prefix this build does not read (e.g. `mse9:`).
    case unknownFormat(integration: String, format: String)
    /// The data key was wrapped by a key version the provider no longer (or not yet) has.
    case unknownKeyVersion(provider: String, keyID: String, version: Int, available: [Int])
    /// The data key was wrapped by another kind of key provider than the configured one.
    case wrongProvider(configured: String, found: String)
    /// The provider could not be reached or answered with a temporary failure (network, 5xx, throttling).
    case providerUnavailable(provider: String, reason: String)
    /// The provider answered but refused the request (credentials, permissions, missing or disabled key).
    case providerRejected(provider: String, reason: String)
    /// A key or data key does not have the required shape (e.g. not 256 bits).
    case invalidKey(String)
    /// The key provider is not configured correctly; the message says what to set.
    case configuration(String)

    public var description: String {
        switch self {
        case .decryptionFailed(let integration, let keyID, let reason):
            if integration.isEmpty {
                return "could not decrypt with key \(keyID): \(reason)"
            }
            return "could not decrypt the secrets of integration \(integration) with key \(keyID): \(reason)"
        case .unknownFormat(let integration, let format):
            let subject = integration.isEmpty ? "a sealed value" : "the secrets of integration \(integration)"
            return "\(subject) use the stored format \"\(format)\", which this build cannot read "
                + "(it reads \(SealedField.currentFormat)); upgrade Moeen Hub or restore the data"
        case .unknownKeyVersion(let provider, let keyID, let version, let available):
            let list = available.map { "v\($0)" }.joined(separator: ", ")
            return "the data key was wrapped by \(provider) key \(keyID) v\(version), which is not available "
                + "(available: \(list.isEmpty ? "none" : list)); keep every version that still wraps data keys "
                + "until `moeen keys retire` says it is unused"
        case .wrongProvider(let configured, let found):
            return "the data key was wrapped by the \(found) key provider, but MOEEN_KEY_PROVIDER is \(configured); "
                + "set MOEEN_KEY_PROVIDER=\(found) or re-wrap the data keys before switching"
        case .providerUnavailable(let provider, let reason):
            return "the \(provider) key provider is unavailable: \(reason)"
        case .providerRejected(let provider, let reason):
            return "the \(provider) key provider refused the request: \(reason)"
        case .invalidKey(let reason):
            return "invalid key: \(reason)"
        case .configuration(let message):
            return "secrets configuration: \(message)"
        }
    }

    /// The same error, naming `integration` where the error is about decrypting its secrets.
    func about(integration: String) -> SecretsError {
        switch self {
        case .decryptionFailed(_, let keyID, let reason):
            return .decryptionFailed(integration: integration, keyID: keyID, reason: reason)
        case .unknownFormat(_, let format):
            return .unknownFormat(integration: integration, format: format)
        default:
            return self
        }
    }
}
