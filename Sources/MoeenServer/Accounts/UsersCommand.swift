import Fluent
import Vapor

/// `moeen users create --email E --name N --role R [--password P | --password-stdin]`
struct UsersCommand: AsyncCommandGroup {
    var commands: [String: any AnyAsyncCommand] { ["create": CreateUserCommand()] }
    var help: String { "Manage users." }
}

struct CreateUserCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "email", help: "The user's e-mail address (their sign-in name).")
        var email: String?
        @Option(name: "name", help: "The user's display name.")
        var name: String?
        @Option(name: "role", help: "admin, manager, staff or viewer.")
        var role: String?
        @Option(name: "password", help: "The password (prefer --password-stdin: arguments are visible to other users).")
        var password: String?
        @Flag(name: "password-stdin", help: "Read the password from the first line of standard input.")
        var passwordFromStdin: Bool
    }

    var help: String { "Creates a user." }

    func run(using context: CommandContext, signature: Signature) async throws {
        guard let email = signature.email else { throw CommandFailure("--email is required") }
        guard let name = signature.name else { throw CommandFailure("--name is required") }
        guard let rawRole = signature.role, let role = UserRole(rawValue: rawRole) else {
            throw CommandFailure("--role must be one of \(UserRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let password: String
        switch (signature.password, signature.passwordFromStdin) {
        case (.some, true):
            throw CommandFailure("give either --password or --password-stdin, not both")
        case (.some(let given), false):
            password = given
        case (.none, true):
            guard let line = readLine(strippingNewline: true) else { throw CommandFailure("no password on standard input") }
            password = line
        case (.none, false):
            throw CommandFailure("give the password with --password-stdin (or --password)")
        }
        do {
            let user = try await context.application.accounts.createUser(email: email, name: name, role: role, password: password)
            context.console.print("created user \(user.email) (\(user.role.rawValue)) id \(try user.requireID())")
        } catch let problem as Accounts.Problem {
            throw CommandFailure("--\(problem.field) \(problem.message)")
        }
    }
}

/// `moeen tokens create --email E --name N`: prints the token alone on the last line of stdout.
struct TokensCommand: AsyncCommandGroup {
    var commands: [String: any AnyAsyncCommand] { ["create": CreateTokenCommand()] }
    var help: String { "Manage API tokens." }
}

struct CreateTokenCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "email", help: "The e-mail address of the user the token acts for.")
        var email: String?
        @Option(name: "name", help: "A name for the token (what uses it).")
        var name: String?
    }

    var help: String { "Creates an API token; it is shown once and stored only as a hash." }

    func run(using context: CommandContext, signature: Signature) async throws {
        guard let email = signature.email else { throw CommandFailure("--email is required") }
        guard let name = signature.name else { throw CommandFailure("--name is required") }
        do {
            let (token, record) = try await context.application.accounts.createToken(forEmail: email, name: name)
            context.console.print("token \"\(record.name)\" for \(email.lowercased()) created; it is shown once, store it now:")
            context.console.print(token)
        } catch let problem as Accounts.Problem {
            throw CommandFailure("--\(problem.field) \(problem.message)")
        }
    }
}

/// A command's one-line reason for failing (printed on stderr, exit status non-zero).
struct CommandFailure: Error, CustomStringConvertible, LocalizedError {
    let description: String
    init(_ description: String) { self.description = description }
    var errorDescription: String? { description }
}

func registerCommands(_ app: Application) {
    app.asyncCommands.use(UsersCommand(), as: "users")
    app.asyncCommands.use(TokensCommand(), as: "tokens")
    app.asyncCommands.use(IntegrationsCommand(), as: "integrations")
    app.asyncCommands.use(KeysCommand(), as: "keys")
    app.asyncCommands.use(MessagesCommand(), as: "messages")
    app.asyncCommands.use(WorkerCommand(), as: "worker")
}
