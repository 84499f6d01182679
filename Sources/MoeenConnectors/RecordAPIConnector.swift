import Foundation
import MoeenCore

/// The small bearer-key record API the original Moeen system called for Seha and Tatman
/// (neither publishes an API; see PROVIDERS.md): `GET {api_url}/{collection}/{id}` → a JSON object.
struct RecordAPIProbe: Sendable {
    let type: IntegrationType
    /// `facilities` or `providers`.
    let collection: String
    /// `facility_id` or `provider_id`.
    let idField: String
    /// "facility" or "provider", for messages.
    let noun: String
    let context: ConnectorContext

    func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await context.probe(type, config: config, timeout: timeout) { call, settings throws(ProviderError) in
            let id = try settings.required(idField)
            let response = try await call.send(OutboundRequest(
                method: "GET", url: HTTPHelpers.url(try settings.required("api_url"), collection, id),
                headers: [("Authorization", "Bearer \(try settings.required("api_key"))"), ("Accept", "application/json")]))
            guard response.status == 200, let body = HTTPHelpers.parse(response.body), body.objectValue != nil else {
                throw error(from: response)
            }
            var details: [String: JSONValue] = [:]
            for key in ["name", "status"] {
                if let value = body[key] { details[key] = value }
            }
            let name = body["name"]?.stringValue ?? id
            return ProbeResult(success: true, message: "Connected; \(noun) \(name) found", statusCode: response.status,
                               details: details)
        }
    }

    /// `{"message": "…"}`: 401/403 and 404 permanent, 429/5xx retryable.
    func error(from response: InboundResponse) -> ProviderError {
        let given = HTTPHelpers.parse(response.body)?["message"]?.stringValue
        if response.status == 404 {
            return ProviderError(kind: .permanent, category: .notFound, message: given ?? "\(noun.capitalized) not found",
                                 httpStatus: 404)
        }
        if response.status == 200 {
            return ProviderError(kind: .retryable, category: .invalidResponse,
                                 message: "The \(type.labelEN) API answered 200 without a JSON object", httpStatus: 200)
        }
        return ProviderError.byStatus(response.status, message: given ?? "\(type.labelEN) answered HTTP \(response.status)",
                                      retryAfter: HTTPHelpers.retryAfter(response, now: context.now()))
    }
}

/// Seha platform: `GET {api_url}/facilities/{facility_id}` with a bearer API key.
public struct SehaConnector: ProviderConnector {
    public let type = IntegrationType.seha
    let record: RecordAPIProbe

    init(context: ConnectorContext) {
        record = RecordAPIProbe(type: .seha, collection: "facilities", idField: "facility_id", noun: "facility",
                                context: context)
    }

    public func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await record.probe(config: config, timeout: timeout)
    }
}

/// Tatman insurance: `GET {api_url}/providers/{provider_id}` with a bearer API key.
public struct TatmanConnector: ProviderConnector {
    public let type = IntegrationType.tatman
    let record: RecordAPIProbe

    init(context: ConnectorContext) {
        record = RecordAPIProbe(type: .tatman, collection: "providers", idField: "provider_id", noun: "provider",
                                context: context)
    }

    public func probe(config: [String: String], timeout: Duration) async -> ProbeResult {
        await record.probe(config: config, timeout: timeout)
    }
}
