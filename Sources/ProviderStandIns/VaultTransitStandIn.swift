import Vapor

/// A local stand-in for HashiCorp Vault's transit secrets engine (mounted at `transit/`), for tests and
/// `moeen sandbox`: real AES-256-GCM under per-version keys, Vault's JSON shapes and error format.
///
/// Endpoints: `POST /v1/transit/datakey/plaintext/{key}`, `POST /v1/transit/encrypt/{key}`,
/// `POST /v1/transit/decrypt/{key}`, `POST /v1/transit/rewrap/{key}`, `GET /v1/transit/keys/{key}`,
/// `POST /v1/transit/keys/{key}` (create), `POST /v1/transit/keys/{key}/rotate`.
/// Every request needs `X-Vault-Token: <token>` (403 `{"errors":["permission denied"]}` otherwise)
/// and is recorded (without bodies' secrets being interpreted) for tests to inspect.
public actor VaultTransitStandIn {
    /// One request the stand-in received.
    public struct RecordedRequest: Sendable {
        public var method: String
        public var path: String
        public var token: String?
        public var namespace: String?
        public var body: String
    }

    /// The token clients must send.
    public nonisolated let token: String
    private var keys: [String: [SymmetricKey]] = [:]
    private var recorded: [RecordedRequest] = []
    private let logLevel: Logger.Level
    private var app: Application?

    /// - Parameters:
    ///   - token: the only accepted `X-Vault-Token` (an obviously fake value by default).
    ///   - keyNames: transit keys that exist from the start, each at version 1.
    ///   - logLevel: the server's log level (default `.warning`: no line per request).
    public init(token: String = "testing-vault-token", keyNames: [String] = ["moeen"], logLevel: Logger.Level = .warning) {
        self.token = token
        self.logLevel = logLevel
        for name in keyNames {
            keys[name] = [SymmetricKey(size: .bits256)]
        }
    }

    /// Starts listening on 127.0.0.1 on a free port; returns the base URL (the `VAULT_ADDR`).
    public func start() async throws -> URL {
        let app = try await Application.make(.testing)
        app.logger.logLevel = logLevel
        app.http.server.configuration.hostname = "127.0.0.1"
        app.http.server.configuration.port = 0
        routes(app)
        do {
            try await app.server.start(address: nil)
        } catch {
            try await app.asyncShutdown()
            throw error
        }
        self.app = app
        guard let port = app.http.server.shared.localAddress?.port,
            let url = URL(string: "http://127.0.0.1:\(port)")
        else {
            try await shutdown()
            throw Abort(.internalServerError, reason: "the Vault stand-in has no bound port")
        }
        return url
    }

    /// Stops the server.
    public func shutdown() async throws {
        guard let app else { return }
        self.app = nil
        await app.server.shutdown()
        try await app.asyncShutdown()
    }

    /// Every request received so far, oldest first.
    public func requests() -> [RecordedRequest] { recorded }

    /// The latest version of a transit key, nil if it does not exist.
    public func latestVersion(of name: String) -> Int? { keys[name]?.count }

    /// Adds a version to a transit key (as `POST …/keys/{key}/rotate` does); returns the new latest version.
    @discardableResult
    public func rotate(key name: String) -> Int {
        keys[name, default: []].append(SymmetricKey(size: .bits256))
        return keys[name, default: []].count
    }

    // MARK: Routing

    private enum Operation: Sendable {
        case datakey, encrypt, decrypt, rewrap, readKey, createKey, rotateKey
    }

    private struct Reply: Sendable {
        var status: HTTPResponseStatus
        var json: String
    }

    private nonisolated func routes(_ app: Application) {
        let transit: [PathComponent] = ["v1", "transit"]
        let table: [(HTTPMethod, [PathComponent], Operation)] = [
            (.POST, transit + ["datakey", "plaintext", ":key"], .datakey),
            (.POST, transit + ["encrypt", ":key"], .encrypt),
            (.POST, transit + ["decrypt", ":key"], .decrypt),
            (.POST, transit + ["rewrap", ":key"], .rewrap),
            (.GET, transit + ["keys", ":key"], .readKey),
            (.POST, transit + ["keys", ":key"], .createKey),
            (.POST, transit + ["keys", ":key", "rotate"], .rotateKey),
        ]
        for (method, path, operation) in table {
            app.on(method, path, body: .collect(maxSize: "64kb")) { [self] request async -> Response in
                let body = request.body.string ?? ""
                let reply = await self.handle(
                    operation,
                    key: request.parameters.get("key") ?? "",
                    record: RecordedRequest(
                        method: request.method.rawValue, path: request.url.path,
                        token: request.headers.first(name: "X-Vault-Token"),
                        namespace: request.headers.first(name: "X-Vault-Namespace"), body: body))
                var headers = HTTPHeaders()
                headers.contentType = .json
                return Response(status: reply.status, headers: headers, body: .init(string: reply.json))
            }
        }
    }

    private func handle(_ operation: Operation, key name: String, record: RecordedRequest) -> Reply {
        recorded.append(record)
        guard record.token == token else { return Self.error(.forbidden, "permission denied") }
        let input = (try? JSONDecoder().decode(Input.self, from: Data(record.body.utf8))) ?? Input()
        switch operation {
        case .createKey:
            if keys[name] == nil { keys[name] = [SymmetricKey(size: .bits256)] }
            return Reply(status: .noContent, json: "")
        case .rotateKey:
            guard keys[name] != nil else { return Self.error(.notFound, "no existing key named \(name) could be found") }
            rotate(key: name)
            return Reply(status: .noContent, json: "")
        case .readKey:
            guard let versions = keys[name] else { return Reply(status: .notFound, json: #"{"errors":[]}"#) }
            return Self.data([
                "name": .string(name), "type": .string("aes256-gcm96"),
                "latest_version": .int(versions.count), "min_decryption_version": .int(1),
            ])
        case .datakey:
            guard keys[name] != nil else { return Self.error(.badRequest, "encryption key not found") }
            let plaintext = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            guard let ciphertext = encrypt(plaintext, key: name) else { return Self.error(.internalServerError, "encryption failed") }
            return Self.data([
                "plaintext": .string(Data(plaintext).base64EncodedString()), "ciphertext": .string(ciphertext),
                "key_version": .int(keys[name]?.count ?? 0),
            ])
        case .encrypt:
            guard let text = input.plaintext, let plaintext = Data(base64Encoded: text) else {
                return Self.error(.badRequest, "failed to base64-decode plaintext")
            }
            if keys[name] == nil { keys[name] = [SymmetricKey(size: .bits256)] }  // Vault upserts on encrypt
            guard let ciphertext = encrypt(Array(plaintext), key: name) else { return Self.error(.internalServerError, "encryption failed") }
            return Self.data(["ciphertext": .string(ciphertext), "key_version": .int(keys[name]?.count ?? 0)])
        case .decrypt, .rewrap:
            guard keys[name] != nil else { return Self.error(.badRequest, "encryption key not found") }
            guard let ciphertext = input.ciphertext else { return Self.error(.badRequest, "missing ciphertext to decrypt") }
            let plaintext: [UInt8]
            switch decrypt(ciphertext, key: name) {
            case .success(let bytes): plaintext = bytes
            case .failure(let failure): return Self.error(.badRequest, failure.message)
            }
            if operation == .decrypt {
                return Self.data(["plaintext": .string(Data(plaintext).base64EncodedString())])
            }
            guard let rewrapped = encrypt(plaintext, key: name) else { return Self.error(.internalServerError, "encryption failed") }
            return Self.data(["ciphertext": .string(rewrapped), "key_version": .int(keys[name]?.count ?? 0)])
        }
    }

    // MARK: Crypto

    private struct Input: Decodable {
        var plaintext: String?
        var ciphertext: String?
    }

    private struct Failure: Error {
        var message: String
    }

    /// `vault:vN:` + base64(nonce ‖ ciphertext ‖ tag), AAD = key name + version.
    private func encrypt(_ plaintext: [UInt8], key name: String) -> String? {
        guard let versions = keys[name], let key = versions.last else { return nil }
        let version = versions.count
        guard let box = try? AES.GCM.seal(plaintext, using: key, authenticating: Self.aad(name, version)),
            let combined = box.combined
        else { return nil }
        return "vault:v\(version):" + combined.base64EncodedString()
    }

    private func decrypt(_ ciphertext: String, key name: String) -> Result<[UInt8], Failure> {
        let parts = ciphertext.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "vault", parts[1].hasPrefix("v"), let version = Int(parts[1].dropFirst()) else {
            return .failure(Failure(message: "invalid ciphertext: no prefix"))
        }
        guard let versions = keys[name], version >= 1, version <= versions.count else {
            return .failure(Failure(message: "invalid ciphertext: key version not found"))
        }
        guard let bytes = Data(base64Encoded: String(parts[2])),
            let box = try? AES.GCM.SealedBox(combined: bytes),
            let plaintext = try? AES.GCM.open(box, using: versions[version - 1], authenticating: Self.aad(name, version))
        else {
            return .failure(Failure(message: "cipher: message authentication failed"))
        }
        return .success(Array(plaintext))
    }

    private static func aad(_ name: String, _ version: Int) -> [UInt8] {
        Array("\(name)\u{0}v\(version)".utf8)
    }

    // MARK: JSON

    private enum Field: Encodable {
        case string(String)
        case int(Int)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .int(let value): try container.encode(value)
            }
        }
    }

    private static func data(_ fields: [String: Field]) -> Reply {
        Reply(status: .ok, json: encode(["data": fields]))
    }

    private static func error(_ status: HTTPResponseStatus, _ message: String) -> Reply {
        Reply(status: status, json: encode(["errors": [message]]))
    }

    private static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(value) else { return #"{"errors":["internal error"]}"# }
        return String(decoding: data, as: UTF8.self)
    }
}
