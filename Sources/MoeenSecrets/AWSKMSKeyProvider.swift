import Crypto
import Foundation
import Logging
import MoeenCore

/// The `aws-kms` key provider: AWS Key Management Service over its JSON 1.1 protocol, signed with SigV4.
///
/// `GenerateDataKey` makes data keys, `Decrypt` unwraps them, `Encrypt` wraps an existing data key under
/// the configured key (re-wrapping). KMS rotates key material internally, so the recorded version is
/// always 1 and the key id is the key ARN KMS returns.
public struct AWSKMSKeyProvider: KeyProvider {
    public static let kind = "aws-kms"
    public var kind: String { Self.kind }

    /// Settings of the `aws-kms` provider.
    public struct Settings: Sendable {
        /// Key id, key ARN, alias name (`alias/…`) or alias ARN (`MOEEN_KMS_KEY_ID`).
        public var keyID: String
        public var region: String
        public var credentials: AWSCredentials
        /// `https://kms.{region}.amazonaws.com` unless overridden (`AWS_ENDPOINT_URL_KMS`).
        public var endpoint: URL

        public init(keyID: String, region: String, credentials: AWSCredentials, endpoint: URL? = nil) {
            self.keyID = keyID
            self.region = region
            self.credentials = credentials
            self.endpoint = endpoint ?? URL(string: "https://kms.\(region).amazonaws.com")
                ?? URL(fileURLWithPath: "/")
        }
    }

    public let settings: Settings
    private let transport: any HTTPTransport
    private let logger: Logger
    private let signer: SigV4Signer

    public init(settings: Settings, transport: any HTTPTransport, logger: Logger) {
        self.settings = settings
        self.transport = transport
        self.logger = logger
        self.signer = SigV4Signer(credentials: settings.credentials, region: settings.region, service: "kms")
    }

    private struct GenerateDataKeyRequest: Encodable {
        var KeyId: String
        var KeySpec = "AES_256"
    }

    private struct EncryptRequest: Encodable {
        var KeyId: String
        var Plaintext: String
    }

    private struct DecryptRequest: Encodable {
        var CiphertextBlob: String
        var KeyId: String?
    }

    private struct DescribeKeyRequest: Encodable {
        var KeyId: String
    }

    private struct KeyResponse: Decodable {
        var KeyId: String?
        var CiphertextBlob: String?
        var Plaintext: String?
    }

    private struct DescribeKeyResponse: Decodable {
        struct Metadata: Decodable {
            var Arn: String?
            var KeyId: String?
            var KeyState: String?
            var Enabled: Bool?
        }
        var KeyMetadata: Metadata
    }

    private struct ErrorResponse: Decodable {
        var type: String?
        var message: String?
        var upperMessage: String?

        enum CodingKeys: String, CodingKey {
            case type = "__type", message, upperMessage = "Message"
        }
    }

    public func currentKey() async throws -> KeyReference {
        let response = try await call("DescribeKey", DescribeKeyRequest(KeyId: settings.keyID), keyLabel: settings.keyID)
        let described = try ProviderHTTP.decode(DescribeKeyResponse.self, from: response, provider: kind, call: "DescribeKey")
        guard let arn = described.KeyMetadata.Arn ?? described.KeyMetadata.KeyId else {
            throw SecretsError.providerUnavailable(provider: kind, reason: "DescribeKey returned no key ARN")
        }
        if let state = described.KeyMetadata.KeyState, state != "Enabled" {
            throw SecretsError.providerRejected(
                provider: kind, reason: "KMS key \(arn) is \(state), not Enabled; enable it or change MOEEN_KMS_KEY_ID")
        }
        return KeyReference(provider: kind, keyID: arn, version: 1)
    }

    public func generateDataKey() async throws -> GeneratedDataKey {
        let response = try await call(
            "GenerateDataKey", GenerateDataKeyRequest(KeyId: settings.keyID), keyLabel: settings.keyID)
        let body = try ProviderHTTP.decode(KeyResponse.self, from: response, provider: kind, call: "GenerateDataKey")
        guard let plaintext = body.Plaintext.flatMap({ Base64.decode($0) }), let blob = body.CiphertextBlob.flatMap({ Base64.decode($0) }),
            let keyID = body.KeyId
        else {
            throw SecretsError.providerUnavailable(
                provider: kind, reason: "GenerateDataKey returned no Plaintext, CiphertextBlob or KeyId")
        }
        let key = try requireDataKey(plaintext, from: kind)
        return GeneratedDataKey(key: key, wrapped: WrappedDataKey(provider: kind, keyID: keyID, keyVersion: 1, ciphertext: blob))
    }

    public func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey {
        guard key.bitCount == 256 else {
            throw SecretsError.invalidKey("data keys must be 256 bits, this one has \(key.bitCount)")
        }
        let response = try await call(
            "Encrypt", EncryptRequest(KeyId: settings.keyID, Plaintext: Base64.encode(key.bytes)), keyLabel: settings.keyID)
        let body = try ProviderHTTP.decode(KeyResponse.self, from: response, provider: kind, call: "Encrypt")
        guard let blob = body.CiphertextBlob.flatMap({ Base64.decode($0) }), let keyID = body.KeyId else {
            throw SecretsError.providerUnavailable(provider: kind, reason: "Encrypt returned no CiphertextBlob or KeyId")
        }
        return WrappedDataKey(provider: kind, keyID: keyID, keyVersion: 1, ciphertext: blob)
    }

    public func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey {
        try requireOwn(wrapped)
        let request = DecryptRequest(CiphertextBlob: Base64.encode(wrapped.ciphertext), KeyId: wrapped.keyID)
        let response = try await call("Decrypt", request, keyLabel: wrapped.label)
        let body = try ProviderHTTP.decode(KeyResponse.self, from: response, provider: kind, call: "Decrypt")
        guard let plaintext = body.Plaintext.flatMap({ Base64.decode($0) }) else {
            throw SecretsError.providerUnavailable(provider: kind, reason: "Decrypt returned no Plaintext")
        }
        return try requireDataKey(plaintext, from: kind)
    }

    public func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey {
        try await wrap(try await unwrap(wrapped))
    }

    public func check() async throws {
        _ = try await currentKey()
        try await roundTripCheck()
    }

    // MARK: Calls

    /// One signed KMS call; a non-200 answer becomes a `SecretsError`.
    private func call(_ action: String, _ payload: some Encodable, keyLabel: String) async throws -> InboundResponse {
        let body = try ProviderHTTP.encode(payload)
        let request = OutboundRequest(
            method: "POST",
            url: settings.endpoint.absoluteString,
            headers: [
                (name: "Content-Type", value: "application/x-amz-json-1.1"),
                (name: "X-Amz-Target", value: "TrentService.\(action)"),
            ],
            body: body)
        let signed = signer.sign(request)
        logger.debug("KMS call", metadata: ["action": .string(action), "key": .string(keyLabel)])
        let response = try await ProviderHTTP.send(signed, provider: kind, over: transport)
        guard response.status == 200 else {
            throw mapError(response, action: action, keyLabel: keyLabel)
        }
        return response
    }

    private func mapError(_ response: InboundResponse, action: String, keyLabel: String) -> SecretsError {
        let parsed = try? JSONDecoder().decode(ErrorResponse.self, from: Data(response.body))
        let type = parsed?.type.map { String($0.split(separator: "#").last ?? Substring($0)) } ?? "HTTP \(response.status)"
        let message = ProviderHTTP.clip(parsed?.message ?? parsed?.upperMessage ?? "")
        let detail = message.isEmpty ? type : "\(type): \(message)"
        switch type {
        case "InvalidCiphertextException", "IncorrectKeyException":
            return .decryptionFailed(
                integration: "", keyID: keyLabel,
                reason: "KMS refused to decrypt the data key (\(detail)): the wrapped key was altered or belongs to another key")
        case "NotFoundException":
            return .providerRejected(
                provider: kind, reason: "\(action): KMS key \(keyLabel) was not found in \(settings.region) (\(detail)); check MOEEN_KMS_KEY_ID and AWS_REGION")
        case "DisabledException", "KMSInvalidStateException", "KeyUnavailableException":
            return .providerRejected(provider: kind, reason: "\(action): KMS key \(keyLabel) cannot be used (\(detail))")
        case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
            "IncompleteSignatureException", "ExpiredTokenException", "InvalidClientTokenId", "MissingAuthenticationToken":
            return .providerRejected(
                provider: kind,
                reason: "\(action) was refused (\(detail)); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and the key policy of \(keyLabel)")
        case "ThrottlingException", "LimitExceededException", "DependencyTimeoutException", "KMSInternalException":
            return .providerUnavailable(provider: kind, reason: "\(action): \(detail)")
        default:
            if response.status >= 500 || response.status == 429 {
                return .providerUnavailable(provider: kind, reason: "\(action): \(detail)")
            }
            return .providerRejected(provider: kind, reason: "\(action): \(detail)")
        }
    }
}
