import Fluent
import Foundation
@testable import MoeenServer
import Testing
import Vapor
import VaporTesting

@Suite("The setup link is strictly single-use")
struct SetupLinkTests {
    static func post(_ tester: any TestingApplicationTester, token: String, email: String) async throws -> TestingHTTPResponse {
        try await tester.sendRequest(.POST, "/setup") { req in
            try req.content.encode([
                "token": token, "email": email, "name": "First Admin",
                "password": "correct horse battery", "password_confirmation": "correct horse battery",
            ], as: .urlEncodedForm)
        }
    }

    @Test("many concurrent posts of the same link create exactly one admin; the others see the expired page")
    func concurrentSameLink() async throws {
        try await withMoeenApp { app in
            try await app.bootAsServe()
            let token = try #require(try await SetupLinks.issueIfNeeded(on: app.db))
            let tester = try app.testing()
            let posts = 12
            let responses = try await withThrowingTaskGroup(of: (HTTPStatus, String).self) { group in
                for index in 0..<posts {
                    group.addTask {
                        let response = try await Self.post(tester, token: token, email: "admin\(index)@example.org")
                        return (response.status, response.body.string)
                    }
                }
                var all: [(HTTPStatus, String)] = []
                for try await response in group { all.append(response) }
                return all
            }
            #expect(responses.filter { $0.0 == .ok }.count == 1, "\(responses.map(\.0.code))")
            #expect(responses.filter { $0.0 == .notFound }.count == posts - 1,
                    "\(responses.map(\.0.code))")
            #expect(try await User.query(on: app.db).count() == 1)
            #expect(try await User.query(on: app.db).filter(\.$role == .admin).count() == 1)
            let record = try #require(try await SetupToken.query(on: app.db).first())
            #expect(record.usedAt != nil)
            // And afterwards the link stays spent.
            #expect(try await Self.post(tester, token: token, email: "late@example.org").status == .notFound)
        }
    }

    @Test("two links (two processes each printed one) posted at once still create one admin")
    func concurrentTwoLinks() async throws {
        try await withMoeenApp { app in
            try await app.bootAsServe()
            let first = try #require(try await SetupLinks.issueIfNeeded(on: app.db))
            let second = try #require(try await SetupLinks.issueIfNeeded(on: app.db))
            let tester = try app.testing()
            let statuses = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                for index in 0..<8 {
                    let token = index.isMultiple(of: 2) ? first : second
                    group.addTask { try await Self.post(tester, token: token, email: "admin\(index)@example.org").status }
                }
                var all: [HTTPStatus] = []
                for try await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses.map(\.code))")
            #expect(try await User.query(on: app.db).count() == 1)
        }
    }

    @Test("a refused form (passwords differ, bad e-mail) leaves the link usable")
    func refusedFormKeepsLink() async throws {
        try await withMoeenApp { app in
            let token = try #require(try await SetupLinks.issueIfNeeded(on: app.db))
            let bad = try await app.testing().sendRequest(.POST, "/setup") { req in
                try req.content.encode([
                    "token": token, "email": "not-an-address", "name": "Admin",
                    "password": "correct horse battery", "password_confirmation": "correct horse battery",
                ], as: .urlEncodedForm)
            }
            #expect(bad.status == .unprocessableEntity)
            #expect(try await Self.post(app.testing(), token: token, email: "admin@example.org").status == .ok)
            #expect(try await User.query(on: app.db).count() == 1)
        }
    }

    @Test("redeeming is a conditional update: once only, never when expired or unknown, never once a user exists")
    func redeemOnce() async throws {
        try await withMoeenApp { app in
            let token = try #require(try await SetupLinks.issueIfNeeded(on: app.db))
            #expect(try await SetupLinks.redeem("not-the-token", on: app.db) == false)
            #expect(try await SetupLinks.redeem(token, on: app.db, now: Date().addingTimeInterval(SetupLinks.validity + 1)) == false)
            #expect(try await SetupLinks.redeem(token, on: app.db) == true)
            #expect(try await SetupLinks.redeem(token, on: app.db) == false)

            let another = try #require(try await SetupLinks.issueIfNeeded(on: app.db))
            _ = try await app.accounts.createUser(email: "someone@example.org", name: "Someone", role: .viewer, password: "correct horse battery")
            #expect(try await SetupLinks.redeem(another, on: app.db) == false)
        }
    }

    @Test("two processes on one PostgreSQL database, posted the same link at once, create exactly one admin",
          .enabled(if: TestDatabases.isPostgres, "needs MOEEN_TEST_POSTGRES_URL (several processes share PostgreSQL, not SQLite)"))
    func concurrentAcrossProcesses() async throws {
        try await withEmptyDatabase { database in
            let target = database.target
            try await withMoeenApp(database: target) { first in
                try await withMoeenApp(database: target) { second in
                    let token = try #require(try await SetupLinks.issueIfNeeded(on: first.db))
                    let testers = [try first.testing(), try second.testing()]
                    let statuses = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                        for index in 0..<12 {
                            let tester = testers[index % testers.count]
                            group.addTask { try await Self.post(tester, token: token, email: "admin\(index)@example.org").status }
                        }
                        var all: [HTTPStatus] = []
                        for try await status in group { all.append(status) }
                        return all
                    }
                    #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses.map(\.code))")
                    #expect(statuses.filter { $0 == .notFound }.count == 11, "\(statuses.map(\.code))")
                    #expect(try await User.query(on: second.db).count() == 1)
                }
            }
        }
    }
}
