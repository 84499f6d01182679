import Crypto
import Foundation
import Logging
import MoeenCore

/// The `vault` key provider: HashiCorp Vault's transit secrets engine (mounted at `transit/`).
///
/// `datakey/plaintext` makes data keys, `decrypt` unwraps, `rewrap` moves a wrapped key to the latest
/// key version, `encrypt` wraps an existing data key, `keys/{name}` tells the latest version.
/// The stored ciphertext is Vault's own text (`vault:vN:…`) as UTF-8; the key id is `vault:{key name}`.
public struct VaultTransitKeyProvider: KeyProvider {
    public static let kind = "vault"
    public var kind: String { Self.kind }

    /// Settings of the `vault` provider.
    public struct Settings: Sendable {
        /// `VAULT_ADDR`, e.g. `https://vault.internal:8200`.
        public var address: URL
        /// `VAULT_TOKEN`.
        public var token: String
        /// `MOEEN_VAULT_TRANSIT_KEY` (default `moeen`).
        public var keyName: String
        /// `VAULT_NAMESPACE` (Vault Enterprise), sent as `X-Vault-Namespace`.
        public var namespace: String?

        public init(address: URL, token: String, keyName: String = "moeen", namespace: String? = nil) {
            self.address = address
            self.token = token
            self.keyName = keyName
            self.namespace = namespace
        }
    }

    public let settings: Settings
    private let transport: any HTTPTransport
    private let logger: Logger

    public init(settings: Settings, transport: any HTTPTransport, logger: Logger) {
        self.settings = settings
        self.transport = transport
        self.logger = logger
    }

    /// `vault:{key name}`.
    public var keyID: String { Self.keyID(forKeyName: settings.keyName) }

    static func keyID(forKeyName name: String) -> String { "vault:\(name)" }

    /// Whether `name` is usable as a transit key name in a URL path.
    static func isValidKeyName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8)
        return !name.isEmpty && name != "." && name != ".." && name.utf8.allSatisfy { allowed.contains($0) }
    }

    private struct CiphertextBody: Codable { var ciphertext: String }
    private struct PlaintextBody: Codable { var plaintext: String }
    private struct Envelope<Payload: Decodable>: Decodable { var data: Payload }
    private struct DataKeyPayload: Decodable { var plaintext: String; var ciphertext: String }
    private struct KeyInfoPayload: Decodable { var latest_version: Int }
    private struct Errors: Decodable { var errors: [String] }
    private struct Empty: Encodable {}

    public func currentKey() async throws -> KeyReference {
        let response = try await call("GET", "keys/\(settings.keyName)", body: nil as Empty?, keyLabel: keyID)
        let info = try ProviderHTTP.decode(Envelope<KeyInfoPayload>.self, from: response, provider: kind, call: "keys")
        return KeyReference(provider: kind, keyID: keyID, version: info.data.latest_version)
    }

    public func generateDataKey() async throws -> GeneratedDataKey {
        let response = try await call("POST", "datakey/plaintext/\(settings.keyName)", body: Empty(), keyLabel: keyID)
        let payload = try ProviderHTTP.decode(Envelope<DataKeyPayload>.self, from: response, provider: kind, call: "datakey")
        guard let bytes = Base64.decode(payload.data.plaintext) else {
            throw SecretsError.providerUnavailable(provider: kind, reason: "datakey returned a plaintext that is not base64")
        }
        let key = try requireDataKey(bytes, from: kind)
        return GeneratedDataKey(key: key, wrapped: try wrapped(payload.data.ciphertext, keyName: settings.keyName))
    }

    public func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey {
        guard key.bitCount == 256 else {
            throw SecretsError.invalidKey("data keys must be 256 bits, this one has \(key.bitCount)")
        }
        let response = try await call(
            "POST", "encrypt/\(settings.keyName)", body: PlaintextBody(plaintext: Base64.encode(key.bytes)), keyLabel: keyID)
        let payload = try ProviderHTTP.decode(Envelope<CiphertextBody>.self, from: response, provider: kind, call: "encrypt")
        return try wrapped(payload.data.ciphertext, keyName: settings.keyName)
    }

    public func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey {
        let name = try keyName(of: wrapped)
        let response = try await call(
            "POST", "decrypt/\(name)", body: CiphertextBody(ciphertext: String(decoding: wrapped.ciphertext, as: UTF8.self)),
            keyLabel: wrapped.label)
        let payload = try ProviderHTTP.decode(Envelope<PlaintextBody>.self, from: response, provider: kind, call: "decrypt")
        guard let bytes = Base64.decode(payload.data.plaintext) else {
            throw SecretsError.providerUnavailable(provider: kind, reason: "decrypt returned a plaintext that is not base64")
        }
        return try requireDataKey(bytes, from: kind)
    }

    public func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey {
        let name = try keyName(of: wrapped)
        guard name == settings.keyName else {
            // Another transit key: Vault's rewrap cannot move between keys, so decrypt and encrypt.
            return try await wrap(try await unwrap(wrapped))
        }
        let response = try await call(
            "POST", "rewrap/\(name)", body: CiphertextBody(ciphertext: String(decoding: wrapped.ciphertext, as: UTF8.self)),
            keyLabel: wrapped.label)
        let payload = try ProviderHTTP.decode(Envelope<CiphertextBody>.self, from: response, provider: kind, call: "rewrap")
        return try self.wrapped(payload.data.ciphertext, keyName: name)
    }

    public func check() async throws {
        _ = try await currentKey()
        try await roundTripCheck()
    }

    // MARK: Helpers

    /// The version from Vault's `vault:vN:…` ciphertext.
    static func version(ofCiphertext text: String) -> Int? {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "vault", parts[1].first == "v" else { return nil }
        return Int(parts[1].dropFirst()).flatMap { $0 >= 1 ? $0 : nil }
    }

    private func wrapped(_ ciphertext: String, keyName: String) throws -> WrappedDataKey {
        guard let version = Self.version(ofCiphertext: ciphertext) else {
            throw SecretsError.providerUnavailable(provider: kind, reason: "Vault returned a ciphertext without a vault:vN: prefix")
        }
        return WrappedDataKey(
            provider: kind, keyID: Self.keyID(forKeyName: keyName), keyVersion: version, ciphertext: Array(ciphertext.utf8))
    }

    private func keyName(of wrapped: WrappedDataKey) throws -> String {
        try requireOwn(wrapped)
        let prefix = "vault:"
        guard wrapped.keyID.hasPrefix(prefix) else {
            throw SecretsError.decryptionFailed(
                integration: "", keyID: wrapped.label, reason: "the key id is not of the form vault:<transit key name>")
        }
        let name = String(wrapped.keyID.dropFirst(prefix.count))
        guard Self.isValidKeyName(name) else {
            throw SecretsError.decryptionFailed(
                integration: "", keyID: wrapped.label, reason: "the transit key name is not valid")
        }
        return name
    }

    /// One Vault call; a non-2xx answer becomes a `SecretsError`.
    private func call<Body: Encodable>(_ method: String, _ path: String, body: Body?, keyLabel: String) async throws
        -> InboundResponse
    {
        var base = settings.address.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var headers: [(name: String, value: String)] = [(name: "X-Vault-Token", value: settings.token)]
        if let namespace = settings.namespace, !namespace.isEmpty {
            headers.append((name: "X-Vault-Namespace", value: namespace))
        }
        var encoded: [UInt8]?
        if let body {
            encoded = try ProviderHTTP.encode(body)
            headers.append((name: "Content-Type", value: "application/json"))
        }
        let request = OutboundRequest(method: method, url: "\(base)/v1/transit/\(path)", headers: headers, body: encoded)
        let operation = String(path.split(separator: "/").first ?? "")
        logger.debug("Vault transit call", metadata: ["operation": .string(operation), "key": .string(keyLabel)])
        let response = try await ProviderHTTP.send(request, provider: kind, over: transport)
        guard (200..<300).contains(response.status) else {
            throw mapError(response, operation: operation, keyLabel: keyLabel)
        }
        return response
    }

    private func mapError(_ response: InboundResponse, operation: String, keyLabel: String) -> SecretsError {
        let messages = (try? JSONDecoder().decode(Errors.self, from: Data(response.body)))?.errors ?? []
        let detail = ProviderHTTP.clip(messages.isEmpty ? "HTTP \(response.status)" : messages.joined(separator: "; "))
        switch response.status {
        case 401, 403:
            return .providerRejected(
                provider: kind, reason: "\(operation) on \(keyLabel): \(detail); check VAULT_TOKEN (and VAULT_NAMESPACE) and the token's policy")
        case 400 where operation == "decrypt" || operation == "rewrap":
            return .decryptionFailed(
                integration: "", keyID: keyLabel, reason: "Vault could not decrypt the data key (\(detail))")
        case 404:
            return .providerRejected(
                provider: kind, reason: "\(operation): transit key \(keyLabel) not found (\(detail)); check MOEEN_VAULT_TRANSIT_KEY and that the transit engine is mounted at transit/")
        case 429, 500...:
            return .providerUnavailable(provider: kind, reason: "\(operation): \(detail)")
        default:
            return .providerRejected(provider: kind, reason: "\(operation) on \(keyLabel): \(detail)")
        }
    }
}
