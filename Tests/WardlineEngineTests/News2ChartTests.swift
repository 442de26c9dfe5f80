import Testing
import WardlineCore
@testable import WardlineEngine

/// Every band boundary of the RCP NEWS2 chart (2017), written from the published chart. Values
/// between two bands (the chart has whole numbers, and tenths of a degree) score the worse of
/// the two neighbouring bands.
@Suite struct News2ChartTests {
    @Test("Respiration rate: ≤8 3, 9–11 1, 12–20 0, 21–24 2, ≥25 3", arguments: [
        (4.0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (40, 3),
        (8.5, 3), (11.5, 1), (20.5, 2), (24.5, 3),
    ])
    func respiration(_ value: Double, _ expected: Int) {
        #expect(News2Chart.respirationScore(value) == expected)
    }

    @Test("SpO2 scale 1: ≤91 3, 92–93 2, 94–95 1, ≥96 0, whatever the oxygen", arguments: [
        (80.0, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0),
        (91.5, 3), (93.5, 2), (95.5, 1),
    ])
    func spo2Scale1(_ value: Double, _ expected: Int) {
        for o2 in [false, true, nil] as [Bool?] {
            #expect(News2Chart.oxygenSaturationScore(value, scale: .scale1, onOxygen: o2) == expected)
        }
    }

    @Test("SpO2 scale 2 on air: ≤83 3, 84–85 2, 86–87 1, 88–92 0, ≥93 0", arguments: [
        (75.0, 3), (83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 0), (97, 0), (100, 0),
        (83.5, 3), (85.5, 2), (87.5, 1), (92.5, 0),
    ])
    func spo2Scale2OnAir(_ value: Double, _ expected: Int) {
        #expect(News2Chart.oxygenSaturationScore(value, scale: .scale2, onOxygen: false) == expected)
    }

    @Test("SpO2 scale 2 on oxygen: ≤83 3, 84–85 2, 86–87 1, 88–92 0, 93–94 1, 95–96 2, ≥97 3", arguments: [
        (75.0, 3), (83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 1), (94, 1), (95, 2), (96, 2),
        (97, 3), (100, 3),
        (87.5, 1), (92.5, 1), (94.5, 2), (96.5, 3),
    ])
    func spo2Scale2OnOxygen(_ value: Double, _ expected: Int) {
        #expect(News2Chart.oxygenSaturationScore(value, scale: .scale2, onOxygen: true) == expected)
    }

    @Test func spo2Scale2WithOxygenUnknownScoresAsAirTheLowestItCouldBe() {
        #expect(News2Chart.oxygenSaturationScore(97, scale: .scale2, onOxygen: nil) == 0)
        #expect(News2Chart.oxygenSaturationScore(85, scale: .scale2, onOxygen: nil) == 2)
    }

    @Test func airOrOxygen() {
        #expect(News2Chart.supplementalOxygenScore(false) == 0)
        #expect(News2Chart.supplementalOxygenScore(true) == 2)
    }

    @Test("Systolic BP: ≤90 3, 91–100 2, 101–110 1, 111–219 0, ≥220 3", arguments: [
        (60.0, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (260, 3),
        (90.5, 3), (100.5, 2), (110.5, 1), (219.5, 3),
    ])
    func systolic(_ value: Double, _ expected: Int) {
        #expect(News2Chart.systolicScore(value) == expected)
    }

    @Test("Pulse: ≤40 3, 41–50 1, 51–90 0, 91–110 1, 111–130 2, ≥131 3", arguments: [
        (0.0, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3), (180, 3),
        (40.5, 3), (50.5, 1), (90.5, 1), (110.5, 2), (130.5, 3),
    ])
    func pulse(_ value: Double, _ expected: Int) {
        #expect(News2Chart.pulseScore(value) == expected)
    }

    @Test("Consciousness: A 0; new confusion, V, P, U 3", arguments: [
        (Consciousness.alert, 0), (.newConfusion, 3), (.voice, 3), (.pain, 3), (.unresponsive, 3),
    ])
    func consciousness(_ level: Consciousness, _ expected: Int) {
        #expect(News2Chart.consciousnessScore(level) == expected)
    }

    @Test("Temperature: ≤35.0 3, 35.1–36.0 1, 36.1–38.0 0, 38.1–39.0 1, ≥39.1 2", arguments: [
        (33.0, 3), (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2), (41.0, 2),
        (35.05, 3), (36.05, 1), (38.05, 1), (39.05, 2),
    ])
    func temperature(_ value: Double, _ expected: Int) {
        #expect(News2Chart.temperatureScore(value) == expected)
    }

    @Test("Clinical risk: 0–4 low, a single 3 low-medium, 5–6 medium, ≥7 high", arguments: [
        (0, false, News2Risk.low), (4, false, .low), (3, true, .lowMedium), (4, true, .lowMedium),
        (5, false, .medium), (5, true, .medium), (6, true, .medium), (7, false, .high), (7, true, .high), (19, true, .high),
    ])
    func risk(_ total: Int, _ single3: Bool, _ expected: News2Risk) {
        #expect(News2Chart.risk(total: total, anyParameterScoredThree: single3) == expected)
    }
}

/// Whole scores: the aggregate of the seven parameters and its risk, complete or not.
@Suite struct News2ScoreTests {
    func score(rr: Double? = 15, spo2: Double? = 97, o2: Bool? = false, sbp: Double? = 124, hr: Double? = 76,
               acvpu: Consciousness? = .alert, temp: Double? = 36.9, scale: SpO2Scale = .scale1) -> News2Score {
        News2Score(respirationRate: rr, spo2: spo2, onOxygen: o2, systolicBP: sbp, pulse: hr, consciousness: acvpu,
                   temperature: temp, scale: scale)
    }

    @Test func aStableAdultScoresZero() {
        let s = score()
        #expect(s.total == 0 && s.risk == .low && s.isComplete && s.missing.isEmpty)
    }

    @Test("Aggregates add every parameter", arguments: [
        // RR 21 (2) + SpO2 95 (1) + pulse 91 (1): 4, low.
        (21.0, 95.0, false, 124.0, 91.0, Consciousness.alert, 36.9, 4, News2Risk.low),
        // New confusion alone: a single 3, low-medium.
        (15, 97, false, 124, 76, .newConfusion, 36.9, 3, .lowMedium),
        // SBP 90 (3) + temperature 38.1 (1): 4 with a single 3.
        (15, 97, false, 90, 76, .alert, 38.1, 4, .lowMedium),
        // Oxygen (2) + SpO2 94 (1) + RR 22 (2): 5, medium.
        (22, 94, true, 124, 76, .alert, 36.9, 5, .medium),
        // RR 25 (3) + SpO2 93 (2) + pulse 111 (2): 7, high.
        (25, 93, false, 124, 111, .alert, 36.9, 7, .high),
        // Everything at its worst on scale 1: 3+3+2+3+3+3+2.
        (30, 85, true, 80, 140, .unresponsive, 40, 19, .high),
    ])
    func aggregate(_ rr: Double, _ spo2: Double, _ o2: Bool, _ sbp: Double, _ hr: Double, _ acvpu: Consciousness,
                   _ temp: Double, _ total: Int, _ risk: News2Risk) {
        let s = score(rr: rr, spo2: spo2, o2: o2, sbp: sbp, hr: hr, acvpu: acvpu, temp: temp)
        #expect(s.total == total)
        #expect(s.risk == risk)
    }

    @Test func scale2ChangesOnlyTheSpO2Row() {
        let onAir = score(spo2: 89, o2: false, scale: .scale2)
        #expect(onAir[.oxygenSaturation] == 0 && onAir.total == 0)
        let onOxygen = score(spo2: 97, o2: true, scale: .scale2)
        #expect(onOxygen[.oxygenSaturation] == 3 && onOxygen[.supplementalOxygen] == 2 && onOxygen.total == 5)
        #expect(score(spo2: 97, o2: true, scale: .scale1).total == 2)
    }

    @Test func aScoreWithMissingParametersSaysWhichAndIsALowerBound() {
        // A pulse oximeter alone: pulse 131 (3) and SpO2 91 (3).
        let s = score(rr: nil, spo2: 91, o2: nil, sbp: nil, hr: 131, acvpu: nil, temp: nil)
        #expect(!s.isComplete)
        #expect(s.missing.members == [.respirationRate, .supplementalOxygen, .systolicBP, .consciousness, .temperature])
        #expect(s[.respirationRate] == nil && s[.pulse] == 3 && s[.oxygenSaturation] == 3)
        #expect(s.total == 6 && s.risk == .medium)
        #expect(s.description.contains("+?"))
    }
}
