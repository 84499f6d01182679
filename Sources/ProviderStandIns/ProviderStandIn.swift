import Foundation
import MoeenCore
import Vapor

/// A local server speaking one provider's published API (see PROVIDERS.md and ../specs),
/// with request recording and run-time fault injection.
public protocol ProviderStandIn: AnyObject, Sendable {
    var type: IntegrationType { get }
    /// Faults to inject (latency, errors, 429, dropped connection, hang).
    var faults: FaultInjector { get }
    /// Every provider request received (the `/_standin/` control API excluded).
    var recorder: RequestRecorder { get }
    /// Every send attempt with its answer, and every accepted send (messaging stand-ins; empty for the others).
    var sends: SendLog { get }
    /// Starts on 127.0.0.1:`port` (0: any free port); returns the server's base URL.
    func start(port: Int) async throws -> URL
    /// Releases hung requests and stops the server.
    func shutdown() async throws
    /// Integration settings that pass this stand-in's checks, given its base URL.
    func workingSettings(baseURL: URL) -> [String: String]
}

extension ProviderStandIn {
    /// Starts on any free port.
    public func start() async throws -> URL { try await start(port: 0) }
}

/// A fresh stand-in for each integration type.
public enum StandIns {
    public static func make(_ type: IntegrationType) -> any ProviderStandIn {
        switch type {
        case .whatsapp: WhatsAppStandIn()
        case .sms: TwilioStandIn()
        case .email: SendGridStandIn()
        case .googleCalendar: GoogleCalendarStandIn()
        case .slack: SlackStandIn()
        case .seha: RecordAPIStandIn.seha()
        case .tatman: RecordAPIStandIn.tatman()
        }
    }
}

/// What every stand-in shares: the host, the recorder, the send log, the fault injector and the control API.
final class StandInCore: Sendable {
    let host: StandInHost
    let faults = FaultInjector()
    let recorder = RequestRecorder()
    let sends = SendLog()

    init(name: String) { host = StandInHost(name: name) }

    /// `sendKey` reads the message of a send request (`nil` for any other request, and for stand-ins that send
    /// nothing); those requests are logged as send attempts with their answers.
    func start(port: Int, errorResponse: @escaping @Sendable (HTTPStatus, Int?) -> Response,
               sendKey: @escaping @Sendable (Request) -> SendKey? = { _ in nil },
               routes: @Sendable (Application) -> Void) async throws -> URL {
        let middleware = StandInMiddleware(recorder: recorder, faults: faults, sends: sends,
                                           errorResponse: errorResponse, sendKey: sendKey)
        let faults = faults, recorder = recorder, sends = sends
        return try await host.start(port: port, middleware: middleware) { app in
            StandInControl.register(on: app, faults: faults, recorder: recorder, sends: sends)
            routes(app)
        }
    }

    func shutdown() async throws {
        await faults.clear()
        try await host.shutdown()
    }
}

/// Building answers.
enum Reply {
    static func json(_ status: HTTPStatus, _ value: JSONValue, headers: HTTPHeaders = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers = headers
        headers.replaceOrAdd(name: .contentType, value: "application/json; charset=utf-8")
        return Response(status: status, headers: headers, body: .init(data: data))
    }

    static func text(_ status: HTTPStatus, _ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: ["Content-Type": contentType], body: .init(string: text))
    }

    /// The bearer token of the request, if any.
    static func bearer(_ request: Request) -> String? {
        guard let value = request.headers.first(name: .authorization), value.lowercased().hasPrefix("bearer ") else {
            return nil
        }
        return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

    /// The parsed JSON body, if it is JSON.
    static func jsonBody(_ request: Request) -> JSONValue? {
        guard let buffer = request.body.data else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
    }

    /// The form body as a dictionary (last value wins).
    static func formBody(_ request: Request) -> [String: String] {
        guard let buffer = request.body.data else { return [:] }
        var result: [String: String] = [:]
        for (name, value) in FormURLEncoding.decode(String(buffer: buffer)) { result[name] = value }
        return result
    }

    /// `count` random lowercase hex digits.
    static func hex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement() ?? "0" })
    }
}
