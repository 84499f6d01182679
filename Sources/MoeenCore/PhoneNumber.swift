import Foundation

/// Phone numbers as staff type them, turned into the one form providers accept (E.164), and masked for logs.
///
/// Every place that stores, compares or sends to a phone number goes through ``normalizeE164(_:defaultCountry:)``,
/// so a patient typed as `055 123 4567` on one screen and `+966551234567` on another is the same recipient.
public enum PhoneNumber {
    /// Saudi Arabia's calling code, the default for local forms.
    public static let saudiCallingCode = "966"

    /// Inputs longer than this many Unicode scalars are refused before any work is done.
    public static let maximumInputLength = 64

    /// The E.164 form (`+` and 8 to 15 digits, the first not zero) of `raw`, or `nil` when `raw` is not a phone number.
    ///
    /// Cleaning, before anything else:
    /// - leading and trailing whitespace is ignored; spaces (any Unicode space), `-` and the Unicode hyphens and
    ///   dashes U+2010–U+2015, `.`, `(` and `)` anywhere are ignored, as are the invisible direction marks that
    ///   right-to-left keyboards insert (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069);
    /// - Arabic-Indic digits (`٠`–`٩`) and Eastern Arabic-Indic digits (`۰`–`۹`) count as `0`–`9`;
    /// - anything else (letters, `/`, `*`, `#`, other scripts' digits) refuses the whole input, and so does a `+`
    ///   anywhere but first.
    ///
    /// International forms, for any country: `+<digits>` or `00<digits>` gives `+<digits>`, which must then be
    /// 8 to 15 digits with the first not zero. A number in Saudi Arabia (`+966…`/`00966…`) must moreover have a
    /// 9-digit national number not starting with `0`: `+9660551234567` (a trunk `0` kept after the country code)
    /// is refused rather than guessed at.
    ///
    /// Local forms (no `+`, no `00`) are understood only when `defaultCountry` is `"966"` (Saudi Arabia); for any
    /// other `defaultCountry` they are refused. A Saudi national number is 9 digits, the first `1`–`9` (mobiles
    /// `5XXXXXXXX`, landlines such as `11XXXXXXX`, unified `92XXXXXXX`); exactly these local forms are accepted:
    /// - `0` + national number, 10 digits: `0551234567`;
    /// - the national number alone, 9 digits: `551234567`;
    /// - `966` + national number, 12 digits: `966551234567`.
    /// Every other length is refused, so a mobile with a digit missing or extra (`055123456`, `05512345678`,
    /// `5512345678`) never becomes some other valid-looking number.
    public static func normalizeE164(_ raw: String, defaultCountry: String = saudiCallingCode) -> String? {
        guard let (international, digits) = clean(raw), !digits.isEmpty else { return nil }

        let candidate: String
        if international {
            candidate = digits
        } else if digits.hasPrefix("00") {
            candidate = String(digits.dropFirst(2))
        } else {
            guard defaultCountry == saudiCallingCode else { return nil }
            switch digits.count {
            case 10 where digits.hasPrefix("0"): candidate = saudiCallingCode + digits.dropFirst()
            case 9: candidate = saudiCallingCode + digits
            case 12 where digits.hasPrefix(saudiCallingCode): candidate = digits
            default: return nil
            }
        }

        let e164 = "+" + candidate
        guard IntegrationCatalog.isE164(e164) else { return nil }
        if candidate.hasPrefix(saudiCallingCode) {
            let national = candidate.dropFirst(saudiCallingCode.count)
            guard national.count == 9, national.first != "0" else { return nil }
        }
        return e164
    }

    /// `phone` with all but the country code, the next digit and the last three digits hidden, for logs and
    /// viewers: `"+966551234567"` gives `"+9665•••••567"`. The input is normalised first (Saudi default); anything
    /// that is not a phone number gives `"•••"`, so a mistyped value never reaches a log in full.
    public static func masked(_ phone: String) -> String {
        guard let e164 = normalizeE164(phone) else { return "•••" }
        let digits = Array(e164.dropFirst())
        let kept = callingCodeLength(digits) + 1
        let hidden = digits.count - kept - 3
        guard hidden > 0 else { return "•••" }
        return "+" + String(digits[..<kept]) + String(repeating: "•", count: hidden) + String(digits.suffix(3))
    }

    /// Length of the ITU calling code at the start of `digits` (codes are prefix-free: `1` and `7` are one digit,
    /// the listed two-digit codes are two, every other code is three).
    static func callingCodeLength(_ digits: [Character]) -> Int {
        guard let first = digits.first else { return 0 }
        if first == "1" || first == "7" { return 1 }
        guard digits.count >= 2 else { return digits.count }
        let twoDigitCodes: Set<String> = [
            "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
            "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
            "86", "90", "91", "92", "93", "94", "95", "98",
        ]
        return twoDigitCodes.contains(String(digits[..<2])) ? 2 : 3
    }

    /// Strips separators and converts digits; `(international: leading "+", ASCII digits)` or `nil` for refused input.
    private static func clean(_ raw: String) -> (Bool, String)? {
        let scalars = raw.unicodeScalars
        guard scalars.count <= maximumInputLength else { return nil }
        var digits = ""
        var international = false
        for scalar in scalars {
            let value = scalar.value
            switch value {
            case 0x30...0x39:
                digits.unicodeScalars.append(scalar)
            case 0x660...0x669, 0x6F0...0x6F9:
                let ascii = (value & 0xF) + 0x30
                guard let converted = Unicode.Scalar(ascii) else { return nil }
                digits.unicodeScalars.append(converted)
            case 0x2B: // "+"
                guard !international, digits.isEmpty else { return nil }
                international = true
            case 0x2D, 0x2E, 0x28, 0x29, 0x2010...0x2015, // - . ( ) and dashes
                 0x61C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: // direction marks
                continue
            default:
                guard scalar.properties.isWhitespace else { return nil }
            }
        }
        return (international, digits)
    }
}
