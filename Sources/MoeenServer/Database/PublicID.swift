import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The original system's readable identifiers: `int_20261129_1a2b3c4d` (prefix, UTC date, 8 hex digits).
public enum PublicID {
    public enum Prefix: String, Sendable, CaseIterable {
        case integration = "int"
        case integrationTestLog = "itl"
        case contact = "cnt"
        case lead = "led"
        case deal = "del"
        case contactActivity = "cac"
        case progressGoal = "pgl"
        case progressAssessment = "pas"
        case progressReport = "prp"
        case trainingProgram = "trp"
        case trainingProgress = "tpr"
        case familyMember = "fmb"
        case supportSession = "sps"
        case resource = "res"
        case patient = "pat"
        case message = "msg"
        case optOut = "opt"
        case webhookEvent = "whe"
        case inboundMessage = "inm"
        case alertRule = "alr"
        case alert = "alt"
    }

    /// - Parameter randomHexDigits: 8 as the original; tables that grow by thousands a day (messages) use more,
    ///   so two rows of one day practically never draw the same id.
    public static func make(_ prefix: Prefix, at date: Date = Date(), randomHexDigits: Int = 8) -> String {
        // The UTC day by arithmetic (no Calendar per id: this runs for every message and webhook event).
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let day = String(format: "%04d%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        var random = ""
        while random.count < randomHexDigits {
            random += String(format: "%08x", UInt32.random(in: .min ... .max))
        }
        random = String(random.prefix(randomHexDigits))
        return "\(prefix.rawValue)_\(day)_\(random)"
    }

    /// Whether the text has the shape of a public id with that prefix.
    public static func matches(_ text: String, _ prefix: Prefix) -> Bool {
        text.hasPrefix(prefix.rawValue + "_") && text.count <= 64
    }
}
