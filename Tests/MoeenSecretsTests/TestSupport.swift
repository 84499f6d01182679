import Crypto
import Foundation
import Logging
import MoeenCore
@testable import MoeenSecrets

/// A logger that drops everything.
let quietLogger = Logger(label: "moeen.secrets.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs `body` with a fresh temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("moeen-secrets-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// Runs `body` with a live HTTP transport, shut down afterwards.
func withTransport<T>(_ body: (AsyncHTTPClientTransport) async throws -> T) async throws -> T {
    let client = AsyncHTTPClientTransport.makeClient()
    let transport = AsyncHTTPClientTransport(client: client)
    do {
        let result = try await body(transport)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// The error `body` throws, as a `SecretsError` (nil if it throws nothing or something else).
func secretsError(_ body: () async throws -> Void) async -> SecretsError? {
    do {
        try await body()
        return nil
    } catch let error as SecretsError {
        return error
    } catch {
        return nil
    }
}

/// Base64 of 32 fresh random bytes: a master key for tests.
func randomMasterKey() -> String {
    SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
}

/// Collects log lines, to check what is (and is not) logged.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(level: Logger.Level, text: String)] = []

    var logger: Logger {
        Logger(label: "moeen.secrets.tests") { _ in Handler(recorder: self) }
    }

    var entries: [(level: Logger.Level, text: String)] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    fileprivate func append(_ level: Logger.Level, _ text: String) {
        lock.lock()
        lines.append((level, text))
        lock.unlock()
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            recorder.append(event.level, "\(event.message) \(merged)")
        }
    }
}

/// A provider that counts unwraps, around a real local provider.
final class CountingProvider: KeyProvider, @unchecked Sendable {
    let inner: LocalKeyProvider
    private let lock = NSLock()
    private var unwraps = 0

    init(_ inner: LocalKeyProvider) { self.inner = inner }

    var unwrapCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return unwraps
    }

    var kind: String { inner.kind }
    func currentKey() async throws -> KeyReference { try await inner.currentKey() }
    func generateDataKey() async throws -> GeneratedDataKey { try await inner.generateDataKey() }
    func wrap(_ key: SymmetricKey) async throws -> WrappedDataKey { try await inner.wrap(key) }
    func unwrap(_ wrapped: WrappedDataKey) async throws -> SymmetricKey {
        lock.withLock { unwraps += 1 }
        return try await inner.unwrap(wrapped)
    }
    func rewrap(_ wrapped: WrappedDataKey) async throws -> WrappedDataKey { try await inner.rewrap(wrapped) }
    func check() async throws { try await inner.check() }
}
