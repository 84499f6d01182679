import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor

@Suite("Token look-up cache")
struct TokenLookupCacheTests {
    let user = AuthenticatedUser(id: UUID(), email: "a@example.org", name: "A", role: .manager)

    @Test("an entry answers for its lifetime only, never past the token's own expiry, and can be forgotten by user")
    func lifetimeAndForget() {
        let cache = TokenLookupCache(lifetime: 5, capacity: 3)
        let now = Date()
        cache.remember(hash: "h1", user: user, tokenExpiresAt: nil, now: now)
        #expect(cache.user(forHash: "h1", now: now.addingTimeInterval(4.9))?.id == user.id)
        #expect(cache.user(forHash: "h1", now: now.addingTimeInterval(5)) == nil)

        cache.remember(hash: "h2", user: user, tokenExpiresAt: now.addingTimeInterval(1), now: now)
        #expect(cache.user(forHash: "h2", now: now.addingTimeInterval(1)) == nil)

        cache.remember(hash: "h3", user: user, tokenExpiresAt: nil, now: now)
        cache.forget(userID: user.id)
        #expect(cache.user(forHash: "h3", now: now) == nil)

        for index in 0..<10 { cache.remember(hash: "x\(index)", user: user, tokenExpiresAt: nil, now: now) }
        #expect(cache.user(forHash: "x9", now: now) != nil)
    }

    @Test("through the API: a deactivated user's token is refused once the entry is forgotten (at once in this process)")
    func deactivation() async throws {
        try await withMoeenApp { app in
            let email = "cached-\(UUID().uuidString.prefix(6).lowercased())@example.org"
            let auth = try await app.bearer(role: .viewer, email: email)
            #expect(try await app.call(.GET, "api/integrations", auth: auth).status == .ok)
            let user = try #require(try await User.query(on: app.db).filter(\.$email == email).first())
            user.isActive = false
            try await user.save(on: app.db)
            app.tokenLookupCache.forget(userID: try user.requireID())
            #expect(try await app.call(.GET, "api/integrations", auth: auth).status == .unauthorized)
        }
    }
}
