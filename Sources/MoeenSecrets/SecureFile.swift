import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Key files: created with mode 0600 from the start (never briefly readable by others), replaced atomically
/// and durably (the new text is on disk, and so is the directory entry naming it, before `replace` returns).
enum SecureFile {
    struct AlreadyExists: Error {}

    /// What identifies one version of a file: a replaced file (new inode), or one changed in place (new
    /// size or modification time), has another identity. Used to reload a key file only when it changed.
    struct Identity: Sendable, Hashable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int64
        var modifiedNanoseconds: Int64
    }

    static func read(_ url: URL) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw SecretsError.configuration("could not read the key file \(url.path): \(error.localizedDescription)")
        }
    }

    /// Creates `url` exclusively with mode 0600 and syncs its contents; throws `AlreadyExists` if it is already there.
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

    /// Like `create(at:contents:)`, and the directory entry is synced too, so the new file survives a crash.
    static func createDurably(at url: URL, contents: String) throws {
        try create(at: url, contents: contents)
        try syncDirectory(containing: url)
    }

    /// Replaces `url` atomically and durably with a 0600 file holding `contents`: write a temporary file in the
    /// same directory, fsync it, rename it over `url`, fsync the directory. A reader sees the old text or the
    /// new one, never a mix; after a crash the file holds one of the two.
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
        try syncDirectory(containing: url)
    }

    /// Runs `body` holding an exclusive lock (`flock`) on `.<name>.lock` next to `url`, so that two processes
    /// on this machine changing the same key file (a rotation adding a version, a retirement removing one)
    /// take turns instead of one undoing the other's change.
    static func withExclusiveLock<T>(on url: URL, _ body: () throws -> T) throws -> T {
        let lockPath = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock").path
        let descriptor = open(lockPath, O_RDWR | O_CREAT, 0o600)
        guard descriptor >= 0 else {
            throw SecretsError.configuration("could not open the lock file \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw SecretsError.configuration("could not lock \(lockPath): \(String(cString: strerror(errno)))")
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// The permission bits of `url`, if it exists.
    static func permissions(of url: URL) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions]) as? Int
    }

    /// The identity of the file at `url` now (one `stat`), nil if it cannot be read.
    static func identity(of url: URL) -> Identity? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        #if canImport(Darwin)
        let modified = info.st_mtimespec
        #else
        let modified = info.st_mtim
        #endif
        return Identity(
            device: UInt64(truncatingIfNeeded: info.st_dev), inode: UInt64(truncatingIfNeeded: info.st_ino),
            size: Int64(info.st_size), modifiedSeconds: Int64(modified.tv_sec), modifiedNanoseconds: Int64(modified.tv_nsec))
    }

    /// fsyncs the directory holding `url`, so that a rename or creation in it is on disk.
    static func syncDirectory(containing url: URL) throws {
        let directory = url.deletingLastPathComponent().path
        let descriptor = open(directory, O_RDONLY)
        guard descriptor >= 0 else {
            throw SecretsError.configuration(
                "could not open the key file's directory \(directory) to sync it: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // Some file systems cannot sync a directory (EINVAL); there the rename is as durable as it gets.
        if fsync(descriptor) != 0, errno != EINVAL {
            throw SecretsError.configuration(
                "could not sync the key file's directory \(directory): \(String(cString: strerror(errno)))")
        }
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
