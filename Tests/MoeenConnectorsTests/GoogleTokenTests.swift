import Foundation
import MoeenConnectors
import MoeenCore
import ProviderStandIns
import Testing

@Suite("Google OAuth token handling")
struct GoogleTokenTests {
    @Test("the token request is form-encoded and the token is cached")
    func formEncodedAndCached() async throws {
        try await withStandIn(GoogleCalendarStandIn()) { standIn, settings in
            let registry = makeRegistry()
            let first = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
            let second = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
            #expect(first.success && second.success)
            #expect(await standIn.state.tokensIssued == 1)
            let tokenRequests = await standIn.recorder.requests(pathSuffix: "/token")
            #expect(tokenRequests.count == 1)
            let request = try #require(tokenRequests.first)
            #expect(request.method == "POST")
            #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
            let form = Dictionary(FormURLEncoding.decode(request.body), uniquingKeysWith: { $1 })
            #expect(form == [
                "grant_type": "refresh_token", "client_id": "fake-client-id.apps.example.org",
                "client_secret": "fake-google-client-secret", "refresh_token": "fake-google-refresh-token",
            ])
            #expect(first.exchanges.count == 2)
            #expect(second.exchanges.count == 1, "the second probe reuses the cached token")
        }
    }

    @Test("concurrent probes share one refresh")
    func singleFlight() async throws {
        try await withStandIn(GoogleCalendarStandIn()) { standIn, settings in
            let registry = makeRegistry()
            let results = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask { await registry.googleCalendar.probe(config: settings, timeout: .seconds(60)).success }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results == Array(repeating: true, count: 8))
            #expect(await standIn.state.tokensIssued == 1)
        }
    }

    @Test("an expiring token is refreshed; a refused token is refreshed once")
    func refresh() async throws {
        try await withStandIn(GoogleCalendarStandIn()) { standIn, settings in
            let registry = makeRegistry()
            await standIn.state.update { $0.expiresIn = 30 } // inside the 60 s margin: never reused
            _ = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
            _ = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
            #expect(await standIn.state.tokensIssued == 2)

            await standIn.state.update { $0.expiresIn = 3599 }
            _ = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
            await standIn.state.revokeAccessTokens()
            let result = await registry.googleCalendar.probe(config: settings, timeout: .seconds(60))
            #expect(result.success, "\(result.message)")
            #expect(await standIn.state.tokensIssued == 4)
            #expect(result.exchanges.map(\.status) == [401, 200, 200])
        }
    }
}
