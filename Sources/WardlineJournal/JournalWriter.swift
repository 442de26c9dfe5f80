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
/// Owned by one thread (the MQTT thread). Each start opens a new segment, so positions only grow.
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
        try openSegment()
    }

    deinit { closeSegment() }

    /// The segment currently being written.
    public var currentSegment: UInt32 { segment }

    /// Appends one message and returns its position. Throws only when the disk refuses (full, I/O).
    public func append(topic: String, payload: UnsafeRawBufferPointer, receivedAt: Int64) throws -> JournalPosition {
        var topic = topic
        let kept = min(payload.count, keptPayloadBytes)
        return try topic.withUTF8 { topicBytes in
            let topicCount = min(topicBytes.count, Int(UInt16.max))
            let body = JournalFormat.bodyPrefixBytes + topicCount + kept
            let total = JournalFormat.align(JournalFormat.headerBytes + body)
            if offset + total > segmentBytes { try roll() }
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

    private func roll() throws {
        sync()
        closeSegment()
        segment += 1
        try openSegment()
    }

    private func openSegment() throws {
        let path = directory + "/" + JournalFormat.segmentName(segment)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError(operation: "open", path: path, errno: errno) }
        guard ftruncate(fd, off_t(segmentBytes)) == 0 else { throw JournalError(operation: "ftruncate", path: path, errno: errno) }
        let mapped = mmap(nil, segmentBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let mapped, mapped != MAP_FAILED else { throw JournalError(operation: "mmap", path: path, errno: errno) }
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
