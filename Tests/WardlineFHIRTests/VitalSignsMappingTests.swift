import Testing
import WardlineCore
import WardlineEngine
@testable import WardlineFHIR

/// Readings to FHIR Observations: codes, units, references and times as the R4 vital-signs
/// profiles want them, NEWS2 only from a complete reading, hourly means marked as means.
@Suite struct VitalSignsMappingTests {
    static let t: Int64 = 1_764_624_724_123  // 2025-12-01T21:32:04.123Z
    static let full = Vitals(heartRate: 72, spo2: 97, temperature: 36.9, respiratoryRate: 16, systolicBP: 120, diastolicBP: 80,
                             onOxygen: false, consciousness: .alert)

    func reading(_ v: Vitals = full) -> Reading {
        Reading(deviceID: "bed7-mon", patientID: "PAT-1", seq: 42, time: Self.t, receivedAt: Self.t + 5, vitals: v)
    }

    func json(_ o: Observation) -> JSONValue { JSONValue.parse(JSONText.encode(o, .sorted))! }

    @Test func everyKindOfACompleteReadingInOrder() {
        let obs = VitalSignsMapping.observations(of: reading(), kinds: ObservationKind.allCases, scale: .scale1)
        #expect(obs.map { $0.code.coding[0].code } == ["8867-4", "2708-6", "9279-1", "8310-5", "85354-9", "1104051000000101"])
        #expect(obs[1].code.coding.map(\.code) == ["2708-6", "59408-5"])
        #expect(obs.prefix(4).map { $0.valueQuantity?.code } == ["/min", "%", "/min", "Cel"])
        #expect(obs.prefix(4).map { $0.valueQuantity?.value } == [72, 97, 16, 36.9])
        #expect(obs.allSatisfy { $0.subject.reference == "Patient/PAT-1" && $0.device.reference == "Device/bed7-mon" })
        #expect(obs.allSatisfy { $0.effectiveDateTime == "2025-12-01T21:32:04.123+00:00" && $0.status == "final" })
        #expect(obs.prefix(5).allSatisfy { $0.category[0].coding[0].code == "vital-signs" && $0.meta.profile?.first == FHIRSystems.vitalSignsProfile })
        #expect(obs[5].category[0].coding[0].code == "survey" && obs[5].meta.profile == nil)
        #expect(obs[0].identifier[0].value == "bed7-mon/42/\(Self.t)/hr")
    }

    @Test func bloodPressureHasBothComponentsAndSaysWhichIsMissing() {
        let bp = VitalSignsMapping.observations(of: reading(), kinds: [.bloodPressure], scale: .scale1)[0]
        #expect(bp.valueQuantity == nil)
        #expect(bp.component?.map { $0.code.coding[0].code } == ["8480-6", "8462-4"])
        #expect(bp.component?.map { $0.valueQuantity?.value } == [120, 80])
        #expect(bp.component?.allSatisfy { $0.valueQuantity?.code == "mm[Hg]" && $0.valueQuantity?.system == FHIRSystems.ucum } == true)
        let systolicOnly = VitalSignsMapping.observations(of: reading(Vitals(systolicBP: 95)), kinds: [.bloodPressure], scale: .scale1)[0]
        #expect(systolicOnly.component?[1].valueQuantity == nil)
        #expect(systolicOnly.component?[1].dataAbsentReason?.coding[0].code == "unknown")
    }

    @Test func news2OnlyFromAllSevenParametersOnThePatientsScale() {
        // RR 22 (2), SpO2 90 (scale 1: 3; scale 2 on air: 0), air (0), SBP 105 (1), HR 95 (1), A (0), 38.5 (1).
        let v = Vitals(heartRate: 95, spo2: 90, temperature: 38.5, respiratoryRate: 22, systolicBP: 105, onOxygen: false, consciousness: .alert)
        #expect(VitalSignsMapping.observations(of: reading(v), kinds: [.news2], scale: .scale1).first?.valueInteger == 8)
        #expect(VitalSignsMapping.observations(of: reading(v), kinds: [.news2], scale: .scale2).first?.valueInteger == 5)
        var partial = v
        partial.consciousness = nil
        #expect(VitalSignsMapping.observations(of: reading(partial), kinds: [.news2], scale: .scale1).isEmpty)
        #expect(VitalSignsMapping.observations(of: reading(partial), kinds: ObservationKind.allCases, scale: .scale1).count == 5)
    }

    @Test func aPulseOximeterGivesOnlyWhatItMeasured() {
        let obs = VitalSignsMapping.observations(of: reading(Vitals(heartRate: 60, spo2: 99)), kinds: ObservationKind.allCases, scale: .scale1)
        #expect(obs.map { $0.code.coding[0].code } == ["8867-4", "2708-6"])
    }

    @Test func hourlyMeansAreMarkedAndCoverOnlyTheSearchedPartOfTheHour() {
        let hour: Int64 = 1_764_622_800_000  // 21:00Z
        let h = HourOfReadings(hourStart: hour, deviceID: "bed7-mon", means: [
            "hr": HourlyMean(mean: 72.333333, readings: 3, min: 70, max: 75),
            "sbp": HourlyMean(mean: 120.5, readings: 2, min: 118, max: 123),
        ])
        let obs = VitalSignsMapping.observations(of: h, patientID: "PAT-1", kinds: ObservationKind.allCases, from: hour + 600_000, to: hour + 7_200_000)
        #expect(obs.map { $0.code.coding[0].code } == ["8867-4", "85354-9"])
        #expect(obs[0].valueQuantity?.value == 72.33)
        #expect(obs[0].effectiveDateTime == nil)
        #expect(obs[0].effectivePeriod == Period(start: "2025-12-01T21:10:00.000+00:00", end: "2025-12-01T22:00:00.000+00:00"))
        #expect(obs[0].note?[0].text == "mean of 3 readings over the hour (min 70, max 75)")
        #expect(obs.allSatisfy { $0.meta.tag?.first?.code == "hourly-mean" })
        #expect(obs[1].component?[1].dataAbsentReason != nil)
        let encoded = json(obs[0])
        #expect(encoded["effectivePeriod"]?["start"]?.string == "2025-12-01T21:10:00.000+00:00")
        #expect(encoded["effectiveDateTime"] == nil)
    }

    @Test func theJSONHasNoNullsAndNamesItsResourceType() {
        let o = json(VitalSignsMapping.observations(of: reading(), kinds: [.heartRate], scale: .scale1)[0])
        #expect(o["resourceType"]?.string == "Observation")
        #expect(o["valueQuantity"]?["system"]?.string == "http://unitsofmeasure.org")
        #expect(!String(decoding: JSONText.encode(o, .sorted), as: UTF8.self).contains("null"))
        #expect(o["component"] == nil && o["note"] == nil)
    }
}
