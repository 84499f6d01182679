import Foundation

extension IntegrationCatalog {
    /// Checks a type's settings; returns bare field name → human message for each problem
    /// (empty when the settings are usable). The server prefixes keys with `config.`.
    ///
    /// Defaults are applied before checking, so a field with a default is never "missing".
    /// Rules: required fields present (Twilio needs `from_number` or
    /// `messaging_service_sid`); URLs absolute http(s); phones E.164 (`+`, 8–15 digits);
    /// e-mails `local@domain.tld`; Twilio SIDs `AC` + 32 hex digits, messaging service SIDs
    /// `MG` + 32 hex digits; select values among the options; unknown fields rejected.
    public static func validate(type: IntegrationType, config: [String: String]) -> [String: String] {
        let specs = fields(for: type)
        let known = Set(specs.map(\.name))
        let values = resolved(type: type, config: config)
        var problems: [String: String] = [:]

        for key in config.keys where !known.contains(key) {
            problems[key] = "Unknown setting for \(type.rawValue): \(key)"
        }
        for spec in specs {
            guard let value = values[spec.name] else {
                if spec.required { problems[spec.name] = "\(spec.labelEN) is required" }
                continue
            }
            if let message = check(value, spec: spec) { problems[spec.name] = message }
        }

        if let defaults = defaultRateLimit(for: type),
           case .failure(let rateProblems) = RateLimit.parse(perSecond: values["rate_limit_per_second"],
                                                             burst: values["rate_limit_burst"], defaults: defaults) {
            problems.merge(rateProblems.fields) { _, new in new }
        }

        switch type {
        case .sms:
            if let sid = values["account_sid"], problems["account_sid"] == nil, !isSID(sid, prefix: "AC") {
                problems["account_sid"] = "Account SID must be AC followed by 32 hexadecimal digits"
            }
            if let sid = values["messaging_service_sid"], !isSID(sid, prefix: "MG") {
                problems["messaging_service_sid"] = "Messaging service SID must be MG followed by 32 hexadecimal digits"
            }
            if values["from_number"] == nil, values["messaging_service_sid"] == nil {
                problems["from_number"] = "From number or messaging service SID is required"
            }
        default:
            break
        }
        return problems
    }

    static func check(_ value: String, spec: FieldSpec) -> String? {
        switch spec.kind {
        case .url:
            return isHTTPURL(value) ? nil : "\(spec.labelEN) must be an absolute http(s) URL"
        case .phone:
            return isE164(value) ? nil : "\(spec.labelEN) must be in E.164 form: + and 8 to 15 digits"
        case .email:
            return isEmail(value) ? nil : "\(spec.labelEN) must be an e-mail address"
        case .select:
            if let options = spec.options, !options.contains(value) {
                return "\(spec.labelEN) must be one of: \(options.joined(separator: ", "))"
            }
            return nil
        case .text, .secret:
            return value.count > 4096 ? "\(spec.labelEN) is too long" : nil
        }
    }

    /// `true` for an absolute `http`/`https` URL with a host.
    public static func isHTTPURL(_ value: String) -> Bool {
        guard let components = URLComponents(string: value),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty
        else { return false }
        return true
    }

    /// `true` for `+` followed by 8 to 15 digits, the first not zero.
    public static func isE164(_ value: String) -> Bool {
        guard value.hasPrefix("+") else { return false }
        let digits = value.dropFirst()
        return (8...15).contains(digits.count) && digits.allSatisfy(\.isASCIIDigit) && digits.first != "0"
    }

    /// A pragmatic e-mail check: one `@`, a non-empty local part, a dotted domain, no spaces.
    public static func isEmail(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return false }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty }) else { return false }
        return !value.contains(where: \.isWhitespace)
            && domain.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }
    }

    /// `true` for `prefix` followed by exactly 32 hexadecimal digits (Twilio SIDs).
    public static func isSID(_ value: String, prefix: String) -> Bool {
        guard value.hasPrefix(prefix) else { return false }
        let rest = value.dropFirst(prefix.count)
        return rest.count == 32 && rest.allSatisfy(\.isHexDigit)
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
