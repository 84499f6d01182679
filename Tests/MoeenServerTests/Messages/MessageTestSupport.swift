import Fluent
import Foundation
import MoeenConnectors
import MoeenCore
@testable import MoeenServer
import ProviderStandIns
import Synchronization
import Testing
import Vapor

/// A clock the test moves by hand, so retry times are checked exactly and nothing waits.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }

    var now: Date { current.withLock { $0 } }

    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }

    func set(_ date: Date) { current.withLock { $0 = date } }
}

extension Application {
    /// A dispatcher over this application's database and connectors with `clock` and `settings`.
    func testDispatcher(clock: ManualClock, settings: DeliverySettings = .fastTests, owner: String? = nil) -> Dispatcher {
        let app = self
        return Dispatcher(db: db, connectors: connectors, secrets: { try app.integrationSecrets }, settings: settings,
                          clock: { clock.now }, publicURL: moeenConfiguration.publicURL, logger: Logger(label: "test.dispatcher"),
                          owner: owner)
    }

    /// POST /api/messages with `body`; the answer.
    func sendMessage(_ body: JSONValue, auth: String, key: String? = nil) async throws -> (status: HTTPStatus, json: [String: Any], text: String, headers: HTTPHeaders) {
        var headers: HTTPHeaders = ["Authorization": auth]
        headers.contentType = .json
        if let key { headers.add(name: "Idempotency-Key", value: key) }
        var result: (HTTPStatus, [String: Any], String, HTTPHeaders) = (.internalServerError, [:], "", [:])
        try await testing().test(.POST, "api/messages", headers: headers, beforeRequest: { req in
            req.body = ByteBuffer(string: body.jsonText())
        }) { res async throws in
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: res.body))) as? [String: Any] ?? [:]
            result = (res.status, object, res.body.string, res.headers)
        }
        return result
    }

    /// The stored message with this public id.
    func message(_ publicID: String) async throws -> OutboundMessage {
        try #require(try await OutboundMessage.find(idOrPublicID: publicID, on: db))
    }

    /// The statuses of the message's events, oldest first.
    func eventStatuses(_ publicID: String) async throws -> [String] {
        let id = try await message(publicID).requireID()
        return try await MessageEvent.query(on: db).filter(\.$messageID == id).sort(\.$at).sort(\.$id).all().map(\.status)
    }
}

extension DeliverySettings {
    /// Small numbers so a test's clock moves little; the send timeout is generous (a slow machine must not
    /// turn a send into a timeout).
    static var fastTests: DeliverySettings {
        var settings = DeliverySettings()
        settings.retryBase = .seconds(1)
        settings.retryCap = .seconds(8)
        settings.maxAttempts = 3
        settings.lease = .seconds(60)
        settings.sendTimeout = .seconds(30)
        settings.shutdownGrace = .seconds(5)
        return settings
    }
}

/// An admin token, an enabled SMS integration on a Twilio stand-in, and the stand-in.
struct SMSFixture {
    let app: Application
    let admin: String
    let integrationID: String
    let twilio: TwilioStandIn
}

func withSMSFixture<R>(
    rateLimit: String = "unlimited",
    customize: @escaping @Sendable (inout MoeenConfiguration) -> Void = { _ in },
    _ body: @Sendable (SMSFixture) async throws -> R
) async throws -> R {
    let twilio = TwilioStandIn()
    let url = try await twilio.start()
    do {
        let result = try await withMoeenApp(customize: { config in
            config.delivery = .fastTests
            customize(&config)
        }) { app in
            let admin = try await app.bearer(role: .admin)
            var settings = twilio.workingSettings(baseURL: url)
            settings["rate_limit_per_second"] = rateLimit
            let id = try await TestConnectionTests.create(app, auth: admin, type: .sms, settings: settings)
            return try await body(SMSFixture(app: app, admin: admin, integrationID: id, twilio: twilio))
        }
        try await twilio.shutdown()
        return result
    } catch {
        try? await twilio.shutdown()
        throw error
    }
}

/// Waits for `condition` to hold, checking every 20 ms, failing after `limit` (a deadline, not a timing margin).
func eventually(within limit: Duration = .seconds(30), _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for: \(what)")
    throw CancellationError()
}
