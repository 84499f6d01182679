import Crypto
import Foundation
import MoeenCore
import Synchronization
import Testing
@testable import MoeenSecrets

@Suite("Key files followed by running processes")
struct KeyFileFollowingTests {
    /// A provider following `file`, as `moeen serve` builds it.
    func follower(_ file: URL) throws -> LocalKeyProvider {
        try LocalKeyProvider(keyFile: file, source: "MOEEN_MASTER_KEY_FILE (\(file.path))", logger: quietLogger)
    }

    @Test("a process that loaded v1 unwraps data keys wrapped by v2, which another process added later, and wraps new ones under v2")
    func picksUpAddedVersion() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("master.key")
            try LocalKeyring.generateNewVersion(appendingTo: file)
            let running = try follower(file)
            let runningEngine = SecretsEngine(provider: running, logger: quietLogger)
            let (oldDataKey, oldWrapped) = try await runningEngine.newDataKey()
            #expect(oldWrapped.keyVersion == 1)

            // Another process (the rotation) adds v2 and re-wraps the data key under it.
            let pending = try LocalKeyring.prepareNewVersion(for: file)
            #expect(pending.version == 2)
            try LocalKeyring.add(pending, to: file)
            let rotator = try follower(file)
            let rewrapped = try await rotator.rewrap(oldWrapped)
            #expect(rewrapped.keyVersion == 2)
            #expect(rewrapped.keyID == pending.keyID)

            // The running process never restarted: it still opens the row, and new keys go under v2.
            #expect(try await runningEngine.unwrap(rewrapped, integration: "int_1") == oldDataKey)
            #expect(running.keyring.versions == [1, 2])
            #expect(try await runningEngine.newDataKey().wrapped.keyVersion == 2)
            #expect(try await running.currentKey().version == 2)
        }
    }

    @Test("a fixed keyring (MOEEN_MASTER_KEY) cannot learn new versions: the error says which versions it has")
    func fixedKeyringStays() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("master.key")
            try LocalKeyring.generateNewVersion(appendingTo: file)
            let fixed = LocalKeyProvider(keyring: try LocalKeyring(text: try String(contentsOf: file, encoding: .utf8), source: "MOEEN_MASTER_KEY"))
            try LocalKeyring.generateNewVersion(appendingTo: file)
            let wrapped = try await follower(file).generateDataKey().wrapped
            let error = await secretsError { _ = try await fixed.unwrap(wrapped) }
            guard case .unknownKeyVersion(_, _, let version, let available)? = error else {
                Issue.record("expected unknownKeyVersion, got \(String(describing: error))")
                return
            }
            #expect(version == 2)
            #expect(available == [1])
        }
    }

    @Test("a key file changed into something unloadable keeps the previous keys; fixed again, it is picked up")
    func brokenFileKeepsKeys() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("master.key")
            try LocalKeyring.generateNewVersion(appendingTo: file)
            let running = try follower(file)
            let good = try String(contentsOf: file, encoding: .utf8)
            try SecureFile.replace(at: file, contents: "v2:not-base64!!\n")
            #expect(running.reloadIfChanged() == false)
            #expect(running.keyring.versions == [1])
            #expect(try await running.generateDataKey().wrapped.keyVersion == 1)
            // The next look after the retry interval loads the repaired file.
            try SecureFile.replace(at: file, contents: good + "v2:\(randomMasterKey())\n")
            // A deadline, not a timing margin: the retry interval is 1 s; a loaded machine may take far longer.
            let deadline = ContinuousClock.now + .seconds(60)
            while running.keyring.versions != [1, 2], ContinuousClock.now < deadline {
                _ = running.reloadIfChanged()
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(running.keyring.versions == [1, 2])
        }
    }

    @Test("adding a version is refused if the file changed since it was prepared; nothing is lost")
    func addRefusesStalePlan() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("master.key")
            try LocalKeyring.generateNewVersion(appendingTo: file)
            let first = try LocalKeyring.prepareNewVersion(for: file)
            let second = try LocalKeyring.prepareNewVersion(for: file)
            try LocalKeyring.add(first, to: file)
            let error = await secretsError { try LocalKeyring.add(second, to: file) }
            #expect(error?.description.contains("changed meanwhile") == true)
            let ring = try follower(file).keyring
            #expect(ring.versions == [1, 2])
            #expect(ring.current.keyID == first.keyID)
            #expect(SecureFile.permissions(of: file) == 0o600)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
            #expect(leftovers.isEmpty)
        }
    }

    @Test("retiring removes an old version from the file (comments kept), never the current one; followers drop it")
    func removeVersion() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("master.key")
            try "# production key, rotated by moeen keys rotate\nv1:\(randomMasterKey())\n".write(to: file, atomically: true, encoding: .utf8)
            let running = try follower(file)
            let oldWrapped = try await running.generateDataKey().wrapped
            try LocalKeyring.generateNewVersion(appendingTo: file)

            let current = await secretsError { try LocalKeyring.removeVersion(2, from: file) }
            #expect(current?.description.contains("current key version") == true)
            let absent = await secretsError { try LocalKeyring.removeVersion(7, from: file) }
            #expect(absent?.description.contains("no key version v7") == true)

            try LocalKeyring.removeVersion(1, from: file)
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.hasPrefix("# production key"))
            #expect(!text.contains("v1:"))
            #expect(try follower(file).keyring.versions == [2])
            #expect(SecureFile.permissions(of: file) == 0o600)
            // The next time the running process looks at the file (before a wrap), it drops v1.
            #expect(try await running.currentKey().version == 2)
            #expect(running.keyring.versions == [2])
            let error = await secretsError { _ = try await running.unwrap(oldWrapped) }
            guard case .unknownKeyVersion(_, _, 1, let available)? = error else {
                Issue.record("expected unknownKeyVersion, got \(String(describing: error))")
                return
            }
            #expect(available == [2])
        }
    }
}

@Suite("Key provider availability and start-up retries")
struct KeyProviderAvailabilityTests {
    /// A real local provider behind a switch: its check fails (as a provider that cannot be reached) until `isUp`.
    final class SwitchedProvider: KeyProvider, Sendable {
        let inner: LocalKeyProvider
        let isUp = Mutex(false)
        let checks = Mutex(0)

        init() throws {
            inner = LocalKeyProvider(keyring: try LocalKeyring(text: randomMasterKey(), source: "MOEEN_MASTER_KEY"))
        }

        var kind: String { "vault" }
        func currentKey() async throws -> KeyReference { try await inner.currentKey() }
        func generateDataKey() async throws -> GeneratedDataKey { try await inner.generateDataKey() }
        func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey { try await inner.wrap(key) }
        func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey { try await inner.unwrap(wrapped) }
        func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey { try await inner.rewrap(wrapped) }
        func check() async throws {
            checks.withLock { $0 += 1 }
            guard isUp.withLock({ $0 }) else {
                throw SecretsError.providerUnavailable(provider: kind, reason: "connection refused (http://127.0.0.1:1)")
            }
        }
    }

    @Test("the backoff doubles from its start and never exceeds its cap")
    func backoff() {
        let backoff = KeyProviderMonitor.defaultBackoff
        #expect((1...8).map { backoff.ceiling(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
        #expect(RetryPolicy(base: .milliseconds(10), cap: .milliseconds(25)).ceiling(afterAttempt: 3) == .milliseconds(25))
    }

    @Test("until the provider is proven, the engine refuses every provider call naming the last check's finding; once it is, they work")
    func monitorRetriesUntilUp() async throws {
        let provider = try SwitchedProvider()
        let availability = KeyProviderAvailability(provider: "vault", state: .unavailable(reason: "its start-up check has not run yet"))
        let engine = SecretsEngine(provider: provider, logger: quietLogger, availability: availability)
        let monitor = KeyProviderMonitor(
            provider: provider, availability: availability,
            backoff: RetryPolicy(base: .milliseconds(20), cap: .milliseconds(100)), logger: quietLogger)

        guard case .failed(let error) = await monitor.checkNow() else {
            Issue.record("the check should fail while the provider is down")
            return
        }
        #expect(KeyProviderFactory.isRetryable(error, kind: "vault"))
        #expect(availability.problem?.contains("connection refused") == true)
        let refused = await secretsError { _ = try await engine.newDataKey() }
        guard case .providerUnavailable(let kind, let reason)? = refused else {
            Issue.record("expected providerUnavailable, got \(String(describing: refused))")
            return
        }
        #expect(kind == "vault")
        #expect(reason.contains("connection refused"))
        #expect(await secretsError { _ = try await engine.currentKey() } != nil)

        await monitor.start()
        #expect(await monitor.isRetrying)
        provider.isUp.withLock { $0 = true }
        let deadline = ContinuousClock.now + .seconds(30)
        while !availability.isAvailable, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(availability.isAvailable)
        #expect(availability.problem == nil)
        let (key, wrapped) = try await engine.newDataKey()
        await engine.clearCache()
        #expect(try await engine.unwrap(wrapped, integration: "int_1") == key)
        await monitor.stop()
        #expect(provider.checks.withLock { $0 } >= 2)
    }

    @Test("stop ends the retries of a provider that never comes up")
    func stopEndsRetries() async throws {
        let provider = try SwitchedProvider()
        let availability = KeyProviderAvailability(provider: "vault", state: .unavailable(reason: "not checked"))
        let monitor = KeyProviderMonitor(provider: provider, availability: availability, backoff: RetryPolicy(base: .seconds(60), cap: .seconds(60)), logger: quietLogger)
        await monitor.checkNow()
        await monitor.start()
        await monitor.stop()
        #expect(await monitor.isRetrying == false)
        #expect(!availability.isAvailable)
    }

    @Test("building a provider never calls it; only configuration errors come out of build, and the local provider's check failures are final")
    func buildIsOffline() async throws {
        try await withTemporaryDirectory { directory in
            let vault = try KeyProviderFactory.build(
                environment: ["MOEEN_KEY_PROVIDER": "vault", "VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "testing"],
                isProduction: false, workingDirectory: directory, transport: KeyProviderFactoryTests.NoNetwork(), logger: quietLogger)
            #expect(vault.kind == "vault")
            let down = await secretsError { try await vault.check() }
            #expect(down.map { KeyProviderFactory.isRetryable($0, kind: "vault") } == true)
            let missing = await secretsError {
                _ = try KeyProviderFactory.build(
                    environment: ["MOEEN_KEY_PROVIDER": "vault", "VAULT_TOKEN": "testing"], isProduction: false,
                    workingDirectory: directory, transport: KeyProviderFactoryTests.NoNetwork(), logger: quietLogger)
            }
            #expect(missing?.description.contains("VAULT_ADDR") == true)
            #expect(KeyProviderFactory.isRetryable(.configuration("x"), kind: "vault") == false)
            #expect(KeyProviderFactory.isRetryable(.decryptionFailed(integration: "", keyID: "local:1 v1", reason: "x"), kind: "local") == false)
        }
    }
}
