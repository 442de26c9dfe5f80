import Foundation
import Synchronization
import WardlineAPI
import WardlineEngine
import WardlineHub

/// Acknowledgements from the REST API and the WebSocket: the engine's own thread applies them
/// (as a command between readings) and the caller waits for the answer, briefly.
final class Acknowledger: Sendable {
    private let commands: EngineCommandQueue
    private let counters: PipelineCounters

    init(commands: EngineCommandQueue, counters: PipelineCounters) {
        self.commands = commands
        self.counters = counters
    }

    func acknowledge(_ alarmID: String, by who: Principal) -> Result<Alarm, APIError> {
        let outcome = Mutex<Result<Alarm, APIError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let counters = counters
        commands.enqueue { engine, now in
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
