import Foundation
import MoeenCore
import Vapor

/// The record API the original Moeen system called for Seha (`GET /facilities/{id}`) and
/// Tatman (`GET /providers/{id}`): Bearer API key, `{"message"}` errors.
public final class RecordAPIStandIn: ProviderStandIn {
    /// Configurable key and records.
    public actor State {
        public var apiKey: String
        /// Known record ids → `{id, name, status}`.
        public var records: [String: JSONValue]

        init(apiKey: String, records: [String: JSONValue]) {
            self.apiKey = apiKey
            self.records = records
        }

        /// Changes the state: `await standIn.state.update { $0.apiKey = "other" }`.
        public func update(_ change: @Sendable (isolated State) -> Void) { change(self) }
    }

    public let type: IntegrationType
    public let state: State
    let core: StandInCore
    /// `facilities` or `providers`.
    let collection: String
    let idField: String
    let recordID: String
    let apiKey: String
    public var faults: FaultInjector { core.faults }
    public var recorder: RequestRecorder { core.recorder }
    public var sends: SendLog { core.sends }

    /// The Seha platform stand-in.
    public static func seha() -> RecordAPIStandIn {
        RecordAPIStandIn(type: .seha, collection: "facilities", idField: "facility_id", recordID: "FAC-0001",
                         name: "مركز الهمم للتأهيل", apiKey: "fake-seha-api-key")
    }

    /// The Tatman insurance stand-in.
    public static func tatman() -> RecordAPIStandIn {
        RecordAPIStandIn(type: .tatman, collection: "providers", idField: "provider_id", recordID: "PRV-0001",
                         name: "Moeen Rehabilitation Centre", apiKey: "fake-tatman-api-key")
    }

    init(type: IntegrationType, collection: String, idField: String, recordID: String, name: String, apiKey: String) {
        self.type = type
        self.collection = collection
        self.idField = idField
        self.recordID = recordID
        self.apiKey = apiKey
        self.core = StandInCore(name: type.rawValue)
        self.state = State(apiKey: apiKey, records: [
            recordID: ["id": .string(recordID), "name": .string(name), "status": "active"],
        ])
    }

    public func start(port: Int) async throws -> URL {
        let state = state
        let noun = collection == "facilities" ? "Facility" : "Provider"
        return try await core.start(port: port, errorResponse: { status, _ in
            status == .tooManyRequests ? Reply.json(.tooManyRequests, ["message": "Too many requests"])
                : Reply.json(.serviceUnavailable, ["message": "Service unavailable"])
        }) { app in
            app.get(.constant(collection), ":id") { request async -> Response in
                guard let key = Reply.bearer(request) else {
                    return Reply.json(.unauthorized, ["message": "Missing API key"])
                }
                guard key == (await state.apiKey) else { return Reply.json(.unauthorized, ["message": "Invalid API key"]) }
                let id = request.parameters.get("id") ?? ""
                guard let record = await state.records[id] else {
                    return Reply.json(.notFound, ["message": .string("\(noun) not found")])
                }
                return Reply.json(.ok, record)
            }
        }
    }

    public func shutdown() async throws { try await core.shutdown() }

    public func workingSettings(baseURL: URL) -> [String: String] {
        ["api_url": baseURL.absoluteString, "api_key": apiKey, idField: recordID]
    }
}
