import Foundation
import MoeenCore

/// PostgreSQL's text and `jsonb` cannot hold U+0000 (NUL): a value carrying one fails in the database, not
/// in validation. Input from people is refused with a 422 (`NULCharacterGuard`, the records' checks); input a
/// provider signed (a webhook) is kept, with each NUL replaced by U+FFFD, so it is stored and applied once
/// instead of failing and being retried forever.
extension JSONValue {
    /// Whether a string or key anywhere in the value contains U+0000.
    var containsNULCharacter: Bool {
        switch self {
        case .string(let text): text.unicodeScalars.contains("\u{0}")
        case .array(let items): items.contains { $0.containsNULCharacter }
        case .object(let members): members.contains { $0.key.unicodeScalars.contains("\u{0}") || $0.value.containsNULCharacter }
        case .null, .bool, .number: false
        }
    }

    /// The value with every U+0000 in its strings and keys replaced by U+FFFD (itself when there is none).
    var replacingNULCharacters: JSONValue {
        guard containsNULCharacter else { return self }
        switch self {
        case .string(let text): return .string(text.replacingNULCharacters)
        case .array(let items): return .array(items.map(\.replacingNULCharacters))
        case .object(let members):
            return .object(Dictionary(members.map { ($0.key.replacingNULCharacters, $0.value.replacingNULCharacters) },
                                      uniquingKeysWith: { first, _ in first }))
        case .null, .bool, .number: return self
        }
    }
}

extension String {
    /// The text with every U+0000 replaced by U+FFFD.
    var replacingNULCharacters: String {
        unicodeScalars.contains("\u{0}") ? replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : self
    }
}
