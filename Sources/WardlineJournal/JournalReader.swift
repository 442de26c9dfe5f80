#if canImport(Glibc)
import Glibc
#endif

/// Reads journalled messages back in order: at start-up (whatever the last run had not committed)
/// and while the database is back after an outage (the spilled part). Safe to use beside a live
/// `JournalWriter` for positions the writer has already handed out.
public struct JournalReader: Sendable {
    public let directory: String
    public let segmentBytes: Int

    public init(directory: String, segmentBytes: Int = 64 << 20) {
        self.directory = directory
        self.segmentBytes = segmentBytes
    }

    /// Calls `body` for each complete record from `from` (inclusive) up to `through` (inclusive,
    /// or the end of what is written). `body` returns false to stop early.
    /// Returns the number of records read and whether a damaged record ended the read.
    @discardableResult
    public func read(from: JournalPosition, through: JournalPosition? = nil,
                     _ body: (JournalRecord) -> Bool) throws -> (records: Int, damaged: Bool) {
        var count = 0
        for segment in JournalFormat.segments(in: directory) where segment >= from.segment {
            if let through, segment > through.segment { break }
            let start = segment == from.segment ? Int(from.offset) : 0
            let (n, stop, damaged) = try readSegment(segment, from: start, through: through, body)
            count += n
            if stop || damaged { return (count, damaged) }
        }
        return (count, false)
    }

    private func readSegment(_ segment: UInt32, from start: Int, through: JournalPosition?,
                             _ body: (JournalRecord) -> Bool) throws -> (Int, Bool, Bool) {
        let path = directory + "/" + JournalFormat.segmentName(segment)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw JournalError(operation: "stat", path: path, errno: errno) }
        let size = Int(st.st_size)
        guard size > 0 else { return (0, false, false) }
        let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        guard let mapped, mapped != MAP_FAILED else { throw JournalError(operation: "mmap", path: path, errno: errno) }
        defer { munmap(mapped, size) }
        var offset = start
        var count = 0
        while offset + JournalFormat.headerBytes <= size {
            let position = JournalPosition(segment: segment, offset: UInt32(offset))
            if let through, position > through { return (count, true, false) }
            let header = mapped + offset
            let length = Int(UInt32(littleEndian: header.loadUnaligned(as: UInt32.self)))
            if length == 0 { break }  // end of what this segment holds
            let b = header + JournalFormat.headerBytes
            guard length >= JournalFormat.bodyPrefixBytes, offset + JournalFormat.headerBytes + length <= size,
                  UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                    == JournalFormat.checksum(UnsafeRawBufferPointer(start: b, count: length))
            else { return (count, true, true) }
            let receivedAt = Int64(littleEndian: b.loadUnaligned(as: Int64.self))
            let payloadSize = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            let topicCount = Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 12, as: UInt16.self)))
            let topic = String(decoding: UnsafeRawBufferPointer(start: b + 14, count: topicCount), as: UTF8.self)
            let payload = [UInt8](UnsafeRawBufferPointer(start: b + 14 + topicCount, count: length - 14 - topicCount))
            count += 1
            if !body(JournalRecord(position: position, topic: topic, payload: payload,
                                   payloadSize: payloadSize, receivedAt: receivedAt)) {
                return (count, true, false)
            }
            offset += JournalFormat.align(JournalFormat.headerBytes + length)
        }
        return (count, false, false)
    }
}
