import Fluent
import Foundation
import Vapor

/// `moeen messages send|list|retry`: the messages API from the shell (API.md "Command line").
struct MessagesCommand: AsyncCommandGroup {
    var commands: [String: any AnyAsyncCommand] {
        ["send": MessagesSendCommand(), "list": MessagesListCommand(), "retry": MessagesRetryCommand()]
    }

    var help: String { "Sends, lists and retries outbound messages" }
}

/// `moeen messages send --channel C --to T --text X [--integration ID]`: queues a message; its id alone on the last line.
struct MessagesSendCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "channel", help: "whatsapp, sms, email or slack")
        var channel: String?
        @Option(name: "to", help: "phone number or e-mail address")
        var to: String?
        @Option(name: "text", help: "the message text")
        var text: String?
        @Option(name: "subject", help: "e-mail subject")
        var subject: String?
        @Option(name: "integration", help: "integration id (default: the oldest enabled one of the channel)")
        var integration: String?
    }

    var help: String { "Queues a message; prints its id alone on the last line" }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        var input = MessageRequest(channel: signature.channel, to: signature.to, text: signature.text,
                                   integrationConfigID: signature.integration)
        input.subject = signature.subject
        let preferences = await app.centrePreferences.current(on: app.db)
        let intake = MessageIntake(db: app.db, settings: app.moeenConfiguration.delivery, now: Date(),
                                   quietHours: preferences.activeQuietHours)
        let outcome = try await MessagesCommand.explain {
            try await intake.accept(input, idempotencyKey: nil, requestHash: nil, createdBy: nil, source: .operator)
        }
        context.console.print("queued \(outcome.message.channel) message to \(outcome.message.recipient)")
        context.console.print(outcome.message.publicID)
    }
}

/// `moeen messages list [--status S] [--limit N]`: newest first.
struct MessagesListCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "status", help: "only messages in this status")
        var status: String?
        @Option(name: "limit", help: "how many (default 50, at most 1000)")
        var limit: Int?
    }

    var help: String { "Lists messages, newest first" }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let query = OutboundMessage.query(on: app.db).sort(\.$createdAt, .descending).sort(\.$id, .descending)
        if let status = signature.status {
            guard MessageStatus(rawValue: status) != nil else {
                throw CommandFailure("--status must be one of \(MessageStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.filter(\.$status == status)
        }
        let rows = try await query.limit(max(1, min(signature.limit ?? 50, 1000))).all()
        context.console.print(MessagesCommand.table(rows))
    }
}

/// `moeen messages retry ID`: a failed or dead message queued again.
struct MessagesRetryCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "id", help: "the message (UUID or msg_… id)")
        var id: String
    }

    var help: String { "Queues a failed or dead message again" }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        guard let row = try await OutboundMessage.find(idOrPublicID: signature.id, on: app.db) else {
            throw CommandFailure("no message has the id \(signature.id)")
        }
        guard try await MessageStore(db: app.db).requeue(try row.requireID(), now: Date(), by: "the command line") else {
            throw CommandFailure("message \(row.publicID) is \(row.status); only failed or dead messages can be retried")
        }
        context.console.print("\(row.publicID) queued again")
    }
}

extension MessagesCommand {
    /// A validation error as one line naming each field.
    static func explain<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as APIError {
            let fields = (error.fields ?? [:]).sorted { $0.key < $1.key }
                .map { "--\($0.key == "integration_config_id" ? "integration" : $0.key): \($0.value)" }
            throw CommandFailure(fields.isEmpty ? error.message : fields.joined(separator: "; "))
        }
    }

    static func table(_ rows: [OutboundMessage]) -> String {
        var lines = [["ID", "CHANNEL", "TO", "STATUS", "ATTEMPTS", "CREATED"]]
        let formatter = ISO8601DateFormatter()
        for row in rows {
            lines.append([row.publicID, row.channel, row.recipient, row.status, "\(row.attempts)/\(row.maxAttempts)",
                          row.createdAt.map { formatter.string(from: $0) } ?? ""])
        }
        let widths = (0..<6).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            line.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
