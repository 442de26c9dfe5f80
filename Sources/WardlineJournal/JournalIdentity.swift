#if canImport(Glibc)
import Glibc
#endif

/// A journal's own id, made once when its folder is first used. Positions are unique only within
/// one journal; (journal id, position) is unique everywhere — across a wiped disk, a new machine,
/// or several Wardline nodes writing to one database.
public enum JournalIdentity {
    /// The id in `directory/journal-id`, creating it (a random UUID) when there is none.
    public static func load(directory: String) throws -> String {
        try JournalFormat.makeDirectory(directory)
        let path = directory + "/journal-id"
        if let existing = contents(path), existing.utf8.count == 36 { return existing }
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40  // version 4
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { r in
            String(hex[hex.index(hex.startIndex, offsetBy: r.lowerBound)..<hex.index(hex.startIndex, offsetBy: r.upperBound)])
        }
        let id = parts.joined(separator: "-")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno == EEXIST, let raced = contents(path) { return raced }
            throw JournalError(operation: "create", path: path, errno: errno)
        }
        defer { close(fd) }
        let written = id.withCString { write(fd, $0, 36) }
        guard written == 36, fsync(fd) == 0 else { throw JournalError(operation: "write", path: path, errno: errno) }
        return id
    }

    private static func contents(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, 64)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }
}
