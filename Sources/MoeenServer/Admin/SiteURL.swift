import Foundation

/// Every admin page's address, in one place: routes are registered from these path components and
/// pages link with `path`, so renaming a route can't leave a broken link behind.
enum SiteURL: Sendable, Equatable {
    case login
    case logout
    case setup
    case settings(SettingsTab)
    /// The General tab's quiet-hours form posts here.
    case deliverySettings
    case integration(publicID: String)
    case integrationSave(publicID: String)
    case integrationEnable(publicID: String)
    case integrationTest(publicID: String)
    case message(publicID: String)
    case messageRetry(publicID: String)
    case messageCancel(publicID: String)
    case optOuts
    case optOutRemove(publicID: String)
    /// Replies received through webhooks (under Messages).
    case inboundMessages
    case users
    case user(id: UUID)
    case asset(String)

    enum SettingsTab: String, Sendable, CaseIterable {
        case general, integrations, messages, users, alerts, security
    }

    /// The path, starting with `/`.
    var path: String {
        "/" + components.joined(separator: "/")
    }

    var components: [String] {
        switch self {
        case .login: ["login"]
        case .logout: ["logout"]
        case .setup: ["setup"]
        case .settings(.general): ["settings"]
        case .settings(let tab): ["settings", tab.rawValue]
        case .deliverySettings: ["settings", "delivery"]
        case .integration(let id): ["settings", "integrations", id]
        case .integrationSave(let id): ["settings", "integrations", id, "save"]
        case .integrationEnable(let id): ["settings", "integrations", id, "enable"]
        case .integrationTest(let id): ["settings", "integrations", id, "test"]
        case .message(let id): ["settings", "messages", id]
        case .messageRetry(let id): ["settings", "messages", id, "retry"]
        case .messageCancel(let id): ["settings", "messages", id, "cancel"]
        case .optOuts: ["settings", "messages", "opt-outs"]
        case .optOutRemove(let id): ["settings", "messages", "opt-outs", id, "remove"]
        case .inboundMessages: ["settings", "messages", "inbound"]
        case .users: ["settings", "users"]
        case .user(let id): ["settings", "users", id.uuidString.lowercased()]
        case .asset(let name): ["assets", name]
        }
    }

    /// `path` with `items` as its query (none: the path alone), each value percent-encoded whole: list cursors
    /// are base64, whose `+` a query would otherwise read as a space.
    static func path(_ path: String, query items: [(String, String)]) -> String {
        guard !items.isEmpty else { return path }
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return path + "?" + items.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")"
        }.joined(separator: "&")
    }

    /// The login page that sends the user back to `next` afterwards (a local path only).
    static func login(next: String?) -> String {
        guard let next, let safe = SafeRedirect.localPath(next), safe != SiteURL.login.path else { return SiteURL.login.path }
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "next", value: safe)]
        return SiteURL.login.path + (components.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "/", with: "%2F") } ?? "")
    }
}

/// Redirect targets taken from a request are kept on this site: a path beginning with one `/`.
enum SafeRedirect {
    static func localPath(_ raw: String) -> String? {
        guard raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\"), raw.count <= 512,
              !raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else { return nil }
        return raw
    }
}
