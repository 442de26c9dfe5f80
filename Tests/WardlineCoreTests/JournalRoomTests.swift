import Foundation
import Testing
import WardlineJournal

/// The free-space watermark and segment bound that pause MQTT intake, and segments that are
/// reserved up front so a full disk is an error at creation, never a SIGBUS in a copy.
@Suite struct JournalRoomTests {
    static let mb = 1 << 20
    let room = JournalRoom(minFreeBytes: 100 * mb, segmentBytes: 64 * mb, maxSegments: 8)

    @Test func watermarkIsTheFloorPlusOneSegmentAndResumingNeedsOneMore() {
        #expect(room.watermarkBytes == 164 * Self.mb)
        #expect(room.resumeBytes == 228 * Self.mb)
    }

    @Test(arguments: [
        // free MB, segments held, paused?, pauses (or stays paused)?
        (500, 1, false, false),
        (164, 1, false, false),  // at the watermark: still room for the segment a message may need
        (163, 1, false, true),
        (0, 1, false, true),
        (200, 1, true, true),    // above the watermark but not yet a segment above it: stays paused
        (227, 1, true, true),
        (228, 1, true, false),
        (500, 8, false, true),   // the journal's own bound
        (500, 7, true, false),
    ])
    func decidesFromFreeSpaceAndSegments(freeMB: Int, held: Int, paused: Bool, short: Bool) {
        let pausedFor: JournalRoom.Shortage? = paused ? .diskLow(freeBytes: 0, watermarkBytes: room.watermarkBytes) : nil
        let shortage = room.shortage(freeBytes: freeMB * Self.mb, segmentsHeld: held, pausedFor: pausedFor)
        #expect((shortage != nil) == short)
    }

    @Test func saysWhyInMegabytes() {
        let s = room.shortage(freeBytes: 3 * Self.mb + 1234, segmentsHeld: 1, pausedFor: nil)
        #expect(s == .diskLow(freeBytes: 3 * Self.mb + 1234, watermarkBytes: 164 * Self.mb))
        #expect("\(s!)" == "disk free 3 MB below watermark 164 MB")
        #expect("\(room.shortage(freeBytes: 1 << 40, segmentsHeld: 9, pausedFor: nil)!)".contains("WARDLINE_JOURNAL_MAX_SEGMENTS"))
    }

    @Test func aRefusedSegmentIsRetriedOnceTheDiskLooksFine() {
        let refused = JournalRoom.Shortage.refused(reason: "No space left on device")
        #expect(room.shortage(freeBytes: 1 << 40, segmentsHeld: 1, pausedFor: refused) == nil)
        #expect(room.shortage(freeBytes: 200 * Self.mb, segmentsHeld: 1, pausedFor: refused) != nil)
    }

    @Test func measuresTheFreeSpaceOfTheJournalsFileSystem() throws {
        #expect(try JournalRoom.freeBytes(in: NSTemporaryDirectory()) > 0)
        #expect(throws: JournalError.self) { try JournalRoom.freeBytes(in: "/nonexistent-\(UUID().uuidString)") }
    }

    @Test func segmentsAreReservedNotSparse() throws {
        let directory = NSTemporaryDirectory() + "wardline-journal-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try JournalWriter(directory: directory, segmentBytes: 1 << 20)
        let position = try Array("x".utf8).withUnsafeBytes { try journal.append(topic: "t", payload: $0, receivedAt: 1) }
        var st = stat()
        #expect(stat(directory + "/segment-\(String(format: "%010u", position.segment)).wal", &st) == 0)
        #expect(Int(st.st_blocks) * 512 >= 1 << 20, "every block of the segment is allocated")
    }

    /// A tmpfs of 1 MB (needs root to mount; skipped otherwise): a segment larger than the free
    /// space is refused by `append` as an error, leaves no file, and the next append after space
    /// is freed succeeds in a later segment.
    @Test func aFullDiskRefusesTheSegmentWithAnError() throws {
        let directory = NSTemporaryDirectory() + "wardline-tinyfs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard getuid() == 0, mount("tmpfs", directory, "tmpfs", 0, "size=1m") == 0 else { return }
        defer { umount2(directory, Int32(MNT_DETACH)) }

        let tooBig = try JournalWriter(directory: directory, segmentBytes: 4 << 20)
        #expect(throws: JournalError.self) {
            try Array("x".utf8).withUnsafeBytes { try tooBig.append(topic: "t", payload: $0, receivedAt: 1) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".wal") }.isEmpty)

        let journal = try JournalWriter(directory: directory, segmentBytes: 256 << 10, keptPayloadBytes: 256 << 10)
        func append(_ s: String) throws -> JournalPosition {
            try Array(s.utf8).withUnsafeBytes { try journal.append(topic: "t", payload: $0, receivedAt: 1) }
        }
        let first = try append("first")
        let filler = directory + "/filler"
        #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 700 << 10)))
        let big = String(repeating: "y", count: 200 << 10)
        _ = try append(big)  // fits the first segment
        #expect(throws: JournalError.self) { _ = try append(big) }  // needs a second one: refused
        try FileManager.default.removeItem(atPath: filler)
        let later = try append(big)
        #expect(later.segment > first.segment)
        var payloads: [Int] = []
        try JournalReader(directory: directory).read(from: .start) { payloads.append($0.payload.count); return true }
        #expect(payloads == [5, 200 << 10, 200 << 10], "nothing half-written, nothing lost that append accepted")
    }
}
