import Dispatch
import WardlineEngine
import WardlineReplay

/// A stored period through the rules in force and a candidate (`ReplayComparison`): the
/// patients' own alarm settings and wards as both engines' starting point, the readings and the
/// devices' own alerts and status in receipt order from the database in bounded batches, then the comparison and the check against
/// the alarms the live run stored. What `wardline replay` and the API's replays share.
public enum RecordedReplay {
    /// `progress` is told the readings replayed so far after each batch; returning false stops the
    /// replay (throws `ReplayStopped`).
    public static func run(db: PostgresConnection, from: Int64, to: Int64, ward: String?,
                           inForce: EngineConfiguration, candidate: EngineConfiguration,
                           progress: (Int) -> Bool = { _ in true }) throws -> ReplayOutcome {
        let comparison = try ReplayComparison(inForce: inForce, candidate: candidate)
        let (settings, _) = try SettingsStore(db: db).load()
        let places = try WardStore(db: db).patients()
        comparison.prepare { engine in
            for (patient, s) in settings {
                engine.setSpO2Scale(patientID: patient, scale: s.scale)
                try? engine.setThresholdOverrides(patientID: patient, rules: s.overrides)
            }
            for p in places { engine.setWard(patientID: p.patientID, ward: p.ward) }
        }
        let stored = try RecordedHistory.storedAlarms(db: db, from: from, to: to, ward: ward)
        let began = DispatchTime.now().uptimeNanoseconds
        var feeding: UInt64 = 0
        let recorded = try RecordedHistory(db: db, from: from, to: to, ward: ward)
        while true {
            let batch = try recorded.next()
            if batch.isEmpty { break }
            let t0 = DispatchTime.now().uptimeNanoseconds
            comparison.feed(batch)
            feeding += DispatchTime.now().uptimeNanoseconds - t0
            guard progress(comparison.readings) else { throw ReplayStopped() }
        }
        var outcome = comparison.finish(period: from...to, stored: stored)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        outcome.endToEndPerSecond = Double(outcome.readings) / max(elapsed, 1e-9)
        outcome.perEnginePerSecond = Double(outcome.readings * 2) / max(Double(feeding) / 1e9, 1e-9)
        return outcome
    }
}

public struct ReplayStopped: Error, Sendable {}
