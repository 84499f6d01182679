import Foundation
import Vapor

/// The admin pages: language, page errors, session sign-in and CSRF around every page; each controller
/// guards its own routes by role. Static files are served from `Resources/Public` under `/assets/` only.
func registerAdminPages(_ app: Application) throws {
    app.loginRateLimiter = LoginRateLimiter()
    app.adminAssets = AdminAssets.load(from: Resources.publicDirectory, logger: app.logger)
    app.get("assets", ":file", use: AdminAssets.serve)

    let pages = app.grouped(LanguageMiddleware(), PageErrorMiddleware(), SessionCookieAuthenticator(), CSRFProtection(page: true))
    pages.get { req in req.redirect(to: SiteURL.settings(.general).path, redirectType: .normal) }
    try pages.register(collection: SetupController())
    try pages.register(collection: LoginController())
    try pages.register(collection: SettingsController())
    try pages.register(collection: IntegrationPageController())
    try pages.register(collection: MessagesPageController())
    try pages.register(collection: OptOutsPageController())
    try pages.register(collection: InboundMessagesPageController())
    try pages.register(collection: UsersPageController())
    try pages.register(collection: AlertsPageController())
}

/// The stylesheet and script of the admin pages, read once at boot.
struct AdminAssets: Sendable {
    static let allowed: [String: HTTPMediaType] = [
        "admin.css": HTTPMediaType(type: "text", subType: "css", parameters: ["charset": "utf-8"]),
        "admin.js": HTTPMediaType(type: "text", subType: "javascript", parameters: ["charset": "utf-8"]),
    ]

    var files: [String: Data] = [:]

    static func load(from directory: String, logger: Logger) -> AdminAssets {
        var assets = AdminAssets()
        for name in allowed.keys {
            if let data = FileManager.default.contents(atPath: directory + name) {
                assets.files[name] = data
            } else {
                logger.warning("admin asset missing", metadata: ["file": "\(name)"])
            }
        }
        return assets
    }

    @Sendable
    static func serve(req: Request) async throws -> Response {
        guard let name = req.parameters.get("file"), let type = allowed[name], let data = req.application.adminAssets.files[name] else {
            throw APIError.notFound("The file")
        }
        var headers = HTTPHeaders()
        headers.contentType = type
        headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=300")
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}

extension Application {
    private struct AdminAssetsKey: StorageKey { typealias Value = AdminAssets }

    var adminAssets: AdminAssets {
        get { storage[AdminAssetsKey.self] ?? AdminAssets() }
        set { storage[AdminAssetsKey.self] = newValue }
    }
}
