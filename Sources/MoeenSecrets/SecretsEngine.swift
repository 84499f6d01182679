import Crypto
import Foundation
import Logging

/// Envelope encryption for integration secrets.
///
/// Each integration row has one 256-bit data key (`newDataKey()`), stored wrapped by the key provider
/// (`WrappedDataKey`). Each secret field is sealed under that data key (`seal`), bound to the row id and
/// field name. Reading a row: `unwrap` the data key (cached for a few minutes), then `open` each field.
///
/// Rotation: after the provider's current key changes, `needsRewrap` tells which stored data keys to
/// `rewrap`; the sealed fields themselves do not change.
///
/// Until the provider has passed its start-up check (`availability`), every call that needs it fails fast
/// with `SecretsError.providerUnavailable` instead of waiting on a provider known to be down.
public actor SecretsEngine {
    /// The provider that wraps and unwraps data keys.
    public nonisolated let provider: any KeyProvider
    /// Whether the provider has proved itself yet.
    public nonisolated let availability: KeyProviderAvailability
    private let logger: Logger
    private let cacheLifetime: Duration
    private let cacheCapacity: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private var cache: [WrappedDataKey: CachedKey] = [:]

    private struct CachedKey {
        var key: SymmetricKey
        var storedAt: ContinuousClock.Instant
    }

    /// - Parameters:
    ///   - cacheLifetime: how long an unwrapped data key is kept in memory (default 5 minutes; zero disables).
    ///   - cacheCapacity: at most this many unwrapped data keys are kept (default 1,000).
    ///   - now: the clock, replaceable in tests.
    ///   - availability: whether the provider passed its start-up check (default: it did).
    public init(
        provider: any KeyProvider,
        logger: Logger,
        cacheLifetime: Duration = .seconds(300),
        cacheCapacity: Int = 1_000,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
        availability: KeyProviderAvailability? = nil
    ) {
        self.provider = provider
        self.availability = availability ?? KeyProviderAvailability(provider: provider.kind)
        self.logger = logger
        self.cacheLifetime = cacheLifetime
        self.cacheCapacity = max(0, cacheCapacity)
        self.now = now
    }

    // MARK: Data keys

    /// A fresh data key for a new integration row: use `key` to seal its fields, store `wrapped`.
    public func newDataKey() async throws -> (key: SymmetricKey, wrapped: WrappedDataKey) {
        try availability.requireAvailable()
        let generated = try await provider.generateDataKey()
        remember(generated.key, for: generated.wrapped)
        return (generated.key, generated.wrapped)
    }

    /// The plaintext data key of an integration row, from the cache or the provider.
    /// - Parameter integration: the row's public id, used only in error messages and logs.
    public func unwrap(_ wrapped: WrappedDataKey, integration: String) async throws -> SymmetricKey {
        if let cached = cache[wrapped] {
            if now() - cached.storedAt < cacheLifetime { return cached.key }
            cache[wrapped] = nil
        }
        try availability.requireAvailable()
        let key: SymmetricKey
        do {
            key = try await provider.unwrap(wrapped)
        } catch let error as SecretsError {
            let named = error.about(integration: integration)
            logger.error(
                "could not unwrap a data key",
                metadata: ["integration": .string(integration), "key": .string(wrapped.label),
                           "error": .string(named.description)])
            throw named
        }
        remember(key, for: wrapped)
        return key
    }

    /// The key new data keys are wrapped with now.
    public func currentKey() async throws -> KeyReference {
        try availability.requireAvailable()
        return try await provider.currentKey()
    }

    /// Whether `wrapped` is wrapped by another key (or an older version) than the current one.
    /// Ask `currentKey()` once, then call this for every stored data key.
    public nonisolated static func needsRewrap(_ wrapped: WrappedDataKey, current: KeyReference) -> Bool {
        wrapped.provider != current.provider || wrapped.keyID != current.keyID || wrapped.keyVersion < current.version
    }

    /// Whether `wrapped` should be re-wrapped (asks the provider for its current key).
    public func needsRewrap(_ wrapped: WrappedDataKey) async throws -> Bool {
        Self.needsRewrap(wrapped, current: try await currentKey())
    }

    /// `wrapped` re-wrapped under the provider's current key; returned unchanged if already current.
    /// The data key itself stays the same, so sealed fields need no change.
    public func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey {
        try await rewrap(wrapped, current: try await currentKey())
    }

    /// Like `rewrap(_:)`, with the current key already known (ask `currentKey()` once per batch).
    public func rewrap(_ wrapped: WrappedDataKey, current: KeyReference) async throws -> WrappedDataKey {
        guard Self.needsRewrap(wrapped, current: current) else { return wrapped }
        try availability.requireAvailable()
        let rewrapped = try await provider.rewrap(wrapped)
        if let cached = cache[wrapped] {
            cache[rewrapped] = cached
        }
        logger.debug(
            "re-wrapped a data key", metadata: ["from": .string(wrapped.label), "to": .string(rewrapped.label)])
        return rewrapped
    }

    /// Forgets the cached plaintext of one data key (one that was just replaced).
    public func forget(_ wrapped: WrappedDataKey) {
        cache[wrapped] = nil
    }

    /// Forgets every cached plaintext data key.
    public func clearCache() {
        cache.removeAll()
    }

    /// How many unwrapped data keys are cached (for tests and metrics).
    public var cachedKeyCount: Int { cache.count }

    private func remember(_ key: SymmetricKey, for wrapped: WrappedDataKey) {
        guard cacheCapacity > 0, cacheLifetime > .zero else { return }
        let instant = now()
        if cache.count >= cacheCapacity {
            cache = cache.filter { instant - $0.value.storedAt < cacheLifetime }
        }
        if cache.count >= cacheCapacity, let oldest = cache.min(by: { $0.value.storedAt < $1.value.storedAt }) {
            cache[oldest.key] = nil
        }
        cache[wrapped] = CachedKey(key: key, storedAt: instant)
    }

    // MARK: Fields

    /// Seals one secret field of the row `rowID` under its data key.
    ///
    /// Stored text: `"mse1:" + base64(nonce ‖ ciphertext ‖ tag)`, AES-256-GCM with additional authenticated
    /// data `"mse1" ‖ 0x00 ‖ row id (16 bytes) ‖ field name`. The prefix versions the format.
    public static func seal(_ plaintext: String, rowID: UUID, field: String, key: SymmetricKey) throws -> String {
        try SealedField.seal(plaintext, rowID: rowID, field: field, key: key)
    }

    /// Opens a sealed field. Fails with `SecretsError.decryptionFailed` when the key is wrong, the text
    /// was altered, or it was sealed for another row or field; with `.unknownFormat` for a newer format.
    /// - Parameters:
    ///   - integration: the row's public id, for the error message.
    ///   - keyID: the wrapping key as shown in errors; pass `wrapped.label` (e.g. `local:ab12cd34 v1`).
    public static func open(
        _ sealed: String, rowID: UUID, field: String, key: SymmetricKey, integration: String, keyID: String
    ) throws -> String {
        try SealedField.open(sealed, rowID: rowID, field: field, key: key, integration: integration, keyID: keyID)
    }

    /// Whether `text` is a sealed value (`mse<version>:<base64>`) rather than plaintext.
    public static func isSealed(_ text: String) -> Bool {
        SealedField.isSealed(text)
    }
}
