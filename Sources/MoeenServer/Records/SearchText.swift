import Foundation
import MoeenCore

/// The text `?q=` searches, made comparable the same way on SQLite and PostgreSQL: each record keeps its
/// searchable fields (names, e-mail, phone, company…) folded into `search_text`, and the query is folded the same
/// way before a plain `LIKE`. SQLite's own `LIKE`/`LOWER` fold ASCII only, so the folding happens here:
/// lower-case (any script), accents and Arabic diacritics removed (so `أحمد`, `إحمد` and `احمد` match), the Arabic
/// letter variants ى/ي and ة/ه and the tatweel unified, and Arabic-Indic digits read as `0`–`9`.
enum SearchText {
    /// The longest `q` accepted.
    static let maximumQueryLength = 200

    static func fold(_ text: String) -> String {
        var folded = String.UnicodeScalarView()
        for scalar in text.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.properties.generalCategory == .nonspacingMark { continue }
            switch scalar.value {
            case 0x640: continue // tatweel
            case 0x649: folded.append("\u{64A}") // alef maksura → yeh
            case 0x629: folded.append("\u{647}") // teh marbuta → heh
            case 0x671: folded.append("\u{627}") // alef wasla → alef
            case 0x660...0x669, 0x6F0...0x6F9:
                if let digit = Unicode.Scalar((scalar.value & 0xF) + 0x30) { folded.append(digit) }
            default: folded.append(scalar)
            }
        }
        return String(folded)
    }

    /// The `search_text` of a record whose searchable fields hold `values`.
    static func document(_ values: [String?]) -> String {
        values.compactMap { $0 }.filter { !$0.isEmpty }.map(fold).joined(separator: "\n")
    }

    /// The `LIKE` pattern for `q` (`%` and `_` escaped with `\`). A query that is a phone number in any accepted
    /// form searches for its E.164 form, as phones are stored.
    static func pattern(_ query: String) -> String {
        let trimmed = query.trimmingCharacters(in: .whitespacesAndNewlines)
        let term = PhoneNumber.normalizeE164(trimmed) ?? fold(trimmed)
        let escaped = term.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        return "%" + escaped + "%"
    }
}
