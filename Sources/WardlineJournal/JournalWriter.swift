#if canImport(Glibc)
import Glibc
#endif

/// Appends every received MQTT message to a memory-mapped segment file before Wardline acts on it.
///
/// Why: libmosquitto acknowledges a QoS 1 message to the broker before handing it to Wardline, so
/// from then on Wardline alone holds it. A `memcpy` into a shared file mapping survives a kill -9
/// (the kernel owns the page), costs no system call, and doubles as the on-disk spool while the
/// database is down. Power loss can lose what was written since the last `msync` (see `syncEvery`).
///
/// Segments are preallocated (`posix_fallocate`), never sparse: a full disk refuses the segment
/// when it is created, as an error `append` throws, instead of a SIGBUS in the copy into the
/// mapping. A segment is created on the first append after a start or a roll; one the disk refused
/// is tried again on the next append.
///
/// Owned by one thread (the MQTT thread). Each start writes a new segment, so positions only grow.
public final class JournalWriter: @unchecked Sendable {
    public let directory: String
    public let segmentBytes: Int
    /// Payload bytes kept per record; anything larger is an oversized payload, kept as a prefix.
    public let keptPayloadBytes: Int
    private let syncEveryMillis: Int64
    private var segment: UInt32
    private var fd: Int32 = -1
    private var base: UnsafeMutableRawPointer?
    private var offset = 0
    private var lastSync: Int64 = 0

    public init(directory: String, segmentBytes: Int = 64 << 20, keptPayloadBytes: Int = 64 * 1024 + 1,
                syncEveryMillis: Int64 = 1000) throws {
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.keptPayloadBytes = keptPayloadBytes
        self.syncEveryMillis = syncEveryMillis
        try JournalFormat.makeDirectory(directory)
        let checkpoint = JournalCheckpoint.read(directory: directory)
        segment = max(JournalFormat.segments(in: directory).last ?? 0, checkpoint.segment) + 1
    }

    deinit { closeSegment() }

    /// The segment currently being written (or next to be created).
    public var currentSegment: UInt32 { segment }

    /// Appends one message and returns its position. Throws only when the disk refuses a new
    /// segment (full, I/O); the message is then not in the journal, and the next call tries again.
    public func append(topic: String, payload: UnsafeRawBufferPointer, receivedAt: Int64) throws -> JournalPosition {
        var topic = topic
        let kept = min(payload.count, keptPayloadBytes)
        return try topic.withUTF8 { topicBytes in
            let topicCount = min(topicBytes.count, Int(UInt16.max))
            let body = JournalFormat.bodyPrefixBytes + topicCount + kept
            let total = JournalFormat.align(JournalFormat.headerBytes + body)
            if base != nil && offset + total > segmentBytes { roll() }
            if base == nil { try openSegment() }
            let record = base! + offset
            let b = record + JournalFormat.headerBytes
            b.storeBytes(of: receivedAt.littleEndian, toByteOffset: 0, as: Int64.self)
            b.storeBytes(of: UInt32(truncatingIfNeeded: payload.count).littleEndian, toByteOffset: 8, as: UInt32.self)
            b.storeBytes(of: UInt16(topicCount).littleEndian, toByteOffset: 12, as: UInt16.self)
            if topicCount > 0 { (b + 14).copyMemory(from: topicBytes.baseAddress!, byteCount: topicCount) }
            if kept > 0 { (b + 14 + topicCount).copyMemory(from: payload.baseAddress!, byteCount: kept) }
            let sum = JournalFormat.checksum(UnsafeRawBufferPointer(start: b, count: body))
            record.storeBytes(of: sum.littleEndian, toByteOffset: 4, as: UInt32.self)
            // The length goes in last: a record is complete only once it is non-zero.
            record.storeBytes(of: UInt32(body).littleEndian, toByteOffset: 0, as: UInt32.self)
            let position = JournalPosition(segment: segment, offset: UInt32(offset))
            offset += total
            if receivedAt - lastSync >= syncEveryMillis { sync(); lastSync = receivedAt }
            return position
        }
    }

    /// Flushes written records to disk (`msync`), bounding what a power cut could lose.
    public func sync() {
        if let base, offset > 0 { _ = msync(base, offset, MS_SYNC) }
    }

    private func roll() {
        sync()
        closeSegment()
        segment += 1
    }

    /// Creates the current segment with all its blocks reserved. On failure nothing is left behind
    /// (a half-reserved file would hold space and read as an empty segment).
    private func openSegment() throws {
        let path = directory + "/" + JournalFormat.segmentName(segment)
        let file = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw JournalError(operation: "open", path: path, errno: errno) }
        // posix_fallocate returns the error instead of setting errno.
        let reserved = posix_fallocate(file, 0, off_t(segmentBytes))
        guard reserved == 0 else {
            close(file)
            unlink(path)
            throw JournalError(operation: "reserving \(segmentBytes) bytes (posix_fallocate) for", path: path, errno: reserved)
        }
        let mapped = mmap(nil, segmentBytes, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
        guard let mapped, mapped != MAP_FAILED else {
            let e = errno
            close(file)
            unlink(path)
            throw JournalError(operation: "mmap", path: path, errno: e)
        }
        fd = file
        base = mapped
        offset = 0
    }

    private func closeSegment() {
        if let base { munmap(base, segmentBytes) }
        if fd >= 0 { close(fd) }
        base = nil
        fd = -1
    }
}
