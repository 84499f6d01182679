import Fluent
import Foundation
import MoeenConnectors
import MoeenCore
import MoeenSecrets

/// One claimed message: the policies (opt-out, quiet hours, rate limit), the send, and what its result means for
/// the message and for its integration's delivery state.
extension Dispatcher {
    /// What a send's result means for its integration's delivery state.
    enum PolicyEffect: Sendable {
        case none
        case success
        /// A retryable failure counting towards the breaker, or a credentials failure that opens it at once.
        case failure(reason: String, opensAtOnce: Bool)
        /// The provider asked every sender to wait until then (429 with Retry-After).
        case backOff(until: Date, reason: String)
        /// The integration is at its rate limit until then (in this process's view).
        case saturated(until: Date)
    }

    func apply(_ effect: PolicyEffect, integration: UUID, publicID: String) async {
        let now = clock()
        do {
            switch effect {
            case .none:
                return
            case .success:
                try await policies.recordSuccess(integration, now: now)
            case .failure(let reason, let opensAtOnce):
                let state = try await policies.recordFailure(integration, reason: reason, opensAtOnce: opensAtOnce,
                                                             threshold: settings.circuitFailures,
                                                             cooldown: settings.circuitCooldown, now: now)
                if state == "paused" {
                    logger.warning("integration paused by the circuit breaker", metadata: [
                        "integration": .string(integration.uuidString), "reason": .string(reason),
                        "cooldown": .string(DurationText.format(settings.circuitCooldown)),
                    ])
                }
            case .backOff(let until, let reason):
                try await policies.backOff(integration, until: until, reason: reason, now: now)
            case .saturated(let until):
                state.withLock { $0.saturated[integration] = until }
            }
        } catch {
            logger.warning("could not record an integration's delivery state",
                           metadata: ["message": .string(publicID), "error": .string(String(describing: error))])
        }
    }

    /// Applies the policies to one claimed message, sends it when they allow, and decides what came of it.
    func attempt(_ message: OutboundMessage) async -> (MessageStore.Outcome, PolicyEffect) {
        if message.attempts > message.maxAttempts {
            // A claim that expired on its last attempt (the process died mid-send): no attempts are left.
            return (.dead(error: "no attempts left (\(message.maxAttempts) made; the last one's outcome was never recorded)", code: nil), .none)
        }
        guard let channel = message.messageChannel else {
            return (.failed(error: "unknown channel \(message.channel)", code: nil), .none)
        }
        let integration: IntegrationConfig
        let config: [String: String]
        do {
            if channel != .slack, try await OptOuts.isOptedOut(channel: channel.rawValue, address: message.recipient, on: db) {
                return (.cancelled(reason: "recipient opted out", code: "recipient_opted_out"), .none)
            }
            if message.priority != "urgent", let quiet = await preferences.current(on: db).activeQuietHours,
               let end = quiet.end(containing: clock()) {
                return (.deferred(until: end, reason: "held by quiet hours until \(MessageIntake.timestamp(end))"), .none)
            }
            guard let row = try await IntegrationConfig.find(message.$integration.id, on: db) else {
                return (.failed(error: "the integration no longer exists", code: "integration_missing"), .none)
            }
            guard row.isEnabled else {
                return (.failed(error: "the integration \(row.publicID) is disabled; enable it and retry the message", code: "integration_disabled"), .none)
            }
            integration = row
            config = try await secrets().open(row, on: db)
        } catch let error as SecretsError {
            // A key provider that cannot be reached is temporary; a key that cannot open the row is not.
            if error.meansUnreadableSecrets {
                return (.failed(error: "the integration's stored secrets cannot be opened: \(error)", code: "secrets_unreadable"), .none)
            }
            return (retryOrDead(message, error: "the key provider is not available: \(error)", code: "key_provider_unavailable", retryAfter: nil), .none)
        } catch {
            return (retryOrDead(message, error: "could not load the integration: \(error)", code: nil, retryAfter: nil), .none)
        }
        guard let sender = connectors.sender(for: channel.integrationType),
              integration.integrationType == channel.integrationType.rawValue
        else {
            return (.failed(error: "the integration \(integration.publicID) cannot send \(channel.rawValue) messages", code: "integration_mismatch"), .none)
        }

        // The integration's rate limit, shared with every process on the database: wait for a slot nearby,
        // or go back to the queue (the attempt not counted) until one is free.
        let limit = IntegrationCatalog.rateLimit(type: channel.integrationType, config: config)
        if case .limited = limit {
            do {
                let reservation = try await policies.reserve(message.$integration.id, limit: limit, now: clock(),
                                                             horizon: settings.rateHorizon)
                switch reservation {
                case .slot(let slot):
                    let wait = slot.timeIntervalSince(clock())
                    if wait > 0 { await sleeper(.milliseconds(Int64((wait * 1000).rounded(.up)))) }
                case .notBefore(let time):
                    return (.deferred(until: time, reason: "waiting for the rate limit (\(limit)) until \(MessageIntake.timestamp(time))"),
                            .saturated(until: time))
                }
            } catch {
                return (.deferred(until: clock().addingTimeInterval(1), reason: "rate limiter unavailable: \(error)"), .none)
            }
        }

        let outgoing = ChannelMessage(
            to: message.recipient, text: message.text, subject: message.subject, html: message.html,
            template: message.template.flatMap(Self.template),
            statusCallback: channel == .sms ? publicURL.flatMap { WebhookPaths.url(base: $0, type: integration.integrationType, publicID: integration.publicID) } : nil)
        let sendStarted = ContinuousClock.now
        do {
            let receipt = try await sender.send(outgoing, config: config, timeout: settings.sendTimeout)
            metrics?.dispatchAttempt(channel: channel.rawValue, outcome: "sent", duration: ContinuousClock.now - sendStarted)
            return (.sent(providerMessageID: receipt.providerMessageId), .success)
        } catch {
            metrics?.dispatchAttempt(channel: channel.rawValue, outcome: MoeenMetrics.snakeCase(error.category.rawValue),
                                     duration: ContinuousClock.now - sendStarted)
            let text = Self.describe(error, recipient: message.recipient)
            if error.isRetryable {
                let outcome = retryOrDead(message, error: text, code: error.code, retryAfter: error.retryAfter)
                if error.category == .rateLimited, let retryAfter = error.retryAfter {
                    let until = Self.roundedUp(clock().addingTimeInterval(retryAfter.seconds))
                    return (outcome, .backOff(until: until, reason: "the provider asked to wait (HTTP 429) until \(MessageIntake.timestamp(until))"))
                }
                return (outcome, .failure(reason: text, opensAtOnce: false))
            }
            await CredentialExpiry.markIfExpired(error, type: channel.integrationType, row: integration, on: db, logger: logger, at: clock())
            let effect: PolicyEffect = error.category == .credentials ? .failure(reason: text, opensAtOnce: true) : .none
            return (.failed(error: text, code: error.code), effect)
        }
    }

    func retryOrDead(_ message: OutboundMessage, error: String, code: String?, retryAfter: Duration?) -> MessageStore.Outcome {
        let policy = settings.retryPolicy
        guard !RetryPolicy(base: policy.base, cap: policy.cap, maxAttempts: message.maxAttempts)
            .isExhausted(attempts: message.attempts)
        else {
            return .dead(error: "gave up after \(message.attempts) attempts; last error: \(error)", code: code)
        }
        let delay = policy.delay(afterAttempt: message.attempts, retryAfter: retryAfter)
        return .retry(at: Self.roundedUp(clock().addingTimeInterval(delay.seconds)), error: error, code: code)
    }
}
