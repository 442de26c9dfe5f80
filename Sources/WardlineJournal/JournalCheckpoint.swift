#if canImport(Glibc)
import Glibc
#endif

/// Where replay must start: every message before this position is committed to the database.
/// Owned by the database writer; it also removes segments that lie wholly before the checkpoint.
public final class JournalCheckpoint: @unchecked Sendable {
    public let directory: String
    private let fd: Int32
    public private(set) var position: JournalPosition

    static func path(_ directory: String) -> String { directory + "/checkpoint" }

    /// The saved checkpoint, or the journal's start when there is none.
    public static func read(directory: String) -> JournalPosition {
        let fd = open(path(directory), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .start }
        defer { close(fd) }
        var raw: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &raw) { pread(fd, $0.baseAddress, 8, 0) }
        return n == 8 ? JournalPosition(rawValue: UInt64(littleEndian: raw)) : .start
    }

    public init(directory: String) throws {
        self.directory = directory
        try JournalFormat.makeDirectory(directory)
        position = Self.read(directory: directory)
        fd = open(Self.path(directory), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError(operation: "open", path: Self.path(directory), errno: errno) }
    }

    deinit { close(fd) }

    /// Records that everything before `newPosition` is committed; never moves backwards.
    /// An 8-byte aligned `pwrite` is atomic with respect to a crash of this process.
    public func advance(to newPosition: JournalPosition) {
        guard newPosition > position else { return }
        var raw = newPosition.rawValue.littleEndian
        let written = withUnsafeBytes(of: &raw) { pwrite(fd, $0.baseAddress, 8, 0) }
        guard written == 8 else { return }
        let oldSegment = position.segment
        position = newPosition
        if newPosition.segment > oldSegment { removeSegments(before: newPosition.segment) }
    }

    /// Deletes segment files that hold nothing after the checkpoint.
    private func removeSegments(before segment: UInt32) {
        for n in JournalFormat.segments(in: directory) where n < segment {
            unlink(directory + "/" + JournalFormat.segmentName(n))
        }
    }
}
