import Foundation
import Vapor

/// The admin pages' guard: signed out → redirect to `/login?next=…` (for a GET; an unsafe request is
/// sent to the sign-in page too, without `next`); signed in below `role` → the 403 page.
struct RequirePageRole: AsyncMiddleware {
    let role: UserRole

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let user = request.auth.get(AuthenticatedUser.self) else {
            let target = request.method == .GET ? request.url.string : nil
            return request.redirect(to: SiteURL.login(next: target), redirectType: .normal)
        }
        guard user.role.isAtLeast(role) else {
            return try await ErrorPages.render(.forbidden, status: .forbidden, for: request)
        }
        return try await next.respond(to: request)
    }
}
