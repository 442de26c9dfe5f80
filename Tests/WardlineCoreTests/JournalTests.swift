import Foundation
import Testing
import WardlineJournal

@Suite struct JournalTests {
    let directory = NSTemporaryDirectory() + "wardline-journal-\(UUID().uuidString)"

    func append(_ journal: JournalWriter, _ topic: String, _ payload: String, at time: Int64 = 1) throws -> JournalPosition {
        try Array(payload.utf8).withUnsafeBytes { try journal.append(topic: topic, payload: $0, receivedAt: time) }
    }

    func readAll(from: JournalPosition = .start, through: JournalPosition? = nil) throws -> [JournalRecord] {
        var out: [JournalRecord] = []
        try JournalReader(directory: directory, segmentBytes: 4096).read(from: from, through: through) { out.append($0); return true }
        return out
    }

    @Test func recordsComeBackInOrderAcrossSegments() throws {
        let journal = try JournalWriter(directory: directory, segmentBytes: 4096)
        var positions: [JournalPosition] = []
        for i in 0..<200 { positions.append(try append(journal, "devices/d\(i)/vitals", #"{"seq":\#(i)}"#, at: Int64(i))) }
        #expect(positions == positions.sorted(), "positions only grow")
        #expect(journal.currentSegment > 1, "small segments roll over")
        let records = try readAll()
        #expect(records.count == 200)
        #expect(records.map(\.topic) == (0..<200).map { "devices/d\($0)/vitals" })
        #expect(records.map(\.receivedAt) == (0..<200).map(Int64.init))
        #expect(String(decoding: records[17].payload, as: UTF8.self) == #"{"seq":17}"#)
        #expect(try readAll(from: positions[150]).count == 50)
        #expect(try readAll(from: positions[10], through: positions[19]).count == 10)
    }

    @Test func aRestartOpensANewSegmentAndKeepsTheOldOne() throws {
        var first: JournalPosition
        do {
            let journal = try JournalWriter(directory: directory, segmentBytes: 4096)
            first = try append(journal, "devices/a/vitals", "1")
        }
        let reopened = try JournalWriter(directory: directory, segmentBytes: 4096)
        let second = try append(reopened, "devices/a/vitals", "2")
        #expect(second.segment == first.segment + 1)
        #expect(try readAll().map { String(decoding: $0.payload, as: UTF8.self) } == ["1", "2"])
    }

    @Test func checkpointSurvivesAndRemovesOldSegments() throws {
        let journal = try JournalWriter(directory: directory, segmentBytes: 4096)
        var positions: [JournalPosition] = []
        for i in 0..<200 { positions.append(try append(journal, "t", String(repeating: "x", count: 40 + i % 7))) }
        let checkpoint = try JournalCheckpoint(directory: directory)
        checkpoint.advance(to: positions[150])
        checkpoint.advance(to: positions[100])  // never backwards
        #expect(JournalCheckpoint.read(directory: directory) == positions[150])
        let remaining = try readAll()
        #expect(remaining.first!.position.segment == positions[150].segment, "segments before the checkpoint are gone")
        #expect(remaining.last!.position == positions[199])
    }

    @Test func keepsOnlyAPrefixOfAnOversizedPayload() throws {
        let journal = try JournalWriter(directory: directory, segmentBytes: 4096, keptPayloadBytes: 16)
        _ = try append(journal, "t", String(repeating: "y", count: 1000))
        let r = try #require(try readAll().first)
        #expect(r.payload.count == 16)
        #expect(r.payloadSize == 1000)
    }

    @Test func aDamagedRecordEndsTheReadAndIsReported() throws {
        let journal = try JournalWriter(directory: directory, segmentBytes: 4096)
        let a = try append(journal, "t", "first")
        _ = try append(journal, "t", "second")
        journal.sync()
        // Flip a byte inside the second record's body, as a torn page after a power cut would.
        let path = directory + "/segment-" + String(format: "%010d", a.segment) + ".wal"
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let firstLength = 8 + 14 + 1 + 5
        try handle.seek(toOffset: UInt64((firstLength + 7) & ~7 + 20))
        handle.write(Data([0xFF]))
        try handle.close()
        var seen: [String] = []
        let result = try JournalReader(directory: directory, segmentBytes: 4096).read(from: .start) {
            seen.append(String(decoding: $0.payload, as: UTF8.self)); return true
        }
        #expect(seen == ["first"])
        #expect(result.damaged)
    }

    @Test func aJournalKeepsOneIdentityForLife() throws {
        let first = try JournalIdentity.load(directory: directory)
        #expect(first.count == 36 && first.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(try JournalIdentity.load(directory: directory) == first, "reopening keeps the id")
        #expect(try JournalIdentity.load(directory: directory + "-other") != first, "another journal, another id")
    }
}
