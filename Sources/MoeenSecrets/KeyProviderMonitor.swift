import Logging
import MoeenCore
import Synchronization

/// Whether the key provider has proved itself (passed its start-up check) and, until it has, why not.
///
/// A remote provider (AWS KMS, Vault) that is down when the service starts does not stop the start: the
/// service runs, `/ready` says why it is not ready, and every operation that needs a secret fails fast with
/// `SecretsError.providerUnavailable` (503 `key_provider_unavailable`) until `KeyProviderMonitor` sees the
/// provider pass its check. Once available it stays so; later failures are those of the calls themselves.
public final class KeyProviderAvailability: Sendable {
    public enum State: Sendable, Equatable {
        case available
        /// Not proven yet; `reason` says what the last check found (never a secret).
        case unavailable(reason: String)
    }

    /// The provider kind (`local`, `aws-kms`, `vault`), for messages.
    public let provider: String
    private let state: Mutex<State>

    public init(provider: String, state: State = .available) {
        self.provider = provider
        self.state = Mutex(state)
    }

    public var current: State { state.withLock { $0 } }

    public var isAvailable: Bool { current == .available }

    /// Why the provider is not available, nil when it is.
    public var problem: String? {
        if case .unavailable(let reason) = current { return "the \(provider) key provider is not available yet: \(reason)" }
        return nil
    }

    /// Throws `SecretsError.providerUnavailable` (naming the last check's finding) unless the provider is available.
    public func requireAvailable() throws {
        if case .unavailable(let reason) = current {
            throw SecretsError.providerUnavailable(
                provider: provider, reason: "not available yet, retrying in the background (last check: \(reason))")
        }
    }

    func markAvailable() {
        state.withLock { $0 = .available }
    }

    func markUnavailable(_ reason: String) {
        state.withLock { state in
            // Never go back: once proven, a failed check is the call's failure, not the provider's state.
            if state != .available { state = .unavailable(reason: reason) }
        }
    }
}

/// Runs the key provider's start-up check until it passes: once when asked (`checkNow`), then, if it failed,
/// again and again in the background (`start`) with a capped backoff, until it passes or `stop` is called
/// (at shutdown). Each outcome updates `availability`.
public actor KeyProviderMonitor {
    /// The outcome of one check.
    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(SecretsError)
    }

    public nonisolated let availability: KeyProviderAvailability

    /// 1 s, doubling, at most 60 s apart; the monitor never gives up.
    public static let defaultBackoff = RetryPolicy(base: .seconds(1), cap: .seconds(60), maxAttempts: .max)
    private let provider: any KeyProvider
    /// Waits between checks: its deterministic ceiling (1 s doubling to 60 s), no jitter needed for one caller.
    private let backoff: RetryPolicy
    private let logger: Logger
    private var task: Task<Void, Never>?
    private var attempts = 0

    public init(provider: any KeyProvider, availability: KeyProviderAvailability, backoff: RetryPolicy = KeyProviderMonitor.defaultBackoff, logger: Logger) {
        self.provider = provider
        self.availability = availability
        self.backoff = backoff
        self.logger = logger
    }

    /// Runs the check once and records the outcome.
    @discardableResult
    public func checkNow() async -> Outcome {
        attempts += 1
        do {
            try await provider.check()
            availability.markAvailable()
            if attempts > 1 {
                logger.notice("key provider available", metadata: ["provider": .string(provider.kind), "attempts": "\(attempts)"])
            } else {
                logger.info("key provider ready", metadata: ["provider": .string(provider.kind)])
            }
            return .passed
        } catch {
            let secretsError = error as? SecretsError
                ?? SecretsError.providerUnavailable(provider: provider.kind, reason: String(describing: error))
            availability.markUnavailable(secretsError.description)
            return .failed(secretsError)
        }
    }

    /// Retries the check in the background until it passes (no-op when the provider is available already
    /// or the retries are running).
    public func start() {
        guard task == nil, !availability.isAvailable else { return }
        task = Task { [weak self] in
            await self?.retryUntilAvailable()
        }
    }

    /// Stops the retries and waits for the current attempt to end.
    public func stop() async {
        let running = task
        task = nil
        running?.cancel()
        await running?.value
    }

    /// Whether background retries are running.
    public var isRetrying: Bool { task != nil }

    private func retryUntilAvailable() async {
        var failures = 0
        while !Task.isCancelled, !availability.isAvailable {
            failures += 1
            let delay = backoff.ceiling(afterAttempt: failures)
            logger.warning(
                "key provider not available; retrying",
                metadata: ["provider": .string(provider.kind), "in": .string("\(delay)"),
                           "reason": .string(availability.problem ?? "")])
            do {
                try await Task.sleep(for: delay)
            } catch {
                return
            }
            if case .passed = await checkNow() { break }
        }
        if !Task.isCancelled { task = nil }
    }
}
