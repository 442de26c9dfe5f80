/// A place in the journal: a segment number and a byte offset in it. Positions only grow, across
/// restarts too (each start opens a new segment), so they also identify a received message.
public struct JournalPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(segment: UInt32, offset: UInt32) { rawValue = UInt64(segment) << 32 | UInt64(offset) }

    public var segment: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }
    public var offset: UInt32 { UInt32(truncatingIfNeeded: rawValue) }

    public static let start = JournalPosition(rawValue: 0)
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(segment):\(offset)" }
}

/// One journalled MQTT message.
public struct JournalRecord: Sendable {
    public var position: JournalPosition
    public var topic: String
    /// The payload as received, cut to the journal's bound (`payloadSize` tells the real size).
    public var payload: [UInt8]
    public var payloadSize: Int
    public var receivedAt: Int64
}

public struct JournalError: Error, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32
    public var description: String { "journal: \(operation) \(path) failed: \(String(cString: strerror(errno)))" }
}

#if canImport(Glibc)
import Glibc
#endif

/// The on-disk layout, shared by writer and reader.
enum JournalFormat {
    /// Record header: body length (u32, written last, so a record is complete once it is non-zero)
    /// and an FNV-1a checksum of the body (u32, catches torn pages after a power cut).
    static let headerBytes = 8
    /// Body prefix: receivedAt (i64), payloadSize (u32), topic length (u16).
    static let bodyPrefixBytes = 14

    static func segmentName(_ n: UInt32) -> String {
        let digits = String(n)
        return "segment-" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits + ".wal"
    }

    static func segmentNumber(_ name: String) -> UInt32? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".wal") else { return nil }
        return UInt32(name.dropFirst(8).dropLast(4))
    }

    static func align(_ n: Int) -> Int { (n + 7) & ~7 }

    /// FNV-1a style, eight bytes at a time (a byte-at-a-time loop was most of `append`'s cost).
    static func checksum(_ p: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt64 = 14_695_981_039_346_656_037
        var i = 0
        while i + 8 <= p.count {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 1_099_511_628_211
            i += 8
        }
        while i < p.count { h = (h ^ UInt64(p[i])) &* 1_099_511_628_211; i += 1 }
        let folded = UInt32(truncatingIfNeeded: h ^ (h >> 32))
        return folded == 0 ? 1 : folded
    }

    static func segments(in directory: String) -> [UInt32] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [UInt32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if let n = segmentNumber(name) { found.append(n) }
        }
        return found.sorted()
    }

    static func makeDirectory(_ path: String) throws {
        var partial = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            partial += (partial.isEmpty && path.hasPrefix("/") ? "" : (partial.isEmpty ? "" : "/")) + component
            if partial.isEmpty { partial = "/"; continue }
            if mkdir(partial, 0o755) != 0 && errno != EEXIST { throw JournalError(operation: "mkdir", path: partial, errno: errno) }
        }
    }
}
