import Crypto
import Foundation
import Logging
import Synchronization

/// The `local` key provider: data keys wrapped with AES-256-GCM under a master key kept in the
/// environment (`MOEEN_MASTER_KEY`) or a file (`MOEEN_MASTER_KEY_FILE`); see `LocalKeyring`.
///
/// Wrapped form: `nonce (12) ‖ ciphertext (32) ‖ tag (16)`, with additional authenticated data
/// `"moeen-local-wrap" ‖ 0x00 ‖ key id ‖ 0x00 ‖ "v" + version`, so a wrapped key cannot be relabelled.
///
/// With a key file, a running process picks up versions another process added (`moeen keys rotate`) or
/// removed (`moeen keys retire`) without a restart: before wrapping, and when a data key names a key it
/// does not have, it looks at the file (one `stat`) and reloads it if it changed (see `KeyringSource`).
public struct LocalKeyProvider: KeyProvider {
    public static let kind = "local"
    public var kind: String { Self.kind }

    private let source: KeyringSource

    /// The master keys, as loaded now.
    public var keyring: LocalKeyring { source.keyring }

    /// The key file this provider follows, if its keys came from one.
    public var keyFile: URL? { source.file }

    /// A fixed keyring (e.g. from `MOEEN_MASTER_KEY`).
    public init(keyring: LocalKeyring) {
        source = KeyringSource(keyring: keyring)
    }

    /// Keys read from `file` and reloaded whenever the file changes.
    /// - Parameters:
    ///   - source: how errors name the file (e.g. `MOEEN_MASTER_KEY_FILE (/etc/moeen/master.key)`).
    ///   - accept: checks a (re)loaded keyring, e.g. refusing a development key in production; a keyring it
    ///     rejects is not used (at start the error is thrown, on reload the previous keys stay).
    public init(
        keyFile file: URL, source: String, logger: Logger,
        accept: @escaping @Sendable (LocalKeyring) throws -> Void = { _ in }
    ) throws {
        self.source = try KeyringSource(file: file, name: source, logger: logger, accept: accept)
    }

    public func currentKey() async throws -> KeyReference {
        let current = source.refreshed().current
        return KeyReference(provider: kind, keyID: current.keyID, version: current.version)
    }

    public func generateDataKey() async throws -> GeneratedDataKey {
        let key = SymmetricKey(size: .bits256)
        return GeneratedDataKey(key: key, wrapped: try wrapNow(key))
    }

    public func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey {
        try wrapNow(key)
    }

    public func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey {
        try requireOwn(wrapped)
        var ring = source.keyring
        if ring.entry(keyID: wrapped.keyID) == nil {
            // Another process may have added this version to the key file since we loaded it.
            ring = source.refreshed()
        }
        let entry: LocalKeyring.Entry
        if let byID = ring.entry(keyID: wrapped.keyID) {
            entry = byID
        } else if let byVersion = ring.entry(version: wrapped.keyVersion) {
            throw SecretsError.decryptionFailed(
                integration: "", keyID: wrapped.label,
                reason: "the master key is wrong: the configured v\(byVersion.version) is \(byVersion.keyID), "
                    + "but this data key was wrapped by \(wrapped.keyID) (was MOEEN_MASTER_KEY replaced instead of rotated?)")
        } else {
            throw SecretsError.unknownKeyVersion(
                provider: kind, keyID: wrapped.keyID, version: wrapped.keyVersion, available: ring.versions)
        }
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.ciphertext)
            let bytes = try AES.GCM.open(
                box, using: entry.key,
                authenticating: Self.additionalData(keyID: wrapped.keyID, version: wrapped.keyVersion))
            return try requireDataKey(Array(bytes), from: kind)
        } catch let error as SecretsError {
            throw error
        } catch {
            throw SecretsError.decryptionFailed(
                integration: "", keyID: wrapped.label,
                reason: "the wrapped data key did not open: the key is wrong or the data was altered")
        }
    }

    public func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey {
        try wrapNow(try await unwrap(wrapped))
    }

    public func check() async throws {
        try await roundTripCheck()
    }

    /// Reloads the key file now if it changed (for a process that has just written it).
    /// - Returns: whether other keys were loaded.
    @discardableResult
    public func reloadIfChanged() -> Bool {
        source.reloadIfChanged()
    }

    private func wrapNow(_ key: SymmetricKey) throws -> WrappedDataKey {
        guard key.bitCount == 256 else {
            throw SecretsError.invalidKey("data keys must be 256 bits, this one has \(key.bitCount)")
        }
        // New data keys go under the newest version, even one added by another process a moment ago.
        let current = source.refreshed().current
        do {
            let box = try AES.GCM.seal(
                key.bytes, using: current.key, nonce: AES.GCM.Nonce(),
                authenticating: Self.additionalData(keyID: current.keyID, version: current.version))
            guard let combined = box.combined else {
                throw SecretsError.invalidKey("wrapping produced no combined form")
            }
            return WrappedDataKey(
                provider: kind, keyID: current.keyID, keyVersion: current.version, ciphertext: Array(combined))
        } catch let error as SecretsError {
            throw error
        } catch {
            throw SecretsError.invalidKey("wrapping failed: \(error)")
        }
    }

    private static func additionalData(keyID: String, version: Int) -> [UInt8] {
        Array("moeen-local-wrap".utf8) + [0] + Array(keyID.utf8) + [0] + Array("v\(version)".utf8)
    }
}

/// Where a local provider's keyring comes from: fixed text, or a key file it follows.
///
/// Following a file costs one `stat` per look (before each wrap, and when a data key names a key the
/// loaded keyring lacks); the file is read again only when its identity (device, inode, size, modification
/// time) changed. A changed file that does not load (a half-edited file, a development key in production)
/// keeps the previous keys, is logged, and is tried again at most once a second, so a broken file is not
/// re-read for every request.
final class KeyringSource: Sendable {
    private struct State {
        var keyring: LocalKeyring
        /// The identity of the file the keyring was read from (or last failed to load).
        var identity: SecureFile.Identity?
        /// When a changed file last failed to load.
        var failedAt: ContinuousClock.Instant?
    }

    let file: URL?
    private let name: String
    private let logger: Logger?
    private let accept: @Sendable (LocalKeyring) throws -> Void
    private let state: Mutex<State>
    static let retryInterval: Duration = .seconds(1)

    init(keyring: LocalKeyring) {
        file = nil
        name = "MOEEN_MASTER_KEY"
        logger = nil
        accept = { _ in }
        state = Mutex(State(keyring: keyring, identity: nil, failedAt: nil))
    }

    init(file: URL, name: String, logger: Logger, accept: @escaping @Sendable (LocalKeyring) throws -> Void) throws {
        self.file = file
        self.name = name
        self.logger = logger
        self.accept = accept
        let identity = SecureFile.identity(of: file)
        let keyring = try LocalKeyring(text: try SecureFile.read(file), source: name)
        try accept(keyring)
        state = Mutex(State(keyring: keyring, identity: identity, failedAt: nil))
    }

    var keyring: LocalKeyring { state.withLock { $0.keyring } }

    /// The keyring after reloading the file if it changed.
    func refreshed() -> LocalKeyring {
        reloadIfChanged()
        return keyring
    }

    /// Reloads the file if its identity changed; returns whether a new keyring is in use.
    @discardableResult
    func reloadIfChanged() -> Bool {
        guard let file, let identity = SecureFile.identity(of: file) else { return false }
        let due = state.withLock { state -> Bool in
            guard state.identity != identity else { return false }
            if let failedAt = state.failedAt, ContinuousClock.now - failedAt < Self.retryInterval { return false }
            return true
        }
        guard due else { return false }
        do {
            let keyring = try LocalKeyring(text: try SecureFile.read(file), source: name)
            try accept(keyring)
            let versions = keyring.versions.map { "v\($0)" }.joined(separator: ", ")
            state.withLock { $0 = State(keyring: keyring, identity: identity, failedAt: nil) }
            logger?.notice(
                "master key file reloaded", metadata: ["file": .string(file.path), "versions": .string(versions),
                                                       "current": .string("\(keyring.current.keyID) v\(keyring.current.version)")])
            return true
        } catch {
            state.withLock { $0.failedAt = .now }
            logger?.error(
                "the master key file changed but could not be loaded; the previous keys stay in use",
                metadata: ["file": .string(file.path), "error": .string(String(describing: error))])
            return false
        }
    }
}
