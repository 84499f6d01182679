import Vapor

/// One request a stand-in received, as it arrived.
public struct RecordedRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String?
    public var headers: [(name: String, value: String)]
    public var body: String

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// Every request a stand-in received, in order, for test assertions.
public actor RequestRecorder {
    public private(set) var requests: [RecordedRequest] = []

    public init() {}

    func append(_ request: RecordedRequest) { requests.append(request) }

    /// Requests whose path ends with `suffix` (all when `nil`).
    public func requests(pathSuffix suffix: String?) -> [RecordedRequest] {
        guard let suffix else { return requests }
        return requests.filter { $0.path.hasSuffix(suffix) }
    }

    public var count: Int { requests.count }

    public func reset() { requests.removeAll() }
}
