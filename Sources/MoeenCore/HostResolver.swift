import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a host name into the addresses to check and connect to. Injectable so tests can answer
/// without DNS (and answer differently from one call to the next, as a rebinding server would).
public protocol HostResolver: Sendable {
    /// All addresses `host` resolves to, in the order to try them; empty when it does not resolve.
    /// Callers bound the wait by their own deadline, so an implementation may take as long as it must.
    func addresses(of host: String) async -> [IPAddress]
}

/// The system resolver (`getaddrinfo`), run on NIO's blocking-work thread pool so a slow look-up never
/// holds one of Swift concurrency's cooperative threads.
public struct SystemHostResolver: HostResolver {
    public init() {}

    public func addresses(of host: String) async -> [IPAddress] {
        (try? await NIOThreadPool.singleton.runIfActive { Self.getAddresses(host) }) ?? []
    }

    /// Blocking: call only from a thread that may block.
    static func getAddresses(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let sockaddr = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    let v4 = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(.v4(withUnsafeBytes(of: v4) { Array($0) }))
                case AF_INET6:
                    let v6 = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(.v6(withUnsafeBytes(of: v6) { Array($0) }))
                default:
                    break
                }
            }
            cursor = info.pointee.ai_next
        }
        // getaddrinfo lists an address once per socket type; keep the first of each.
        var seen: Set<IPAddress> = []
        return addresses.filter { seen.insert($0).inserted }
    }
}

extension HostResolver {
    /// The addresses of `host`, or `nil` when `deadline` passes (or the calling task is cancelled) first.
    /// The look-up runs in a task of its own, cancelled when the deadline wins, so a resolver that never
    /// answers cannot hold the caller past its deadline.
    func addresses(of host: String, before deadline: ContinuousClock.Instant) async -> [IPAddress]? {
        await DeadlineRace.run(until: deadline) { await self.addresses(of: host) }
    }
}

/// The value of an operation, or `nil` when a deadline passes first; the loser is cancelled and not awaited.
enum DeadlineRace {
    static func run<T: Sendable>(
        until deadline: ContinuousClock.Instant, _ operation: @escaping @Sendable () async -> T
    ) async -> T? {
        let gate = Gate<T>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
                gate.install(continuation)
                gate.track(Task { gate.finish(await operation()) })
                gate.track(Task {
                    // A cancelled sleep means the operation finished first; finishing again is a no-op.
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    gate.finish(nil)
                })
            }
        } onCancel: {
            gate.finish(nil)
        }
    }

    /// Resumes the waiting caller exactly once, with whichever result comes first.
    private final class Gate<T: Sendable>: @unchecked Sendable {
        // @unchecked: every stored property is read and written only while holding `lock`.
        private let lock = NSLock()
        private var continuation: CheckedContinuation<T?, Never>?
        private var finished = false
        private var result: T?
        private var tasks: [Task<Void, Never>] = []

        func install(_ continuation: CheckedContinuation<T?, Never>) {
            lock.lock()
            if finished {
                let result = result
                lock.unlock()
                continuation.resume(returning: result)
                return
            }
            self.continuation = continuation
            lock.unlock()
        }

        func track(_ task: Task<Void, Never>) {
            lock.lock()
            if finished {
                lock.unlock()
                task.cancel()
                return
            }
            tasks.append(task)
            lock.unlock()
        }

        func finish(_ value: T?) {
            lock.lock()
            guard !finished else {
                lock.unlock()
                return
            }
            finished = true
            result = value
            let continuation = continuation
            self.continuation = nil
            let tasks = tasks
            self.tasks = []
            lock.unlock()
            for task in tasks { task.cancel() }
            continuation?.resume(returning: value)
        }
    }
}
