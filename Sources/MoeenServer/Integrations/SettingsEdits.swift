import MoeenCore

/// What a request says about one setting, under the one rule the writer (save) and the tester (test
/// connection of unsaved settings) share:
/// - a secret: a new value replaces it; omission, an empty string, the stored hint (`"…9f2c"`) or
///   `{"set": …}` keep it; `null` clears it;
/// - a plain value: a string (trimmed) or number replaces it; `null` or an empty string clears it.
enum SettingEdit: Sendable, Equatable {
    case keep
    case remove
    case set(String)
}

/// The edits of one request's `config`, field by field (fields the request leaves out are kept).
struct SettingsEdits: Sendable {
    var edits: [String: SettingEdit]

    /// - Parameter storedHints: the stored secrets' hints (last four characters), to recognise a hint sent back.
    /// - Throws: 422 naming `config.<field>` for a value of the wrong kind.
    static func parse(_ incoming: [String: JSONValue], type: IntegrationType, storedHints: [String: String]) throws -> SettingsEdits {
        let secretNames = IntegrationCatalog.secretFieldNames(for: type)
        var edits: [String: SettingEdit] = [:]
        var problems: [String: String] = [:]
        for (field, value) in incoming {
            let isSecret = secretNames.contains(field)
            switch value {
            case .null:
                edits[field] = .remove
            case .string(let text):
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if isSecret {
                    let isHint = storedHints[field].map { trimmed == "…" + $0 } ?? false
                    edits[field] = trimmed.isEmpty || isHint ? .keep : .set(trimmed)
                } else {
                    edits[field] = trimmed.isEmpty ? .remove : .set(trimmed)
                }
            case .number(let text) where !isSecret:
                edits[field] = .set(text)
            case .object(let object) where isSecret && object["set"] != nil:
                edits[field] = .keep
            default:
                problems["config.\(field)"] = "must be a string"
            }
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        return SettingsEdits(edits: edits)
    }

    /// `stored` with the edits applied (plain strings: what a connector takes).
    func applied(to stored: [String: String]) -> [String: String] {
        var result = stored
        for (field, edit) in edits {
            switch edit {
            case .keep: continue
            case .remove: result[field] = nil
            case .set(let value): result[field] = value
            }
        }
        return result
    }

    /// The fields given a new value.
    var newValues: [String: String] {
        edits.compactMapValues { if case .set(let value) = $0 { value } else { nil } }
    }

    /// The fields cleared.
    var removed: Set<String> {
        Set(edits.compactMap { $0.value == .remove ? $0.key : nil })
    }
}

extension StoredConfig {
    /// The hints of the stored secrets, by field.
    var secretHints: [String: String] {
        values.compactMapValues { Self.isSealedEntry($0) ? $0["hint"]?.stringValue : nil }
    }
}
