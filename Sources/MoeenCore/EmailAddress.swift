import Foundation

/// E-mail addresses as typed, in the one form we store and compare, and masked for logs.
public enum EmailAddress {
    /// Longest address accepted (RFC 5321 path limit).
    public static let maximumLength = 254

    /// `raw` trimmed and lower-cased, or `nil` unless the result is one local part (1 to 64 characters, no spaces)
    /// and a domain of at least two non-empty dot-separated labels, joined by a single `@`
    /// (the same rule the integration forms use: ``IntegrationCatalog/isEmail(_:)``).
    ///
    /// Lower-casing the local part is technically lossy, but no mailbox provider we send to distinguishes case,
    /// and it makes `Fatima@Example.org` and `fatima@example.org` the same recipient.
    public static func normalize(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard trimmed.count <= maximumLength, IntegrationCatalog.isEmail(trimmed) else { return nil }
        return trimmed
    }

    /// `email` with the local part hidden but its first character, for logs and viewers:
    /// `"fatima@example.org"` gives `"f•••••@example.org"`. The mask is always five dots, so the local part's
    /// length is not revealed. Anything that is not an e-mail address gives `"•••"`.
    public static func masked(_ email: String) -> String {
        guard let normalized = normalize(email),
              let at = normalized.firstIndex(of: "@"),
              let first = normalized.first
        else { return "•••" }
        return String(first) + "•••••" + normalized[at...]
    }
}
