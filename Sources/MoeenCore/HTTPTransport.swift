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

    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        timeout: Duration = .seconds(15)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
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

/// Why a request produced no HTTP response.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The total timeout ran out.
    case timedOut
    /// No connection could be made (refused, DNS failure, connect timeout).
    case connectFailed(String)
    /// The connection broke before a complete response arrived.
    case connectionLost(String)
    /// The response body exceeded the limit.
    case responseTooLarge(limit: Int)
    /// The URL could not be used.
    case invalidURL(String)

    public var description: String {
        switch self {
        case .timedOut: "the request timed out"
        case .connectFailed(let reason): "could not connect: \(reason)"
        case .connectionLost(let reason): "the connection was lost: \(reason)"
        case .responseTooLarge(let limit): "the response was larger than \(limit) bytes"
        case .invalidURL(let url): "invalid URL: \(url)"
        }
    }
}

/// The seam between our clients (connectors, key providers) and the network.
/// The live form is `AsyncHTTPClientTransport`; tests use it too, against local stand-in servers.
public protocol HTTPTransport: Sendable {
    func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse
}

/// `HTTPTransport` over AsyncHTTPClient, with a connect timeout and a response size limit.
public struct AsyncHTTPClientTransport: HTTPTransport {
    public let client: HTTPClient
    public let maxResponseBytes: Int

    public init(client: HTTPClient, maxResponseBytes: Int = 1 << 20) {
        self.client = client
        self.maxResponseBytes = maxResponseBytes
    }

    /// A client configured with the connect timeout every provider call uses (5 s), no redirects.
    public static func makeClient(
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup,
        connectTimeout: TimeAmount = .seconds(5)
    ) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: connectTimeout)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    public func send(_ request: OutboundRequest) async throws(TransportError) -> InboundResponse {
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
            throw .connectFailed(String(describing: error))
        } catch {
            if NIODeadline.now() >= deadline { throw .timedOut }
            throw .connectionLost(String(describing: error))
        }
    }

    static func map(_ error: HTTPClientError, limit: Int, url: String) -> TransportError {
        switch error {
        case .deadlineExceeded, .readTimeout, .writeTimeout:
            return .timedOut
        case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
            return .connectFailed(String(describing: error))
        case .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath:
            return .invalidURL(url)
        case .remoteConnectionClosed, .cancelled:
            return .connectionLost(String(describing: error))
        default:
            if String(describing: error).contains("unsupportedScheme") { return .invalidURL(url) }
            return .connectionLost(String(describing: error))
        }
    }
}
