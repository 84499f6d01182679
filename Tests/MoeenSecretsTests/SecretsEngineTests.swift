import Crypto
import Foundation
import Testing
@testable import MoeenSecrets

@Suite("Secrets engine")
struct SecretsEngineTests {
    /// A clock the test moves by hand.
    final class ManualClock: @unchecked Sendable {
        private let lock = NSLock()
        private var current = ContinuousClock.now

        var now: ContinuousClock.Instant {
            lock.lock()
            defer { lock.unlock() }
            return current
        }

        func advance(_ duration: Duration) {
            lock.lock()
            current += duration
            lock.unlock()
        }
    }

    func provider() throws -> CountingProvider {
        CountingProvider(LocalKeyProvider(keyring: try LocalKeyring(text: randomMasterKey(), source: "MOEEN_MASTER_KEY")))
    }

    @Test("a whole row: new data key, seal fields, unwrap, open")
    func envelope() async throws {
        let engine = SecretsEngine(provider: try provider(), logger: quietLogger)
        let rowID = UUID()
        let (key, wrapped) = try await engine.newDataKey()
        let sealed = try SecretsEngine.seal("testing-token", rowID: rowID, field: "token", key: key)
        await engine.clearCache()
        let unwrapped = try await engine.unwrap(wrapped, integration: "int_1")
        #expect(try SecretsEngine.open(sealed, rowID: rowID, field: "token", key: unwrapped, integration: "int_1", keyID: wrapped.label)
            == "testing-token")
    }

    @Test("unwrapped data keys are cached until they expire")
    func cacheLifetime() async throws {
        let counting = try provider()
        let clock = ManualClock()
        let engine = SecretsEngine(
            provider: counting, logger: quietLogger, cacheLifetime: .seconds(300), now: { clock.now })
        let wrapped = try await counting.generateDataKey().wrapped
        _ = try await engine.unwrap(wrapped, integration: "int_1")
        _ = try await engine.unwrap(wrapped, integration: "int_1")
        #expect(counting.unwrapCount == 1)
        clock.advance(.seconds(299))
        _ = try await engine.unwrap(wrapped, integration: "int_1")
        #expect(counting.unwrapCount == 1)
        clock.advance(.seconds(2))
        _ = try await engine.unwrap(wrapped, integration: "int_1")
        #expect(counting.unwrapCount == 2)
    }

    @Test("the cache holds at most its capacity, dropping the oldest entry")
    func cacheCapacity() async throws {
        let counting = try provider()
        let clock = ManualClock()
        let engine = SecretsEngine(provider: counting, logger: quietLogger, cacheCapacity: 3, now: { clock.now })
        var wrappedKeys: [WrappedDataKey] = []
        for _ in 0..<4 {
            wrappedKeys.append(try await counting.generateDataKey().wrapped)
        }
        for wrapped in wrappedKeys {
            clock.advance(.seconds(1))
            _ = try await engine.unwrap(wrapped, integration: "int_1")
        }
        #expect(await engine.cachedKeyCount == 3)
        #expect(counting.unwrapCount == 4)
        _ = try await engine.unwrap(wrappedKeys[3], integration: "int_1")
        #expect(counting.unwrapCount == 4)
        _ = try await engine.unwrap(wrappedKeys[0], integration: "int_1")
        #expect(counting.unwrapCount == 5)
    }

    @Test("a failed unwrap is logged with the integration and key, never the key material")
    func failureLogging() async throws {
        let recorder = LogRecorder()
        let masterKey = randomMasterKey()
        let provider = LocalKeyProvider(keyring: try LocalKeyring(text: masterKey, source: "MOEEN_MASTER_KEY"))
        let engine = SecretsEngine(provider: provider, logger: recorder.logger)
        let (dataKey, wrapped) = try await engine.newDataKey()
        var altered = wrapped
        altered.ciphertext[0] ^= 1
        let error = await secretsError { _ = try await engine.unwrap(altered, integration: "int_3") }
        #expect(error != nil)
        let logged = recorder.entries.map(\.text).joined(separator: "\n")
        #expect(logged.contains("int_3"))
        #expect(logged.contains(wrapped.label))
        #expect(!logged.contains(masterKey))
        #expect(!logged.contains(dataKey.withUnsafeBytes { Data($0).base64EncodedString() }))
    }
}
