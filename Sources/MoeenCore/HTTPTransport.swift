import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One outbound HTTP request, independent of any HTTP library.
public struct OutboundRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Total time allowed for the whole exchange (connect + send + receive).
    public var timeout: Duration
    /// The address to connect to instead of resolving the URL's host name again: the one
    /// `OutboundTargetPolicy.approve` checked. The request still names the host (`Host` header, TLS
    /// server name and certificate check). `nil` lets the transport resolve the name itself.
    /// For a URL whose host is an address literal it must be that address.
    public var connectAddress: IPAddress?

    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        timeout: Duration = .seconds(15),
        connectAddress: IPAddress? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectAddress = connectAddress
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// One inbound HTTP response, body already read (up to the transport's limit).
public struct InboundResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request produced no HTTP response. The associated texts never hold a URL's path or query
/// (which may be a credential, as a Slack webhook's is): at most scheme, host and port.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The total timeout ran out.
    case timedOut
    /// No connection could be made (refused, DNS failure, connect timeout).
    case connectFailed(String)
    /// The connection broke before a complete response arrived.
    case connectionLost(String)
    /// The response body exceeded the limit.
    case responseTooLarge(limit: Int)
    /// The URL could not be used; the text is the URL's scheme, host and port only.
    case invalidURL(String)
    /// The outbound allow-list (or another transport rule) refused the host; nothing was sent.
    case notAllowed(host: String, reason: String)

    public var description: String {
        switch self {
        case .timedOut: "the request timed out"
        case .connectFailed(let reason): "could not connect: \(reason)"
        case .connectionLost(let reason): "the connection was lost: \(reason)"
        case .responseTooLarge(let limit): "the response was larger than \(limit) bytes"
        case .invalidURL(let endpoint): "invalid URL: \(endpoint)"
        case .notAllowed(let host, let reason): "calls to \(host) are not allowed: \(reason)"
        }
    }
}

/// The seam between our clients (connectors, key providers) and the network.
/// The live form is `AsyncHTTPClientTransport`; tests use it too, against local stand-in servers.
public protocol HTTPTransport: Sendable {
    func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse
}

/// `HTTPTransport` over AsyncHTTPClient, with a connect timeout and a response size limit.
///
/// A request with a `connectAddress` and a host name goes through a client whose `dnsOverride` maps
/// that name to that address, so the connection reaches the approved address while the `Host` header,
/// SNI and certificate validation keep the name. Those clients are kept per (host, address), at most
/// `pinnedClientLimit` of them (least recently used ones are shut down first), and share the event
/// loop group. Requests without a `connectAddress`, or to an address literal, use `client`.
/// Call `shutdown()` once, when no more requests will be sent.
public final class AsyncHTTPClientTransport: HTTPTransport {
    /// The client for requests that need no pinning.
    public let client: HTTPClient
    public let maxResponseBytes: Int
    /// Whether `shutdown()` shuts `client` down too (it was created here).
    private let ownsClient: Bool
    private let pinned: PinnedClientPool

    /// A transport over an existing client, which the caller keeps and shuts down.
    /// `configuration` is what pinned clients are made with: pass the one `client` was made with
    /// when it differs from `makeConfiguration()`.
    public init(
        client: HTTPClient,
        configuration: HTTPClient.Configuration = AsyncHTTPClientTransport.makeConfiguration(),
        maxResponseBytes: Int = 1 << 20,
        pinnedClientLimit: Int = 32
    ) {
        self.client = client
        self.maxResponseBytes = maxResponseBytes
        self.ownsClient = false
        self.pinned = PinnedClientPool(
            eventLoopGroup: client.eventLoopGroup, configuration: configuration, limit: pinnedClientLimit)
    }

    /// A transport that owns all its clients; `shutdown()` shuts every one of them down.
    public init(
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration = AsyncHTTPClientTransport.makeConfiguration(),
        maxResponseBytes: Int = 1 << 20,
        pinnedClientLimit: Int = 32
    ) {
        self.client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
        self.maxResponseBytes = maxResponseBytes
        self.ownsClient = true
        self.pinned = PinnedClientPool(
            eventLoopGroup: eventLoopGroup, configuration: configuration, limit: pinnedClientLimit)
    }

    /// The configuration every provider call uses: connect timeout (5 s), no redirects, no decompression.
    public static func makeConfiguration(connectTimeout: TimeAmount = .seconds(5)) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: connectTimeout)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        return configuration
    }

    /// A client configured with the connect timeout every provider call uses (5 s), no redirects.
    public static func makeClient(
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup,
        connectTimeout: TimeAmount = .seconds(5)
    ) -> HTTPClient {
        HTTPClient(eventLoopGroup: eventLoopGroup, configuration: makeConfiguration(connectTimeout: connectTimeout))
    }

    /// Shuts down the pinned clients and, when this transport created it, `client`. Requests sent
    /// afterwards fail with `connectFailed`. Safe to call more than once.
    public func shutdown() async {
        for client in await pinned.shutDown() {
            try? await client.shutdown()
        }
        if ownsClient {
            try? await client.shutdown()
        }
    }

    /// How many pinned clients are kept now (for tests and diagnostics).
    public var pinnedClientCount: Int {
        get async { await pinned.count }
    }

    public func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse {
        switch try Self.route(request) {
        case .shared:
            return try await execute(request, on: client)
        case .pinned(let key):
            guard let lease = await pinned.checkOut(key) else {
                throw .connectFailed("the HTTP transport is shut down")
            }
            await Self.shutDown(lease.evicted)
            let result: Result<InboundResponse, TransportError>
            do throws(TransportError) {
                result = .success(try await execute(request, on: lease.client))
            } catch {
                result = .failure(error)
            }
            await Self.shutDown(await pinned.checkIn(key))
            return try result.get()
        }
    }

    enum Route: Equatable {
        case shared
        case pinned(PinnedClientPool.Key)
    }

    /// Which client carries `request`: a pinned one for a host name with a connect address.
    static func route(_ request: OutboundRequest) throws(TransportError) -> Route {
        guard let address = request.connectAddress else { return .shared }
        // AsyncHTTPClient reads the host with `URL(string:)`; the override must use the same spelling.
        guard let url = URL(string: request.url), let rawHost = url.host, !rawHost.isEmpty else {
            throw .invalidURL(Redactor.endpoint(of: request.url))
        }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        if let literal = IPAddress(host) {
            guard literal == address else {
                throw .notAllowed(host: host, reason: "the URL's address is not the approved address \(address)")
            }
            return .shared
        }
        return .pinned(.init(host: host, address: address))
    }

    private static func shutDown(_ clients: [HTTPClient]) async {
        for client in clients {
            try? await client.shutdown()
        }
    }

    private func execute(_ request: OutboundRequest, on client: HTTPClient) async throws(TransportError)
        -> InboundResponse
    {
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers {
            outbound.headers.add(name: name, value: value)
        }
        if let body = request.body {
            outbound.body = .bytes(ByteBuffer(bytes: body))
        }
        let limit = maxResponseBytes
        let deadline = NIODeadline.now() + .nanoseconds(Int64(request.timeout.components.seconds) * 1_000_000_000
            + request.timeout.components.attoseconds / 1_000_000_000)
        do {
            let response = try await client.execute(outbound, deadline: deadline)
            var collected = try await response.body.collect(upTo: limit)
            let bytes = collected.readBytes(length: collected.readableBytes) ?? []
            return InboundResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: bytes
            )
        } catch let error as HTTPClientError {
            throw Self.map(error, limit: limit, url: request.url)
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw .responseTooLarge(limit: limit)
        } catch let error as ChannelError {
            throw .connectFailed(Self.reason(error, url: request.url))
        } catch {
            if NIODeadline.now() >= deadline { throw .timedOut }
            throw .connectionLost(Self.reason(error, url: request.url))
        }
    }

    static func map(_ error: HTTPClientError, limit: Int, url: String) -> TransportError {
        switch error {
        case .deadlineExceeded, .readTimeout, .writeTimeout:
            return .timedOut
        case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
            return .connectFailed(error.shortDescription)
        case .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath:
            return .invalidURL(Redactor.endpoint(of: url))
        case .remoteConnectionClosed, .cancelled:
            return .connectionLost(error.shortDescription)
        default:
            if error.shortDescription == HTTPClientError.unsupportedScheme("").shortDescription {
                return .invalidURL(Redactor.endpoint(of: url))
            }
            return .connectionLost(error.shortDescription)
        }
    }

    /// An error's description with the URL, and its path and query, taken out.
    static func reason(_ error: any Error, url: String) -> String {
        Redactor.removingURL(url, from: String(describing: error))
    }
}
