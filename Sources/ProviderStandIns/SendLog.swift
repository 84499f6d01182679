import Foundation
import Vapor

/// The message a send request carries, as a stand-in reads it: the recipient (E.164 phone number or e-mail
/// address; `nil` for a Slack webhook) and the text, by which drills tell their messages apart.
public struct SendKey: Sendable, Equatable {
    public var to: String?
    public var text: String?

    public init(to: String?, text: String?) {
        self.to = to
        self.text = text
    }
}

/// Every send attempt a messaging stand-in received — with the time and the answer it gave, faults included —
/// and every send it accepted. Drills read it through `GET /_standin/attempts` and `/_standin/sends`.
public actor SendLog {
    /// One send request and its answer. Times are seconds since 1970 on this machine's clock.
    public struct Attempt: Sendable, Codable, Equatable {
        /// Position in the log, from 1.
        public var seq: Int
        /// When the request arrived.
        public var at: Double
        /// When the answer was handed to the connection (`nil` while held by a hang).
        public var answeredAt: Double?
        public var to: String?
        public var text: String?
        /// The status of the answer (for a dropped connection: of the head that was sent before the drop).
        public var status: Int?
        /// The `Retry-After` seconds of the answer, if it had one.
        public var retryAfter: Int?
        /// The injected fault, if any.
        public var fault: Fault?
        /// The provider's id for an accepted send.
        public var providerID: String?

        enum CodingKeys: String, CodingKey {
            case seq, at, to, text, status, fault
            case answeredAt = "answered_at"
            case retryAfter = "retry_after"
            case providerID = "provider_id"
        }
    }

    /// One accepted send.
    public struct Send: Sendable, Codable, Equatable {
        /// The attempt that was accepted.
        public var seq: Int
        public var providerID: String
        public var to: String?
        public var text: String?
        /// When the accepting answer was made.
        public var at: Double

        enum CodingKeys: String, CodingKey {
            case seq, to, text, at
            case providerID = "provider_id"
        }
    }

    public private(set) var attempts: [Attempt] = []
    public private(set) var sends: [Send] = []

    public init() {}

    static var now: Double { Date().timeIntervalSince1970 }

    /// Records an arriving send request; returns its `seq`.
    func begin(_ key: SendKey, fault: Fault?) -> Int {
        let seq = attempts.count + 1
        attempts.append(Attempt(seq: seq, at: Self.now, to: key.to, text: key.text, fault: fault))
        return seq
    }

    /// Records the answer to attempt `seq`.
    func finish(_ seq: Int, status: Int, retryAfter: Int?) {
        guard attempts.indices.contains(seq - 1) else { return }
        attempts[seq - 1].status = status
        attempts[seq - 1].retryAfter = retryAfter
        attempts[seq - 1].answeredAt = Self.now
    }

    /// Records that attempt `seq` was accepted under `providerID`.
    func accepted(_ seq: Int, providerID: String) {
        guard attempts.indices.contains(seq - 1) else { return }
        attempts[seq - 1].providerID = providerID
        let attempt = attempts[seq - 1]
        sends.append(Send(seq: seq, providerID: providerID, to: attempt.to, text: attempt.text, at: Self.now))
    }

    /// Attempts after `seq` (all when `nil`).
    public func attempts(after seq: Int?) -> ArraySlice<Attempt> {
        attempts.dropFirst(max(0, min(seq ?? 0, attempts.count)))
    }

    /// Sends whose attempt came after `seq` (all when `nil`).
    public func sends(after seq: Int?) -> [Send] {
        guard let seq else { return sends }
        return sends.filter { $0.seq > seq }
    }

    /// Counts for `GET /_standin/stats`.
    public var stats: (attempts: Int, sends: Int, statuses: [String: Int], faults: [String: Int]) {
        var statuses: [String: Int] = [:]
        var faults: [String: Int] = [:]
        for attempt in attempts {
            statuses[attempt.status.map(String.init) ?? "pending", default: 0] += 1
            if let fault = attempt.fault { faults[fault.rawValue, default: 0] += 1 }
        }
        return (attempts.count, sends.count, statuses, faults)
    }

    public func reset() {
        attempts.removeAll()
        sends.removeAll()
    }
}

/// The `seq` of the send attempt a request is, kept on the request by the middleware for the route.
struct SendAttemptKey: StorageKey {
    typealias Value = Int
}

extension SendLog {
    /// The route accepted the send `request` carries under `providerID`.
    nonisolated func accepted(_ request: Request, providerID: String) async {
        guard let seq = request.storage[SendAttemptKey.self] else { return }
        await accepted(seq, providerID: providerID)
    }
}
