import WardlineCore
import WardlineEngine

/// A period's recorded readings through the rules in force and a candidate at once: what
/// `wardline replay` and `POST /api/v1/replays` both run. The readings come in, in receipt
/// order, batch by batch; at the end, the report and the check against the live run. Pure.
public final class ReplayComparison {
    public let inForce: ReplayRun
    public let candidate: ReplayRun
    public private(set) var readings = 0
    /// The hours (on the patients' device time: an accelerated recording covers its hours in
    /// minutes of receipt, and a patient-day is what the ward lived through) each patient had a
    /// reading in. The last hour per patient first: almost every reading is in it, and a
    /// dictionary probe is all it costs.
    private var lastHour: [String: Int64] = [:]
    private var patientHours = Set<PatientHour>()

    private struct PatientHour: Hashable {
        var patient: String
        var hour: Int64
    }

    public init(inForce: EngineConfiguration, candidate: EngineConfiguration) throws {
        self.inForce = try ReplayRun(configuration: inForce)
        self.candidate = try ReplayRun(configuration: candidate)
    }

    /// Both engines get each patient's own alarm settings and ward, as the live engine had them.
    public func prepare(_ configure: (AlertEngine) throws -> Void) rethrows {
        try configure(inForce.engine)
        try configure(candidate.engine)
    }

    public private(set) var deviceEvents = 0

    /// Readings and the devices' own alerts and status, in receipt order.
    public func feed(_ batch: [IngestEvent]) {
        for e in batch {
            guard case .reading(let r) = e else { deviceEvents += 1; continue }
            readings += 1
            let hour = r.time / 3_600_000
            if lastHour.updateValue(hour, forKey: r.patientID) != hour {
                patientHours.insert(PatientHour(patient: r.patientID, hour: hour))
            }
        }
        for e in batch { inForce.feed(e) }
        for e in batch { candidate.feed(e) }
    }

    /// The timers run on a minute past the last reading (or to the period's end, if sooner), so an
    /// alarm whose persistence was running when the readings stopped is still raised.
    public func finish(period: ClosedRange<Int64>, stored: [(id: String, ruleSet: String?)]) -> ReplayOutcome {
        let end = min(period.upperBound, inForce.clock + 60_000)
        inForce.tick(until: end)
        candidate.tick(until: end)
        let report = ReplayReport(current: .init(name: "in force", version: inForce.engine.configuration.ruleSetVersion, episodes: inForce.episodes),
                                  candidate: .init(name: "candidate", version: candidate.engine.configuration.ruleSetVersion,
                                                   episodes: candidate.episodes),
                                  patientDays: Double(patientHours.count) / 24, from: period.lowerBound, end: end)
        // The replay with the rules in force must raise what the live run stored (same patient,
        // rule and moment), where the live run had the same rules.
        let replayed = Set(report.current.episodes.map { Self.moment(of: $0.id) })
        let comparable = stored.filter { $0.ruleSet == nil || $0.ruleSet == report.current.version }
        let missing = comparable.filter { !replayed.contains(Self.moment(of: $0.id)) }
        let check = LiveCheck(compared: comparable.count, reproduced: comparable.count - missing.count,
                              otherRuleSets: stored.count - comparable.count, notRaisedAgain: missing.map(\.id))
        return ReplayOutcome(from: period.lowerBound, to: period.upperBound, readings: readings, deviceEvents: deviceEvents, patients: lastHour.count,
                             patientDays: Double(patientHours.count) / 24, report: report, liveCheck: check)
    }
}

extension ReplayComparison {
    /// An alarm id without the serial that tells apart alarms raised in the same millisecond
    /// (`P1/spo2.low/1796175306216-1` → `…/1796175306216`): the order of two readings received in
    /// one millisecond is the live run's (the broker's), which a replay reading by
    /// `received_at, device_id, seq` cannot know, so their serials may swap.
    package static func moment(of id: String) -> Substring {
        guard let slash = id.lastIndex(of: "/"), let dash = id[slash...].lastIndex(of: "-"),
              id[id.index(after: dash)...].allSatisfy(\.isNumber) else { return id[...] }
        return id[..<dash]
    }
}

/// The replay with the rules in force against the alarms the live run stored in the period.
public struct LiveCheck: Sendable, Equatable {
    public var compared: Int
    public var reproduced: Int
    /// Stored under another rule-set version: not expected to be raised again by these rules.
    public var otherRuleSets: Int
    public var notRaisedAgain: [String]
}

/// What one replay found, for the command line's text and the API's JSON alike.
public struct ReplayOutcome {
    public var from: Int64
    public var to: Int64
    public var readings: Int
    /// The devices' own alerts and status messages replayed beside the readings.
    public var deviceEvents: Int
    public var patients: Int
    public var patientDays: Double
    public var report: ReplayReport
    public var liveCheck: LiveCheck
    /// Measured by whoever drove the replay (the database read included), and through the engines.
    public var endToEndPerSecond: Double = 0
    public var perEnginePerSecond: Double = 0
}
