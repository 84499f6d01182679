/// How a setting is entered and checked.
public enum FieldKind: String, Codable, Sendable, CaseIterable {
    case text
    case url
    case phone
    case email
    case select
    case secret
}

/// One setting of an integration type, as the admin form and the API describe it.
///
/// Encodes as `{name, label_ar, label_en, secret, required, default, kind, options?}` —
/// the field shape of `GET /api/integration-types`.
public struct FieldSpec: Codable, Sendable, Hashable {
    public var name: String
    public var labelAR: String
    public var labelEN: String
    /// Stored encrypted, never returned by the API (only `{set, hint}`).
    public var secret: Bool
    /// Must be present for the integration to be tested or used.
    public var required: Bool
    /// Used when the value is absent or empty.
    public var defaultValue: String?
    public var kind: FieldKind
    /// Allowed values of a `select` field.
    public var options: [String]?

    public init(
        name: String,
        labelAR: String,
        labelEN: String,
        secret: Bool = false,
        required: Bool = false,
        defaultValue: String? = nil,
        kind: FieldKind = .text,
        options: [String]? = nil
    ) {
        self.name = name
        self.labelAR = labelAR
        self.labelEN = labelEN
        self.secret = secret
        self.required = required
        self.defaultValue = defaultValue
        self.kind = kind
        self.options = options
    }

    enum CodingKeys: String, CodingKey {
        case name
        case labelAR = "label_ar"
        case labelEN = "label_en"
        case secret
        case required
        case defaultValue = "default"
        case kind
        case options
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(labelAR, forKey: .labelAR)
        try container.encode(labelEN, forKey: .labelEN)
        try container.encode(secret, forKey: .secret)
        try container.encode(required, forKey: .required)
        // `default` is always present (null when none) so the admin form can rely on the key.
        try container.encode(defaultValue, forKey: .defaultValue)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(options, forKey: .options)
    }
}

/// One entry of the catalogue: a type with its labels, default row name and fields.
///
/// Encodes as `{type, name, label_ar, label_en, fields: [FieldSpec]}`.
public struct IntegrationTypeDescriptor: Codable, Sendable, Hashable {
    public var type: IntegrationType
    public var defaultName: String
    public var labelAR: String
    public var labelEN: String
    public var fields: [FieldSpec]

    public init(type: IntegrationType) {
        self.type = type
        self.defaultName = type.defaultName
        self.labelAR = type.labelAR
        self.labelEN = type.labelEN
        self.fields = IntegrationCatalog.fields(for: type)
    }

    enum CodingKeys: String, CodingKey {
        case type
        case defaultName = "name"
        case labelAR = "label_ar"
        case labelEN = "label_en"
        case fields
    }
}
