import Logging
import WardlineEngine

extension WardlineService {
    /// A clinician acknowledges an open alarm. Handed to the engine on its own thread (the only
    /// one that may touch it); the acknowledgement is then stored, published and seen by the task
    /// worker like any other transition — which is what cancels a pending escalation.
    /// The REST API calls this; `reply` says whether the engine took it.
    public func acknowledge(alarmID: String, by user: String,
                            reply: @escaping @Sendable (Result<Void, AcknowledgementError>) -> Void = { _ in }) {
        guard let commands else { return }
        commands.enqueue { engine, now in
            do throws(AcknowledgementError) {
                let events = try engine.acknowledge(alarmID: alarmID, by: user, now: now)
                reply(.success(()))
                return events
            } catch {
                reply(.failure(error))
                return []
            }
        }
    }
}
