import Synchronization
import WardlineEngine
import WardlineHub
import WardlineWard
import WardlineWeb

/// The directory of wards, readable from any thread (the REST workers check access with it).
public final class DirectoryBox: Sendable {
    private let value: Mutex<WardDirectory>
    public init(_ d: WardDirectory = WardDirectory()) { value = Mutex(d) }
    public var current: WardDirectory { value.withLock { $0 } }
    public func replace(_ d: WardDirectory) { value.withLock { $0 = d } }
}

/// A patient's most recent scored reading, kept by the pipeline for `/news2`: as this process
/// scored it, or (a `hub` node) as the readings topic carried it.
public struct LatestScore: Sendable {
    public var time: Int64
    public var deviceID: String
    private var score: Score

    private enum Score: Sendable {
        case scored(News2Score)
        case carried(News2Body)
    }

    public init(time: Int64, deviceID: String, score: News2Score) {
        self.time = time
        self.deviceID = deviceID
        self.score = .scored(score)
    }

    package init(time: Int64, deviceID: String, carried: News2Body) {
        self.time = time
        self.deviceID = deviceID
        score = .carried(carried)
    }

    /// Built when asked (REST), not for every reading the consumer keeps.
    package var news2: News2Body {
        switch score {
        case .scored(let s): News2Body(s)
        case .carried(let body): body
        }
    }
}

/// One component's state for `/ready`.
public struct Readiness: Sendable {
    public var component: String
    public var ok: Bool
    public var required: Bool
    public var detail: String
    public init(component: String, ok: Bool, required: Bool, detail: String) {
        self.component = component
        self.ok = ok
        self.required = required
        self.detail = detail
    }
}

/// What the REST API needs from the rest of Wardline, as closures, so the routes can be tested
/// without a pipeline.
public struct APIContext: Sendable {
    public var databaseURL: String
    public var tokens: TokenAuthority
    public var directory: DirectoryBox
    /// Who may do what (with the directory above): every handler asks it.
    public var policy: AccessPolicy
    /// Acknowledges through the engine (its only thread applies it) and waits for the result.
    public var acknowledge: @Sendable (_ alarmID: String, _ by: Principal) -> Result<Alarm, APIError>
    public var publishCommand: @Sendable (_ deviceID: String, _ payload: [UInt8]) throws -> Void
    /// Re-read wards and care assignments now (after a change made through the API).
    public var directoryChanged: @Sendable () -> Void
    /// Re-read alarm settings and device assignments now.
    public var settingsChanged: @Sendable () -> Void
    public var latestScore: @Sendable (_ patientID: String) -> LatestScore?
    /// The device's measured clock offset in ms (positive: ahead of Wardline's), nil if unmeasured.
    public var clockOffset: @Sendable (_ deviceID: String) -> Int64?
    public var readiness: @Sendable () -> [Readiness]
    public var metrics: @Sendable () -> String
    /// Device credentials in the broker (`/api/v1/devices/{id}/credentials`); nil: not configured.
    public var deviceCredentials: DeviceCredentials?
    /// Replays of recorded history (`/api/v1/replays`); nil: this node runs none.
    public var replays: ReplayJobs?
    /// The rule set in force here now, what a replay compares a candidate with by default.
    public var rulesInForce: @Sendable () -> EngineConfiguration = { EngineConfiguration() }

    public init(databaseURL: String, tokens: TokenAuthority, directory: DirectoryBox, policy: AccessPolicy = .hospitalDefault,
                acknowledge: @escaping @Sendable (String, Principal) -> Result<Alarm, APIError>,
                publishCommand: @escaping @Sendable (String, [UInt8]) throws -> Void,
                directoryChanged: @escaping @Sendable () -> Void, settingsChanged: @escaping @Sendable () -> Void,
                latestScore: @escaping @Sendable (String) -> LatestScore?,
                clockOffset: @escaping @Sendable (String) -> Int64? = { _ in nil }, readiness: @escaping @Sendable () -> [Readiness],
                metrics: @escaping @Sendable () -> String) {
        self.databaseURL = databaseURL
        self.tokens = tokens
        self.directory = directory
        self.policy = policy
        self.acknowledge = acknowledge
        self.publishCommand = publishCommand
        self.directoryChanged = directoryChanged
        self.settingsChanged = settingsChanged
        self.latestScore = latestScore
        self.clockOffset = clockOffset
        self.readiness = readiness
        self.metrics = metrics
    }
}
