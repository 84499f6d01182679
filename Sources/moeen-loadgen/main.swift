// moeen-loadgen: the load client of scripts/bench (S1, S2) and the raw-client baseline of S2. POSTs one body N times at concurrency C with
// AsyncHTTPClient — no database, no service in between — and prints what it saw as one JSON object.
//
//   moeen-loadgen --url URL --count N --concurrency C (--form 'To=…&Body=…' | --json '{…}')
//                 [--basic USER:PASSWORD] [--bearer TOKEN] [--header 'Name: value']… [--warmup K]
//
// `{i}` in the body and in --header values is replaced by the request's index (0-based), so each request can
// carry a unique tag (and Idempotency-Key). Output: {"count", "ok" (2xx), "statuses": {"201": n}, "errors" (no
// response), "seconds", "rate" (2xx per second), "answered_rate" (any status per second), "started_at",
// "finished_at" (seconds since 1970), "p50_ms", "p99_ms"}. Exit status 2 for a bad command line. Loopback use
// only: it sends wherever --url says.
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// The command line, read by hand to keep the dependencies to AsyncHTTPClient and NIO.
struct Options {
    var url = ""
    var count = 1_000
    var concurrency = 16
    var warmup = 0
    var body = ""
    var contentType = "application/x-www-form-urlencoded"
    var headers: [(String, String)] = []
    var method = HTTPMethod.POST
    /// Signs each body as a WhatsApp webhook (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`) with this secret.
    var whatsAppSecret: String?

    init(_ arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        func value(_ name: String) throws(UsageError) -> String {
            guard let next = rest.popFirst() else { throw UsageError(message: "\(name) needs a value") }
            return next
        }
        func number(_ name: String) throws(UsageError) -> Int {
            guard let number = Int(try value(name)), number >= 0 else {
                throw UsageError(message: "\(name) needs a whole number")
            }
            return number
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--url": url = try value(argument)
            case "--count": count = try number(argument)
            case "--concurrency": concurrency = max(1, try number(argument))
            case "--warmup": warmup = try number(argument)
            case "--form": body = try value(argument); contentType = "application/x-www-form-urlencoded"
            case "--json": body = try value(argument); contentType = "application/json"
            case "--basic":
                let credentials = Data(try value(argument).utf8).base64EncodedString()
                headers.append(("Authorization", "Basic " + credentials))
            case "--bearer": headers.append(("Authorization", "Bearer " + (try value(argument))))
            case "--header":
                let line = try value(argument)
                guard let colon = line.firstIndex(of: ":") else { throw UsageError(message: "--header needs 'Name: value'") }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            case "--get": method = .GET
            case "--sign-whatsapp": whatsAppSecret = try value(argument)
            case "--help", "-h": throw UsageError(message: "")
            default: throw UsageError(message: "unknown argument \(argument)")
            }
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw UsageError(message: "--url is required") }
    }
}

struct UsageError: Error {
    var message: String
    static let usage = "usage: moeen-loadgen --url URL --count N --concurrency C (--form BODY | --json BODY) "
        + "[--basic USER:PASSWORD] [--bearer TOKEN] [--header 'Name: value']... [--warmup K] [--get] [--sign-whatsapp SECRET]"
}

/// What the requests of one run got back.
struct Tally: Sendable {
    var statuses: [Int: Int] = [:]
    var errors = 0
    var latencies: [Double] = []

    mutating func merge(_ other: Tally) {
        statuses.merge(other.statuses, uniquingKeysWith: +)
        errors += other.errors
        latencies += other.latencies
    }
}

/// Sends requests `indices` one after the other on one logical client "user".
func run(_ client: HTTPClient, _ options: Options, indices: StrideTo<Int>) async -> Tally {
    var tally = Tally()
    let clock = ContinuousClock()
    for index in indices {
        var request = HTTPClientRequest(url: options.url)
        request.method = options.method
        for (name, value) in options.headers {
            request.headers.add(name: name, value: value.replacingOccurrences(of: "{i}", with: String(index)))
        }
        if options.method == .POST {
            let body = options.body.replacingOccurrences(of: "{i}", with: String(index))
            request.headers.add(name: "Content-Type", value: options.contentType)
            if let secret = options.whatsAppSecret {
                let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))
                request.headers.add(name: "X-Hub-Signature-256", value: "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
            }
            request.body = .bytes(ByteBuffer(string: body))
        }
        let started = clock.now
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            tally.statuses[Int(response.status.code), default: 0] += 1
        } catch {
            tally.errors += 1
        }
        let elapsed = clock.now - started
        tally.latencies.append(Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15)
    }
    return tally
}

/// `concurrency` users sharing `count` requests, numbered from `first`.
func load(_ client: HTTPClient, _ options: Options, first: Int, count: Int) async -> Tally {
    await withTaskGroup(of: Tally.self) { group in
        for user in 0..<min(options.concurrency, max(count, 1)) {
            group.addTask { await run(client, options, indices: stride(from: first + user, to: first + count, by: options.concurrency)) }
        }
        var total = Tally()
        for await tally in group { total.merge(tally) }
        return total
    }
}

func percentile(_ sorted: [Double], _ share: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * share).rounded(.down)))]
}

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data(((error.message.isEmpty ? "" : "moeen-loadgen: \(error.message)\n") + UsageError.usage + "\n").utf8))
    exit(2)
}

var configuration = HTTPClient.Configuration()
configuration.timeout = .init(connect: .seconds(5))
configuration.redirectConfiguration = .disallow
configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = options.concurrency
let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)

if options.warmup > 0 {
    _ = await load(client, options, first: options.count, count: options.warmup)
}
let startedAt = Date().timeIntervalSince1970
let clock = ContinuousClock()
let started = clock.now
let tally = await load(client, options, first: 0, count: options.count)
let elapsed = clock.now - started
let finishedAt = Date().timeIntervalSince1970
do { try await client.shutdown().get() } catch { FileHandle.standardError.write(Data("moeen-loadgen: shutdown: \(error)\n".utf8)) }

let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let ok = tally.statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +)
let sorted = tally.latencies.sorted()
let statuses = tally.statuses.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
print("""
{"count": \(options.count), "concurrency": \(options.concurrency), "ok": \(ok), "statuses": {\(statuses)}, \
"errors": \(tally.errors), "seconds": \(String(format: "%.4f", seconds)), \
"rate": \(String(format: "%.1f", seconds > 0 ? Double(ok) / seconds : 0)), \
"answered_rate": \(String(format: "%.1f", seconds > 0 ? Double(options.count - tally.errors) / seconds : 0)), \
"started_at": \(String(format: "%.6f", startedAt)), "finished_at": \(String(format: "%.6f", finishedAt)), \
"p50_ms": \(String(format: "%.3f", percentile(sorted, 0.5))), "p99_ms": \(String(format: "%.3f", percentile(sorted, 0.99)))}
""")
