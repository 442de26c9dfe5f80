import Foundation
import Testing
import WardlineCore
@testable import WardlineEngine
import WardlineRules

/// Rule-set files: the shipped defaults are the built-in ones, every class of error is reported
/// with its path, and a reloaded set takes effect on a running engine.
@Suite struct RuleSetFileTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func problems(_ text: String) -> [RuleSetProblem] {
        do {
            _ = try RuleSetDocument.read(Array(text.utf8))
            return []
        } catch { return error.problems }
    }

    /// A minimal valid file, with `thresholds` and `extra` spliced in.
    static func file(thresholds: String = #"[{"vital": "spo2", "direction": "below", "bands": [{"limit": 90, "priority": "high", "persistence_s": 10}], "clear_at": 93}]"#,
                     extra: String = "") -> String {
        """
        {"format": "wardline.rules/1", "version": "t1", "thresholds": \(thresholds), "anomalies": [],
         "news2": {"low_medium": null, "medium": "medium", "high": "high", "persistence_s": 30}\(extra)}
        """
    }

    @Test func theShippedDefaultsAreTheBuiltInOnes() throws {
        let data = try Data(contentsOf: Self.repo.appendingPathComponent("rules/hospital-default.json"))
        let set = try RuleSetDocument.read([UInt8](data))
        let builtIn = EngineConfiguration()
        #expect(set.configuration.thresholdRules == builtIn.thresholdRules)
        #expect(set.configuration.scale2ThresholdRules == builtIn.scale2ThresholdRules)
        #expect(set.configuration.anomalyRules == builtIn.anomalyRules)
        #expect(set.configuration.news2Alarm == builtIn.news2Alarm)
        #expect(set.configuration.latchingPriorities == builtIn.latchingPriorities)
        #expect(set.configuration.staleDataAfter == builtIn.staleDataAfter && set.configuration.offlineGrace == builtIn.offlineGrace)
        #expect(set.configuration.evidenceGap == builtIn.evidenceGap && set.configuration.news2Staleness == builtIn.news2Staleness)
        // And what `wardline rules defaults` prints reads back the same.
        let written = RuleSetWriter.json(builtIn, version: "x", title: "x")
        #expect(try RuleSetDocument.read(Array(written.utf8)).configuration.thresholdRules == builtIn.thresholdRules)
    }

    @Test func everyShippedExampleIsValid() throws {
        let folder = Self.repo.appendingPathComponent("rules")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") && !$0.contains("schema") }
        #expect(files.count >= 3)
        for f in files {
            let data = try Data(contentsOf: folder.appendingPathComponent(f))
            #expect(throws: Never.self, "\(f)") { try RuleSetDocument.read([UInt8](data)) }
        }
    }

    @Test func notJSONSaysSo() {
        let p = Self.problems(#"{"format": "wardline.rules/1", "version": "#)
        #expect(p.count == 1 && p[0].path == "" && p[0].message.hasPrefix("not JSON"))
    }

    @Test func everyProblemIsReportedAtItsPathNotOnlyTheFirst() {
        let p = Self.problems("""
            {"format": "wardline.rules/2", "version": "", "thresholds": [
               {"vital": "pulse", "direction": "up", "bands": [{"limit": "ninety", "priority": "urgent", "persistence_s": -1}], "clear_at": 93, "colour": "red"},
               {"vital": "hr", "direction": "above", "bands": [{"limit": 120, "priority": "medium"}]}
             ], "anomalies": [{"id": "a", "vital": "hr", "measure": {"change_over_minutes": 5, "ratio_to_hourly_baseline": true},
                              "direction": "above", "raise_at": 1, "clear_at": 0.5, "priority": "low"}],
             "news2": {"high": "critical", "persistence_s": 99999}, "latching_priorities": "high", "timers": {"offline_grace_s": "ten"},
             "wards": {"": {"thresholds": []}, "COPD": {"rules": []}}, "extra": 1}
            """)
        let paths = Set(p.map(\.path))
        for expected in ["format", "version", "thresholds[0].vital", "thresholds[0].direction", "thresholds[0].bands[0].limit",
                         "thresholds[0].bands[0].priority", "thresholds[0].bands[0].persistence_s", "thresholds[0].colour",
                         "thresholds[1].clear_at", "anomalies[0].measure", "news2.high", "news2.persistence_s", "latching_priorities",
                         "timers.offline_grace_s", "wards.", "wards.COPD.rules", "wards.COPD.thresholds", "extra"] {
            #expect(paths.contains(expected), "no problem reported at \(expected): \(p)")
        }
        #expect(p.first { $0.path == "thresholds[0].vital" }?.message.contains("\"hr\"") == true)  // says what is allowed
        #expect(p.first { $0.path == "extra" }?.message.contains("unknown field") == true)
    }

    @Test func missingSectionsAndWrongTypes() {
        let p = Self.problems(#"{"format": "wardline.rules/1", "version": 3, "thresholds": {}}"#)
        #expect(Set(p.map(\.path)).isSuperset(of: ["version", "thresholds", "anomalies", "news2"]))
        #expect(p.first { $0.path == "anomalies" }?.message == "missing (required)")
    }

    @Test func clinicalNonsenseIsRefusedWhereItIs() {
        // A clear level beyond the alarm limit: the alarm could never clear.
        let p = Self.problems(Self.file(thresholds: #"[{"vital": "spo2", "direction": "below", "bands": [{"limit": 90, "priority": "high"}], "clear_at": 85}]"#))
        #expect(p.count == 1 && p[0].path == "thresholds[0]" && p[0].message.contains("could never clear"), "\(p)")
        // Bands out of priority order, and an id used twice.
        let q = Self.problems(Self.file(thresholds: """
            [{"vital": "hr", "direction": "above", "bands": [{"limit": 120, "priority": "high"}, {"limit": 130, "priority": "medium"}], "clear_at": 110},
             {"id": "hr.high", "vital": "hr", "direction": "above", "bands": [], "clear_at": 1}]
            """))
        #expect(q.contains { $0.path == "thresholds[1].id" && $0.message.contains("twice") }, "\(q)")
        let r = Self.problems(Self.file(thresholds: """
            [{"vital": "hr", "direction": "above", "bands": [{"limit": 120, "priority": "high"}, {"limit": 130, "priority": "medium"}], "clear_at": 110}]
            """))
        #expect(r.contains { $0.path == "thresholds[0]" && $0.message.contains("higher priority") }, "\(r)")
        // A ward's rule is placed in its ward.
        let w = Self.problems(Self.file(extra: """
            , "wards": {"COPD": {"thresholds": [{"vital": "spo2", "direction": "below", "bands": [{"limit": 88, "priority": "high"}], "clear_at": 80}]}}
            """))
        #expect(w.count == 1 && w[0].path == "wards.COPD.thresholds[0]", "\(w)")
    }

    @Test func aWardSetAppliesToItsPatientsOnly() throws {
        let set = try RuleSetDocument.read(Array(Self.file(extra: """
            , "wards": {"COPD": {"thresholds": [{"id": "spo2.low", "vital": "spo2", "direction": "below", "bands": [{"limit": 85, "priority": "high", "persistence_s": 10}], "clear_at": 87}]}}
            """).utf8))
        let ward = Ward(set.configuration)
        ward.engine.setWard(patientID: "COPD-1", ward: "COPD")
        let at88 = stable.with { $0.spo2 = 88 }
        ward.run(seconds: 40, patient: "COPD-1", device: "oxi-1") { _ in at88 }
        ward.run(seconds: 40, patient: "GEN-1", device: "oxi-2") { _ in at88 }
        #expect(!ward.engine.openAlarms(patientID: "COPD-1").contains { $0.ruleID == "spo2.low" })
        let general = try #require(ward.engine.openAlarms(patientID: "GEN-1").first { $0.ruleID == "spo2.low" })
        #expect(general.ruleSet == "t1")
    }

    @Test func aReloadTakesEffectAndAnUnfitOneIsRefused() throws {
        let ward = Ward(try RuleSetDocument.read(Array(Self.file().utf8)).configuration)
        let at91 = stable.with { $0.spo2 = 91 }
        ward.run(seconds: 30) { _ in at91 }
        #expect(ward.raised.isEmpty)  // limit 90
        var stricter = try RuleSetDocument.read(Array(Self.file(thresholds: #"[{"vital": "spo2", "direction": "below", "bands": [{"limit": 92, "priority": "high", "persistence_s": 10}], "clear_at": 94}]"#).utf8)).configuration
        stricter.ruleSetVersion = "t2"
        try ward.engine.reconfigure(stricter)
        ward.run(seconds: 30) { _ in at91 }
        #expect(ward.raised == ["spo2.low"])
        #expect(ward.open("spo2.low")?.ruleSet == "t2")
        var watching = stricter
        watching.anomalyRules = HospitalDefaults.anomalyRules
        #expect(throws: RuleSetChangeRefused.self) { try ward.engine.reconfigure(watching) }
        #expect(ward.engine.configuration.ruleSetVersion == "t2")
    }
}
