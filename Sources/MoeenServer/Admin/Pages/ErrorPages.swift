import Foundation
import Vapor

/// The admin pages' error answers, as pages (the JSON API keeps its error shape).
enum ErrorPages {
    enum Kind {
        case forbidden, csrf, notFound
        case other(String)
    }

    struct Context: Encodable {
        let frame: PageFrame
        let heading: String
        let body: String
        let backHref: String
    }

    static func render(_ kind: Kind, status: HTTPResponseStatus, for req: Request) async throws -> Response {
        let language = req.language
        let heading: String
        let body: String
        switch kind {
        case .forbidden:
            heading = Strings.text("forbidden_title", language)
            body = Strings.text("forbidden_body", language)
        case .csrf:
            heading = Strings.text("csrf_title", language)
            body = Strings.text("csrf_body", language)
        case .notFound:
            heading = Strings.text("not_found_title", language)
            body = ""
        case .other(let message):
            heading = Strings.text("error_title", language)
            body = message
        }
        let context = Context(frame: PageFrame(req, title: heading), heading: heading, body: body, backHref: SiteURL.settings(.general).path)
        return try await AdminView.render("admin-error", context, status: status, for: req)
    }
}

/// Turns errors thrown by page handlers into error pages instead of JSON.
struct PageErrorMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: request)
        } catch {
            let mapped = ErrorRenderingMiddleware.map(error)
            switch mapped.status {
            case .internalServerError:
                request.logger.report(error: error)
                return try await ErrorPages.render(.other(Strings.text("error_title", request.language)), status: .internalServerError, for: request)
            case .notFound:
                return try await ErrorPages.render(.notFound, status: .notFound, for: request)
            case .forbidden:
                return try await ErrorPages.render(.forbidden, status: .forbidden, for: request)
            case .unauthorized:
                return request.redirect(to: SiteURL.login.path, redirectType: .normal)
            default:
                return try await ErrorPages.render(.other(mapped.message), status: mapped.status, for: request)
            }
        }
    }
}
