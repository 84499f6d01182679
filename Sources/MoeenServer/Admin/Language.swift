import Foundation
import Vapor

/// The language of the admin pages: Arabic right-to-left by default, English left-to-right with `?lang=en`.
enum Language: String, Sendable, CaseIterable {
    case ar, en

    var direction: String { self == .ar ? "rtl" : "ltr" }
    var other: Language { self == .ar ? .en : .ar }

    static let cookieName = "moeen_lang"

    /// Dates as the viewer reads them (Gregorian calendar, UTC, stated).
    func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.locale = Locale(identifier: self == .ar ? "ar" : "en_GB")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateStyle = .medium
        formatter.timeStyle = .short
        return formatter.string(from: date) + " UTC"
    }

    /// Whole numbers with Western digits in both languages (how the clinic's staff read IDs and scores).
    func format(_ number: Int) -> String {
        let formatter = NumberFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.numberStyle = .decimal
        formatter.usesGroupingSeparator = true
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: number)) ?? String(number)
    }
}

/// Picks the language of each page request: `?lang=` (remembered in a cookie for a year), else the cookie,
/// else Arabic.
struct LanguageMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let asked = request.query[String.self, at: "lang"].flatMap(Language.init(rawValue:))
        let remembered = request.cookies[Language.cookieName].flatMap { Language(rawValue: $0.string) }
        request.language = asked ?? remembered ?? .ar
        let response = try await next.respond(to: request)
        if let asked, asked != remembered {
            response.cookies[Language.cookieName] = HTTPCookies.Value(
                string: asked.rawValue, maxAge: 365 * 24 * 3600, path: "/",
                isSecure: request.moeenConfiguration.cookiesAreSecure, isHTTPOnly: true, sameSite: .lax
            )
        }
        return response
    }
}

extension Request {
    private struct LanguageKey: StorageKey { typealias Value = Language }

    var language: Language {
        get { storage[LanguageKey.self] ?? .ar }
        set { storage[LanguageKey.self] = newValue }
    }
}

extension MoeenConfiguration {
    /// Cookies carry `Secure` when the service is reached over https.
    var cookiesAreSecure: Bool { publicURL?.lowercased().hasPrefix("https://") ?? false }
}
