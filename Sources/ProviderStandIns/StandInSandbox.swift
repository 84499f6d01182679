import Foundation
import MoeenCore

/// All seven stand-ins together, for `moeen sandbox`, demos and end-to-end tests.
public final class StandInSandbox: Sendable {
    /// One running stand-in: its base URL and the settings that work against it.
    public struct Endpoint: Sendable {
        public var type: IntegrationType
        public var baseURL: URL
        public var settings: [String: String]
    }

    public let whatsapp = WhatsAppStandIn()
    public let twilio = TwilioStandIn()
    public let sendgrid = SendGridStandIn()
    public let google = GoogleCalendarStandIn()
    public let slack = SlackStandIn()
    public let seha = RecordAPIStandIn.seha()
    public let tatman = RecordAPIStandIn.tatman()

    public init() {}

    /// The stand-ins in catalogue order.
    public var all: [any ProviderStandIn] { [whatsapp, twilio, sendgrid, google, slack, seha, tatman] }

    /// Starts every stand-in (or those of the `only` types): on `portBase`, `portBase + 1`… in catalogue order,
    /// or on free ports when `portBase` is `nil`. Stops the ones already started if one fails.
    public func start(portBase: Int? = nil, only: Set<IntegrationType>? = nil) async throws -> [Endpoint] {
        var endpoints: [Endpoint] = []
        do {
            for (offset, standIn) in all.filter({ only?.contains($0.type) ?? true }).enumerated() {
                let url = try await standIn.start(port: portBase.map { $0 + offset } ?? 0)
                endpoints.append(Endpoint(type: standIn.type, baseURL: url, settings: standIn.workingSettings(baseURL: url)))
            }
        } catch {
            try? await shutdown()
            throw error
        }
        return endpoints
    }

    /// Stops every stand-in.
    public func shutdown() async throws {
        var firstError: (any Error)?
        for standIn in all {
            do { try await standIn.shutdown() } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }
}
