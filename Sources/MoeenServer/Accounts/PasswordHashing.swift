import NIOPosix
import Vapor

/// bcrypt, run on the application's thread pool rather than on an event loop: one hash at cost 12 takes about
/// a quarter of a second of CPU, during which an event loop would serve none of its other requests.
struct PasswordHashing: Sendable {
    let cost: Int
    let threadPool: NIOThreadPool

    /// The bcrypt hash of `password` at `cost`.
    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await run { try Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches the stored `hash`; a malformed stored hash is no match.
    func verify(_ password: String, against hash: String) async -> Bool {
        (try? await run { try Bcrypt.verify(password, created: hash) }) ?? false
    }

    /// Spends about the time of a real check without checking anything, so that refusing an unknown or
    /// deactivated account takes as long as refusing a wrong password and reveals nothing.
    func imitateVerify(_ password: String) async {
        _ = try? await hash(password.isEmpty ? "-" : password)
    }

    /// Runs blocking work on the thread pool.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await threadPool.runIfActive(work)
    }
}

extension Application {
    /// Password hashing at the configured cost (`MOEEN_BCRYPT_COST`), off the event loops.
    var passwordHashing: PasswordHashing {
        PasswordHashing(cost: moeenConfiguration.passwordHashCost, threadPool: threadPool)
    }
}
