import Foundation
import Logging
import MoeenCore

/// Builds the configured key provider from the environment and proves it works.
///
/// `MOEEN_KEY_PROVIDER` selects `local` (default), `aws-kms` or `vault`:
/// - `local`: `MOEEN_MASTER_KEY` (keyring text, see `LocalKeyring`) or `MOEEN_MASTER_KEY_FILE` (a path,
///   relative to the working directory). In development with neither set, a key is generated once into
///   `<workingDirectory>/.moeen/master.key` (mode 0600) and reused; production refuses that file.
/// - `aws-kms`: `MOEEN_KMS_KEY_ID`, `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`,
///   `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`, optional `AWS_ENDPOINT_URL_KMS`.
/// - `vault`: `VAULT_ADDR`, `VAULT_TOKEN`, `MOEEN_VAULT_TRANSIT_KEY` (default `moeen`), optional `VAULT_NAMESPACE`.
///
/// Every problem is a `SecretsError.configuration` whose message names the setting to fix.
public enum KeyProviderFactory {
    /// The provider kinds `MOEEN_KEY_PROVIDER` accepts.
    public static let kinds = [LocalKeyProvider.kind, AWSKMSKeyProvider.kind, VaultTransitKeyProvider.kind]

    /// Where development generates its master key.
    public static func developmentKeyFile(workingDirectory: URL) -> URL {
        workingDirectory.appendingPathComponent(".moeen", isDirectory: true).appendingPathComponent("master.key")
    }

    /// The configured provider, after its start-up `check()` succeeded.
    public static func make(
        environment: [String: String],
        isProduction: Bool,
        workingDirectory: URL,
        transport: any HTTPTransport,
        logger: Logger
    ) async throws -> any KeyProvider {
        let provider = try build(
            environment: environment, isProduction: isProduction, workingDirectory: workingDirectory,
            transport: transport, logger: logger)
        do {
            try await provider.check()
        } catch let error as SecretsError {
            throw startupCheckFailure(error, kind: provider.kind)
        }
        logger.info("key provider ready", metadata: ["provider": .string(provider.kind)])
        return provider
    }

    /// The configured provider, built from its settings without calling it: every problem this throws
    /// (`SecretsError.configuration`) is one of configuration, which no retry can fix. Whether the provider
    /// answers is `check()`'s question, asked separately (see `KeyProviderMonitor`).
    public static func build(
        environment: [String: String],
        isProduction: Bool,
        workingDirectory: URL,
        transport: any HTTPTransport,
        logger: Logger
    ) throws -> any KeyProvider {
        let settings = Settings(environment)
        let kind = settings["MOEEN_KEY_PROVIDER"] ?? LocalKeyProvider.kind
        switch kind {
        case LocalKeyProvider.kind:
            return try localProvider(settings, isProduction: isProduction, workingDirectory: workingDirectory, logger: logger)
        case AWSKMSKeyProvider.kind:
            return AWSKMSKeyProvider(
                settings: try kmsSettings(settings, isProduction: isProduction), transport: transport, logger: logger)
        case VaultTransitKeyProvider.kind:
            return VaultTransitKeyProvider(
                settings: try vaultSettings(settings, isProduction: isProduction), transport: transport, logger: logger)
        default:
            throw SecretsError.configuration(
                "MOEEN_KEY_PROVIDER is \"\(ProviderHTTP.clip(kind, limit: 40))\"; set it to one of \(kinds.joined(separator: ", "))")
        }
    }

    /// The error that stops the start when the start-up check failed for a reason no retry can fix.
    public static func startupCheckFailure(_ error: SecretsError, kind: String) -> SecretsError {
        if case .configuration = error { return error }
        return SecretsError.configuration("the \(kind) key provider failed its start-up check (\(error)); \(hint(for: kind))")
    }

    /// Whether a failed start-up check may pass later without a change of configuration: a remote provider
    /// that could not be reached, answered with a temporary failure or refused (its token or policy can be
    /// fixed on the provider's side). The local provider's check is pure computation: its failures are final.
    public static func isRetryable(_ error: SecretsError, kind: String) -> Bool {
        guard kind != LocalKeyProvider.kind else { return false }
        switch error {
        case .providerUnavailable, .providerRejected, .decryptionFailed:
            return true
        case .configuration, .invalidKey, .unknownFormat, .unknownKeyVersion, .wrongProvider:
            return false
        }
    }

    private static func hint(for kind: String) -> String {
        switch kind {
        case AWSKMSKeyProvider.kind:
            "check MOEEN_KMS_KEY_ID, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_ENDPOINT_URL_KMS"
        case VaultTransitKeyProvider.kind:
            "check VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE and MOEEN_VAULT_TRANSIT_KEY"
        default:
            "check MOEEN_MASTER_KEY or MOEEN_MASTER_KEY_FILE"
        }
    }

    /// Environment values, blank ones treated as unset.
    private struct Settings {
        let values: [String: String]

        init(_ environment: [String: String]) {
            values = environment.compactMapValues { value in
                let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
                return trimmed.isEmpty ? nil : trimmed
            }
        }

        subscript(_ name: String) -> String? { values[name] }

        func required(_ names: [String], for kind: String) throws {
            let missing = names.filter { values[$0] == nil }
            guard missing.isEmpty else {
                throw SecretsError.configuration(
                    "MOEEN_KEY_PROVIDER=\(kind) needs \(missing.joined(separator: ", ")); set \(missing.count == 1 ? "it" : "them")")
            }
        }
    }

    // MARK: local

    private static func localProvider(
        _ settings: Settings, isProduction: Bool, workingDirectory: URL, logger: Logger
    ) throws -> LocalKeyProvider {
        let developmentFile = developmentKeyFile(workingDirectory: workingDirectory)
        switch (settings["MOEEN_MASTER_KEY"], settings["MOEEN_MASTER_KEY_FILE"]) {
        case (.some, .some):
            throw SecretsError.configuration("both MOEEN_MASTER_KEY and MOEEN_MASTER_KEY_FILE are set; set only one of them")
        case (.some(let text), nil):
            let keyring = try LocalKeyring(text: text, source: "MOEEN_MASTER_KEY")
            if isProduction, keyring.isDevelopmentKey {
                throw SecretsError.configuration(
                    "MOEEN_MASTER_KEY holds a development key; in production set it to a key generated for production (e.g. `openssl rand -base64 32`)")
            }
            return LocalKeyProvider(keyring: keyring)
        case (nil, .some(let path)):
            let url = localKeyFile(path: path, workingDirectory: workingDirectory)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw SecretsError.configuration("MOEEN_MASTER_KEY_FILE names \(url.path), which does not exist; create it or fix the path")
            }
            let provider = try LocalKeyProvider(
                keyFile: url, source: "MOEEN_MASTER_KEY_FILE (\(url.path))", logger: logger,
                accept: { keyring in
                    if isProduction, keyring.isDevelopmentKey {
                        throw SecretsError.configuration(
                            "MOEEN_MASTER_KEY_FILE names \(url.path), a development key generated by Moeen Hub; in production set "
                                + "MOEEN_MASTER_KEY or MOEEN_MASTER_KEY_FILE to a key generated for production (e.g. `openssl rand -base64 32`)")
                    }
                })
            warnIfReadableByOthers(url, logger: logger)
            return provider
        case (nil, nil):
            guard !isProduction else {
                let note = FileManager.default.fileExists(atPath: developmentFile.path)
                    ? " (the development key \(developmentFile.path) is never used in production)" : ""
                throw SecretsError.configuration(
                    "no master key: set MOEEN_MASTER_KEY to the base64 of 32 random bytes (e.g. `openssl rand -base64 32`) "
                        + "or MOEEN_MASTER_KEY_FILE to a file holding it, or choose MOEEN_KEY_PROVIDER=aws-kms or vault\(note)")
            }
            return try developmentProvider(at: developmentFile, logger: logger)
        }
    }

    /// The absolute location of `MOEEN_MASTER_KEY_FILE` (relative paths are taken from the working directory).
    public static func localKeyFile(path: String, workingDirectory: URL) -> URL {
        URL(fileURLWithPath: path, relativeTo: workingDirectory).standardizedFileURL
    }

    private static func developmentProvider(at file: URL, logger: Logger) throws -> LocalKeyProvider {
        let directory = file.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SecretsError.configuration(
                "could not create \(directory.path) for the development master key (\(error.localizedDescription)); "
                    + "set MOEEN_MASTER_KEY or MOEEN_MASTER_KEY_FILE instead")
        }
        do {
            try SecureFile.createDurably(at: file, contents: LocalKeyring.newKeyFileText(development: true))
            logger.warning(
                "⚠️ DEVELOPMENT MASTER KEY GENERATED at \(file.path): integration secrets are encrypted with it. Never use it in production; there, set MOEEN_MASTER_KEY, MOEEN_MASTER_KEY_FILE or another MOEEN_KEY_PROVIDER.")
        } catch is SecureFile.AlreadyExists {
            logger.warning(
                "⚠️ using the DEVELOPMENT MASTER KEY at \(file.path); production refuses it (set MOEEN_MASTER_KEY or MOEEN_MASTER_KEY_FILE)")
        }
        return try LocalKeyProvider(keyFile: file, source: "the development key file \(file.path)", logger: logger)
    }

    private static func warnIfReadableByOthers(_ url: URL, logger: Logger) {
        if let mode = SecureFile.permissions(of: url), mode & 0o077 != 0 {
            logger.warning(
                "the master key file is readable by other users; run chmod 600 on it",
                metadata: ["file": .string(url.path), "mode": .string(String(mode, radix: 8))])
        }
    }

    // MARK: remote

    private static func endpoint(_ text: String, variable: String, isProduction: Bool) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
            let host = url.host, !host.isEmpty
        else {
            throw SecretsError.configuration("\(variable) is not an http(s) URL; set it like https://host:port")
        }
        if isProduction, scheme == "http", !ProviderHTTP.isLoopback(host: host) {
            throw SecretsError.configuration("\(variable) uses http; in production set it to an https URL")
        }
        return url
    }

    private static func kmsSettings(_ settings: Settings, isProduction: Bool) throws -> AWSKMSKeyProvider.Settings {
        let kind = AWSKMSKeyProvider.kind
        try settings.required(["MOEEN_KMS_KEY_ID", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], for: kind)
        guard let region = settings["AWS_REGION"] ?? settings["AWS_DEFAULT_REGION"] else {
            throw SecretsError.configuration("MOEEN_KEY_PROVIDER=\(kind) needs AWS_REGION (or AWS_DEFAULT_REGION); set it")
        }
        guard region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw SecretsError.configuration("AWS_REGION is not a region name like eu-central-1")
        }
        let endpoint = try settings["AWS_ENDPOINT_URL_KMS"].map {
            try Self.endpoint($0, variable: "AWS_ENDPOINT_URL_KMS", isProduction: isProduction)
        }
        let credentials = AWSCredentials(
            accessKeyID: settings["AWS_ACCESS_KEY_ID"] ?? "",
            secretAccessKey: settings["AWS_SECRET_ACCESS_KEY"] ?? "",
            sessionToken: settings["AWS_SESSION_TOKEN"])
        return AWSKMSKeyProvider.Settings(
            keyID: settings["MOEEN_KMS_KEY_ID"] ?? "", region: region, credentials: credentials, endpoint: endpoint)
    }

    private static func vaultSettings(_ settings: Settings, isProduction: Bool) throws -> VaultTransitKeyProvider.Settings {
        try settings.required(["VAULT_ADDR", "VAULT_TOKEN"], for: VaultTransitKeyProvider.kind)
        let address = try endpoint(settings["VAULT_ADDR"] ?? "", variable: "VAULT_ADDR", isProduction: isProduction)
        let keyName = settings["MOEEN_VAULT_TRANSIT_KEY"] ?? "moeen"
        guard VaultTransitKeyProvider.isValidKeyName(keyName) else {
            throw SecretsError.configuration("MOEEN_VAULT_TRANSIT_KEY may hold only letters, digits, '-', '_' and '.'")
        }
        return VaultTransitKeyProvider.Settings(
            address: address, token: settings["VAULT_TOKEN"] ?? "", keyName: keyName, namespace: settings["VAULT_NAMESPACE"])
    }
}
