import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Key files: created with mode 0600 from the start (never briefly readable by others), replaced atomically.
enum SecureFile {
    struct AlreadyExists: Error {}

    static func read(_ url: URL) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw SecretsError.configuration("could not read the key file \(url.path): \(error.localizedDescription)")
        }
    }

    /// Creates `url` exclusively with mode 0600; throws `AlreadyExists` if it is already there.
    static func create(at url: URL, contents: String) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if descriptor < 0 {
            let code = errno
            if code == EEXIST { throw AlreadyExists() }
            throw SecretsError.configuration(
                "could not create the key file \(url.path): \(String(cString: strerror(code)))")
        }
        defer { close(descriptor) }
        try writeAll(contents, to: descriptor, path: url.path)
    }

    /// Replaces `url` atomically with a 0600 file holding `contents`.
    static func replace(at url: URL, contents: String) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        try create(at: temporary, contents: contents)
        if rename(temporary.path, url.path) != 0 {
            let code = errno
            unlink(temporary.path)
            throw SecretsError.configuration(
                "could not replace the key file \(url.path): \(String(cString: strerror(code)))")
        }
    }

    /// The permission bits of `url`, if it exists.
    static func permissions(of url: URL) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions]) as? Int
    }

    private static func writeAll(_ contents: String, to descriptor: Int32, path: String) throws {
        _ = fchmod(descriptor, 0o600)
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress, buffer.count)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw SecretsError.configuration(
                    "could not write the key file \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        guard fsync(descriptor) == 0 else {
            throw SecretsError.configuration("could not write the key file \(path): \(String(cString: strerror(errno)))")
        }
    }
}
