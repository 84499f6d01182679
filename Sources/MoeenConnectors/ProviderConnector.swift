import MoeenCore

/// A client for one provider: the connection test, and (for messaging channels) sends.
public protocol ProviderConnector: Sendable {
    var type: IntegrationType { get }

    /// The non-destructive connection test of PROVIDERS.md (for Slack, a posted message).
    /// Never throws: every failure is a `ProbeResult` with `success == false` and an `error`.
    func probe(config: [String: String], timeout: Duration) async -> ProbeResult

    /// The unattended check the scheduler runs every `MOEEN_HEALTH_INTERVAL`. It must never message anyone:
    /// for every provider but Slack this is `probe`, which reads only; Slack overrides it.
    func scheduledProbe(config: [String: String], timeout: Duration) async -> ProbeResult
}

extension ProviderConnector {
    public func scheduledProbe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await probe(config: config, timeout: timeout)
    }
}

/// A connector that delivers `ChannelMessage`s (WhatsApp, SMS, e-mail, Slack).
public protocol MessageSender: ProviderConnector {
    /// Sends one message; returns the provider's message id (Slack has none).
    func send(_ message: ChannelMessage, config: [String: String], timeout: Duration)
        async throws(ProviderError) -> SendReceipt
}

/// A message for any channel, as the outbox holds it.
public struct ChannelMessage: Sendable, Equatable {
    /// Phone number (E.164) for WhatsApp and SMS, e-mail address for e-mail; ignored by Slack.
    public var to: String
    public var text: String?
    /// E-mail subject.
    public var subject: String?
    /// E-mail HTML body.
    public var html: String?
    /// WhatsApp template (required outside the 24-hour customer-service window).
    public var template: WhatsAppTemplate?
    /// Where the provider should post this message's delivery updates, for providers that take one per message
    /// (Twilio's `StatusCallback`); others are pointed at the webhook URL in their console.
    public var statusCallback: String?

    public init(to: String, text: String? = nil, subject: String? = nil, html: String? = nil,
                template: WhatsAppTemplate? = nil, statusCallback: String? = nil) {
        self.to = to
        self.text = text
        self.subject = subject
        self.html = html
        self.template = template
        self.statusCallback = statusCallback
    }
}

/// A WhatsApp message template with body parameters, or raw components.
public struct WhatsAppTemplate: Sendable, Equatable {
    public var name: String
    /// Language code, e.g. `ar` or `en_US`.
    public var language: String
    /// Body text parameters, in order (`{{1}}`, `{{2}}`…).
    public var parameters: [String]
    /// Raw `components` to send instead of `parameters`, when given.
    public var components: [JSONValue]?

    public init(name: String, language: String, parameters: [String] = [], components: [JSONValue]? = nil) {
        self.name = name
        self.language = language
        self.parameters = parameters
        self.components = components
    }
}

/// A successful send.
public struct SendReceipt: Sendable {
    /// `wamid.…`, `SM…`, SendGrid's `X-Message-Id`, a Google event id; `nil` for Slack.
    public var providerMessageId: String?
    public var statusCode: Int
    public var exchanges: [RecordedExchange]

    public init(providerMessageId: String?, statusCode: Int, exchanges: [RecordedExchange]) {
        self.providerMessageId = providerMessageId
        self.statusCode = statusCode
        self.exchanges = exchanges
    }
}
