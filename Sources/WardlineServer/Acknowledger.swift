import Foundation
import Synchronization
import WardlineAPI
import WardlineEngine
import WardlineHub
import WardlineIngest
import WardlineRuntime
import WardlineWard

/// Acknowledgements from the REST API and the WebSocket: the engine's own thread applies them
/// (as a command between readings) and the caller waits for the answer, briefly.
///
/// Both paths come through here, so here the `AccessPolicy` is asked, against the open alarm's
/// own patient: a clinician who may not see the patient cannot acknowledge (and so cannot stop
/// the escalation of) the alarm, whichever door she knocks on.
final class Acknowledger: Sendable {
    private let commands: EngineCommandQueue
    private let counters: PipelineCounters
    private let authorise: @Sendable (Principal, StaffAction) -> AccessRefusal?

    init(commands: EngineCommandQueue, counters: PipelineCounters,
         authorise: @escaping @Sendable (Principal, StaffAction) -> AccessRefusal?) {
        self.commands = commands
        self.counters = counters
        self.authorise = authorise
    }

    func acknowledge(_ alarmID: String, by who: Principal) -> Result<Alarm, APIError> {
        let outcome = Mutex<Result<Alarm, APIError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let counters = counters
        let authorise = authorise
        commands.enqueue { engine, now in
            if let open = engine.alarm(id: alarmID), let refusal = authorise(who, .acknowledgeAlarm(patientID: open.patientID)) {
                outcome.withLock { $0 = .failure(APIError.forbidden(refusal.description)) }
                done.signal()
                return []
            }
            do {
                let events = try engine.acknowledge(alarmID: alarmID, by: who.userID, now: now)
                let alarm = events.compactMap(\.alarm).last ?? engine.alarm(id: alarmID)
                if let alarm {
                    counters.acknowledgements.add()
                    outcome.withLock { $0 = .success(alarm) }
                } else {
                    outcome.withLock { $0 = .failure(APIError(409, "not_open", "alarm \(alarmID) is no longer open")) }
                }
                done.signal()
                return events
            } catch {
                outcome.withLock { $0 = .failure(APIError(409, "cannot_acknowledge", "\(error)")) }
                done.signal()
                return []
            }
        }
        guard done.wait(timeout: .now() + 5) == .success, let result = outcome.withLock({ $0 }) else {
            return .failure(APIError(503, "engine_busy", "the alarm engine did not answer within 5 s; try again"))
        }
        return result
    }
}
