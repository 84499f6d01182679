import Foundation
import Synchronization

/// Time-ordered UUIDs (RFC 9562 version 7: 48-bit Unix milliseconds, then a 12-bit counter, then random
/// bits) that strictly increase within this process, even when many are made in one millisecond or the
/// wall clock steps back. Rows that are listed "in the order they happened" (a message's events) use them
/// as the tie-breaker after their timestamp.
enum OrderedUUID {
    private struct State {
        var millis: UInt64 = 0
        var counter: UInt16 = 0
    }

    private static let state = Mutex(State())

    static func next(now: Date = Date()) -> UUID {
        let wall = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (millis, counter) = state.withLock { state -> (UInt64, UInt16) in
            if wall > state.millis {
                state.millis = wall
                state.counter = 0
            } else if state.counter < 0x0FFF {
                state.counter += 1
            } else {
                state.millis += 1
                state.counter = 0
            }
            return (state.millis, state.counter)
        }
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        bytes[8] = 0x80 | (UInt8(truncatingIfNeeded: random) & 0x3F)
        for index in 9..<16 { bytes[index] = UInt8(truncatingIfNeeded: random >> (8 * (index - 8))) }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
