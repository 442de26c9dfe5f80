#if canImport(Glibc)
import Glibc
#endif

/// Whether the journal has room to take more messages: the free space on its file system and its
/// own segment bound (the disk spool's size). Pure: the caller measures, this decides, with
/// hysteresis so a disk hovering at the line does not make intake flap.
public struct JournalRoom: Sendable, Equatable {
    /// Free space the journal leaves to everything else on its file system.
    public var minFreeBytes: Int
    public var segmentBytes: Int
    /// Segments the journal may hold from the oldest one still needed to the current one.
    public var maxSegments: Int

    public init(minFreeBytes: Int, segmentBytes: Int, maxSegments: Int) {
        self.minFreeBytes = minFreeBytes
        self.segmentBytes = segmentBytes
        self.maxSegments = maxSegments
    }

    /// Intake pauses below this: the floor plus one segment, so that the segment the message in
    /// hand may need can still be created when the pause is decided.
    public var watermarkBytes: Int { minFreeBytes + segmentBytes }
    /// Paused intake resumes at this: one more segment above the watermark.
    public var resumeBytes: Int { watermarkBytes + segmentBytes }

    public enum Shortage: Sendable, Equatable, CustomStringConvertible {
        case diskLow(freeBytes: Int, watermarkBytes: Int)
        case segmentBound(segments: Int, bound: Int)
        /// The disk refused a new segment (filled faster than the watermark saw, or an I/O error).
        case refused(reason: String)

        public var description: String {
            switch self {
            case .diskLow(let free, let watermark): "disk free \(free >> 20) MB below watermark \(watermark >> 20) MB"
            case .segmentBound(let n, let bound): "journal holds \(n) segments, its bound (WARDLINE_JOURNAL_MAX_SEGMENTS) is \(bound)"
            case .refused(let reason): "the disk refused a new segment: \(reason)"
            }
        }
    }

    /// What stops intake now, or nil when it may run. `pausedFor`: the shortage intake is paused
    /// for, if it is; resuming then needs `resumeBytes` free. A refused segment is retried once the
    /// disk looks fine (the caller paces the retries).
    public func shortage(freeBytes: Int, segmentsHeld: Int, pausedFor: Shortage?) -> Shortage? {
        let needed = pausedFor == nil ? watermarkBytes : resumeBytes
        if freeBytes < needed { return .diskLow(freeBytes: freeBytes, watermarkBytes: watermarkBytes) }
        if segmentsHeld >= maxSegments { return .segmentBound(segments: segmentsHeld, bound: maxSegments) }
        return nil
    }

    /// Bytes an unprivileged writer may still use on the file system holding `directory`.
    public static func freeBytes(in directory: String) throws -> Int {
        var s = statvfs()
        guard statvfs(directory, &s) == 0 else { throw JournalError(operation: "statvfs", path: directory, errno: errno) }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }
}
