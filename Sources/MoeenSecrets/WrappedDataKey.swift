/// A data key as stored: encrypted ("wrapped") by a key provider, and tagged with what wrapped it.
///
/// Encoded with `Codable`, `ciphertext` is a base64 string.
public struct WrappedDataKey: Codable, Sendable, Hashable {
    /// The key provider kind that wrapped it: `local`, `aws-kms` or `vault`.
    public var provider: String
    /// The wrapping key's id: `local:ab12cd34`, a KMS key ARN, or `vault:<transit key name>`.
    public var keyID: String
    /// The wrapping key's version (always 1 for AWS KMS, which rotates internally).
    public var keyVersion: Int
    /// The wrapped data key, in the provider's own format.
    public var ciphertext: [UInt8]

    public init(provider: String, keyID: String, keyVersion: Int, ciphertext: [UInt8]) {
        self.provider = provider
        self.keyID = keyID
        self.keyVersion = keyVersion
        self.ciphertext = ciphertext
    }

    /// The wrapping key as shown to people and in errors, e.g. `local:ab12cd34 v1`.
    public var label: String { "\(keyID) v\(keyVersion)" }

    /// The key that wrapped this data key.
    public var wrappingKey: KeyReference {
        KeyReference(provider: provider, keyID: keyID, version: keyVersion)
    }

    enum CodingKeys: String, CodingKey {
        case provider, keyID, keyVersion, ciphertext
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        provider = try container.decode(String.self, forKey: .provider)
        keyID = try container.decode(String.self, forKey: .keyID)
        keyVersion = try container.decode(Int.self, forKey: .keyVersion)
        let text = try container.decode(String.self, forKey: .ciphertext)
        guard let bytes = Base64.decode(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .ciphertext, in: container, debugDescription: "ciphertext is not valid base64")
        }
        ciphertext = bytes
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(provider, forKey: .provider)
        try container.encode(keyID, forKey: .keyID)
        try container.encode(keyVersion, forKey: .keyVersion)
        try container.encode(Base64.encode(ciphertext), forKey: .ciphertext)
    }
}

/// One wrapping key of a provider: its kind, id and version.
public struct KeyReference: Sendable, Hashable, CustomStringConvertible {
    public var provider: String
    public var keyID: String
    public var version: Int

    public init(provider: String, keyID: String, version: Int) {
        self.provider = provider
        self.keyID = keyID
        self.version = version
    }

    /// `local:ab12cd34 v2`.
    public var description: String { "\(keyID) v\(version)" }
}
