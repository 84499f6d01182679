import Foundation
import MoeenCore

/// HTTP helpers shared by the remote key providers.
enum ProviderHTTP {
    /// Sends `request`; a transport failure becomes `SecretsError.providerUnavailable`.
    static func send(_ request: OutboundRequest, provider: String, over transport: any HTTPTransport) async throws
        -> InboundResponse
    {
        do {
            return try await transport.send(request)
        } catch {
            throw SecretsError.providerUnavailable(provider: provider, reason: "\(error) (\(endpointDescription(request.url)))")
        }
    }

    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    /// Decodes a successful response body; a malformed body becomes `providerUnavailable`.
    static func decode<T: Decodable>(_ type: T.Type, from response: InboundResponse, provider: String, call: String)
        throws -> T
    {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw SecretsError.providerUnavailable(
                provider: provider, reason: "\(call) answered with a body that is not the expected JSON")
        }
    }

    /// Scheme, host and port of a URL, for messages (never the path or query).
    static func endpointDescription(_ url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return "invalid URL" }
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(components.scheme ?? "?")://\(host)\(port)"
    }

    /// Text from a provider shortened for an error message.
    static func clip(_ text: String, limit: Int = 300) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    /// `localhost` or a loopback address literal, decided from the parsed address (`127.evil.example` is not).
    static func isLoopback(host: String) -> Bool {
        IPAddress.isLoopbackHost(host)
    }
}
