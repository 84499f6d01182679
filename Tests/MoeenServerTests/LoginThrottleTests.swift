import Fluent
import Foundation
import MoeenCore
import SQLKit
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

@Suite("Sign-in throttling: in the database, atomic, per address and per account")
struct LoginThrottleTests {
    /// Posts the sign-in form (with a matching form token) and returns the status.
    static func signIn(
        _ tester: any TestingApplicationTester, email: String, password: String, forwardedFor: String? = nil
    ) async throws -> HTTPStatus {
        let formToken = SessionCookie.randomToken()
        var headers: HTTPHeaders = ["Cookie": "\(LoginController.formCookie)=\(formToken)"]
        if let forwardedFor { headers.add(name: .xForwardedFor, value: forwardedFor) }
        let response = try await tester.sendRequest(.POST, "/login", headers: headers) { req in
            try req.content.encode(["email": email, "password": password, "csrf_token": formToken], as: .urlEncodedForm)
        }
        return response.status
    }

    /// A server on a loopback port, so requests arrive from a real peer address (127.0.0.1).
    static func loopback(_ app: Application) throws -> any TestingApplicationTester {
        try app.testing(method: .running(hostname: "127.0.0.1", port: 0))
    }

    @Test("concurrent wrong passwords, spread over two applications on one database, check no more than the limit")
    func concurrentAcrossProcesses() async throws {
        try await withEmptyDatabase { database in
            let target = database.target
            try await withMoeenApp(database: target) { first in
                try await first.bootAsServe()
                _ = try await first.accounts.createUser(email: "admin@example.org", name: "Admin", role: .admin, password: "correct horse battery")
                try await withMoeenApp(database: target) { second in
                    try await second.bootAsServe()
                    let limit = first.loginRateLimiter.perAddress.limit
                    let attempts = 24
                    let testers = [try first.testing(), try second.testing()]
                    let statuses = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                        for index in 0..<attempts {
                            let tester = testers[index % testers.count]
                            group.addTask {
                                try await Self.signIn(tester, email: "admin@example.org", password: "wrong password \(index)")
                            }
                        }
                        var statuses: [HTTPStatus] = []
                        for try await status in group { statuses.append(status) }
                        return statuses
                    }
                    #expect(statuses.filter { $0 == .unauthorized }.count == limit, "\(statuses.map(\.code))")
                    #expect(statuses.filter { $0 == .tooManyRequests }.count == attempts - limit, "\(statuses.map(\.code))")
                    // The count is shared: the right password is refused now in either process.
                    #expect(try await Self.signIn(first.testing(), email: "admin@example.org", password: "correct horse battery") == .tooManyRequests)
                    #expect(try await Self.signIn(second.testing(), email: "admin@example.org", password: "correct horse battery") == .tooManyRequests)
                }
            }
        }
    }

    @Test("X-Forwarded-For names the client when the peer is a trusted proxy: each client has its own count")
    func forwardedForFromTrustedProxy() async throws {
        try await withMoeenApp(customize: { $0.trustedProxies = [IPNetwork("127.0.0.0/8"), IPNetwork("::1")].compactMap { $0 } }) { app in
            let server = try Self.loopback(app)
            let limit = app.loginRateLimiter.perAddress.limit
            for index in 0..<limit {
                let status = try await Self.signIn(server, email: "user\(index)@example.org", password: "wrong password", forwardedFor: "198.51.100.9, 203.0.113.7")
                #expect(status == .unauthorized)
            }
            #expect(try await Self.signIn(server, email: "other@example.org", password: "wrong password", forwardedFor: "203.0.113.7") == .tooManyRequests)
            // Another client behind the same proxy is not held back by the first one's failures.
            #expect(try await Self.signIn(server, email: "other@example.org", password: "wrong password", forwardedFor: "203.0.113.8") == .unauthorized)
        }
    }

    @Test("X-Forwarded-For from a peer that is not a trusted proxy is ignored: changing it does not escape the limit")
    func forwardedForFromUntrustedPeer() async throws {
        try await withMoeenApp { app in
            let server = try Self.loopback(app)
            let limit = app.loginRateLimiter.perAddress.limit
            for index in 0..<limit {
                let status = try await Self.signIn(server, email: "user\(index)@example.org", password: "wrong password", forwardedFor: "203.0.113.\(index)")
                #expect(status == .unauthorized)
            }
            #expect(try await Self.signIn(server, email: "other@example.org", password: "wrong password", forwardedFor: "203.0.113.200") == .tooManyRequests)
        }
    }

    @Test("one account is limited across client addresses")
    func perAccount() async throws {
        try await withMoeenApp(customize: { $0.trustedProxies = [IPNetwork("127.0.0.0/8"), IPNetwork("::1")].compactMap { $0 } }) { app in
            _ = try await app.accounts.createUser(email: "admin@example.org", name: "Admin", role: .admin, password: "correct horse battery")
            let server = try Self.loopback(app)
            let limit = app.loginRateLimiter.perAccount.limit
            for index in 0..<limit {
                let status = try await Self.signIn(server, email: "admin@example.org", password: "wrong password", forwardedFor: "203.0.113.\(index)")
                #expect(status == .unauthorized)
            }
            #expect(try await Self.signIn(server, email: "admin@example.org", password: "correct horse battery", forwardedFor: "198.51.100.1") == .tooManyRequests)
            // Other accounts from a fresh address are unaffected.
            #expect(try await Self.signIn(server, email: "someone@example.org", password: "wrong password", forwardedFor: "198.51.100.2") == .unauthorized)
        }
    }

    @Test("windows end; a success clears the account and gives back only its own attempt to the address")
    func windowsAndSuccess() async throws {
        try await withMoeenApp { app in
            var limiter = LoginRateLimiter()
            limiter.perAddress = .init(limit: 3, window: 60)
            limiter.perAccount = .init(limit: 5, window: 60)
            // Whole seconds, so the stored window start is exact on both databases.
            let start = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            func begin(_ account: String, at offset: TimeInterval) async throws -> LoginRateLimiter.Decision {
                try await limiter.begin(address: "192.0.2.1", account: account, on: app.db, now: start.addingTimeInterval(offset))
            }
            func isAllowed(_ decision: LoginRateLimiter.Decision) -> Bool {
                if case .allowed = decision { return true }
                return false
            }
            #expect(isAllowed(try await begin("a@example.org", at: 0)))
            #expect(isAllowed(try await begin("a@example.org", at: 1)))
            guard case .allowed(let third) = try await begin("a@example.org", at: 2) else {
                Issue.record("the third attempt should be allowed")
                return
            }
            try await limiter.succeeded(third, on: app.db, now: start.addingTimeInterval(2))
            // The success handed back one attempt: one more is allowed, then the address is held until the
            // window (started at 0 s) is over.
            #expect(isAllowed(try await begin("b@example.org", at: 3)))
            #expect(try await begin("b@example.org", at: 4) == .refused(retryAfter: 56))
            #expect(try await begin("b@example.org", at: 59) == .refused(retryAfter: 1))
            #expect(isAllowed(try await begin("b@example.org", at: 60)))

            let sql = try #require(app.db as? any SQLDatabase)
            struct Row: Decodable {
                let throttle_key: String
                let attempts: Int
            }
            let rows = try await sql.raw("SELECT throttle_key, attempts FROM login_throttles").all(decoding: Row.self)
            // Only hashes are stored: neither the e-mail nor the client address.
            for row in rows {
                #expect(row.throttle_key.count == 64 && !row.throttle_key.contains("@") && !row.throttle_key.contains("192.0.2"))
            }
            // A success clears its account's count.
            #expect(!rows.contains { $0.throttle_key == LoginRateLimiter.key("account", "a@example.org") })
            #expect(rows.first { $0.throttle_key == LoginRateLimiter.key("address", "192.0.2.1") }?.attempts == 1)
        }
    }

    @Test("the client address: X-Forwarded-For read from the right, only through trusted proxies", arguments: [
        // (peer, X-Forwarded-For, trusted, expected)
        ("203.0.113.5", "198.51.100.1", "", "203.0.113.5"),
        ("127.0.0.1", "198.51.100.1", "", "127.0.0.1"),
        ("127.0.0.1", "198.51.100.1", "127.0.0.0/8", "198.51.100.1"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", "127.0.0.0/8", "198.51.100.1"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.2", "127.0.0.0/8,10.0.0.0/8", "198.51.100.1"),
        ("127.0.0.1", "10.0.0.3, 10.0.0.2", "127.0.0.0/8,10.0.0.0/8", "10.0.0.3"),
        ("127.0.0.1", "198.51.100.1:4711", "127.0.0.0/8", "198.51.100.1"),
        ("127.0.0.1", "[2001:db8::1]:443", "127.0.0.0/8", "2001:db8::1"),
        ("127.0.0.1", "6.6.6.6, unknown", "127.0.0.0/8", "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.0/8", "127.0.0.1"),
        ("::ffff:127.0.0.1", "198.51.100.1", "127.0.0.0/8", "198.51.100.1"),
    ])
    func clientAddress(peer: String, forwardedFor: String, trusted: String, expected: String) {
        let networks = trusted.split(separator: ",").compactMap { IPNetwork(String($0)) }
        let resolved = ClientAddress.resolve(peer: peer, forwardedFor: forwardedFor.isEmpty ? [] : [forwardedFor], trustedProxies: networks)
        #expect(resolved.flatMap(IPAddress.init) == IPAddress(expected))
    }

    @Test("bcrypt runs on the thread pool, never on an event loop")
    func hashingOffTheEventLoop() async throws {
        try await withMoeenApp { app in
            let onEventLoop = try await app.passwordHashing.run { MultiThreadedEventLoopGroup.currentEventLoop != nil }
            #expect(!onEventLoop)
            let hash = try await app.passwordHashing.hash("correct horse battery")
            #expect(await app.passwordHashing.verify("correct horse battery", against: hash))
            #expect(await !app.passwordHashing.verify("wrong", against: hash))
            #expect(await !app.passwordHashing.verify("wrong", against: "not a bcrypt hash"))
        }
    }
}
