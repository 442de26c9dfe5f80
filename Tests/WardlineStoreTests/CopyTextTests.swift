import Testing
import WardlineCore
@testable import WardlineStore

@Suite struct CopyTextTests {
    @Test func escapesWhatTheFormatReserves() {
        var c = CopyText()
        c.column("a\tb\nc\\d\r\u{0}e")
        c.column(nil as String?)
        c.column(Int64(-5))
        c.column(true)
        c.column(36.8)
        c.endRow()
        #expect(String(decoding: c.bytes, as: UTF8.self) == "a\\tb\\nc\\\\d\\r\u{FFFD}e\t\\N\t-5\tt\t36.8\n")
    }

    @Test func encodesAReadingWithMissingVitalsAsNull() {
        let r = Reading(deviceID: "oxi-1", patientID: "PAT-1", seq: 3, time: 1000, receivedAt: 1001,
                        vitals: Vitals(heartRate: 70, spo2: 96))
        let line = String(decoding: VitalsStore.encode([r]), as: UTF8.self)
        #expect(line == "1000\toxi-1\tPAT-1\t3\t70.0\t96.0\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t1001\t\\N\n")
    }
}
