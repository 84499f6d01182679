import Foundation
import Logging
import MoeenCore

/// The connectors, built once over one transport and one outbound policy.
/// Holds the Google access-token cache, so keep one registry per process.
public struct ConnectorRegistry: Sendable {
    public let whatsapp: WhatsAppConnector
    public let sms: TwilioConnector
    public let email: SendGridConnector
    public let googleCalendar: GoogleCalendarConnector
    public let slack: SlackConnector
    public let seha: SehaConnector
    public let tatman: TatmanConnector

    /// - Parameters:
    ///   - transport: the network seam (`AsyncHTTPClientTransport` live and in tests).
    ///   - policy: which URLs may be called; checked before every request.
    ///   - clock: the current time (token expiry, Retry-After dates).
    ///   - logger: debug lines per call (URLs redacted), one info line per probe.
    public init(
        transport: any HTTPTransport,
        policy: OutboundTargetPolicy,
        clock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "moeen.connectors")
    ) {
        let context = ConnectorContext(transport: transport, policy: policy, now: clock, logger: logger)
        whatsapp = WhatsAppConnector(context: context)
        sms = TwilioConnector(context: context)
        email = SendGridConnector(context: context)
        googleCalendar = GoogleCalendarConnector(context: context, tokens: GoogleTokenCache())
        slack = SlackConnector(context: context)
        seha = SehaConnector(context: context)
        tatman = TatmanConnector(context: context)
    }

    /// The connector of `type` (probe for all; cast to `MessageSender` or use `sender(for:)` to send).
    public func connector(for type: IntegrationType) -> any ProviderConnector {
        switch type {
        case .whatsapp: whatsapp
        case .sms: sms
        case .email: email
        case .googleCalendar: googleCalendar
        case .slack: slack
        case .seha: seha
        case .tatman: tatman
        }
    }

    /// The sender for a messaging channel; `nil` for Google Calendar, Seha and Tatman.
    public func sender(for type: IntegrationType) -> (any MessageSender)? {
        switch type {
        case .whatsapp: whatsapp
        case .sms: sms
        case .email: email
        case .slack: slack
        case .googleCalendar, .seha, .tatman: nil
        }
    }
}
