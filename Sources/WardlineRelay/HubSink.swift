import Synchronization
import WardlineAPI
import WardlineCore
import WardlineEngine
import WardlineHub
import WardlineIngest
import WardlineWeb

/// Feeds the WebSocket hub from the consumer thread: scored readings, alarm events and device
/// status go into the web server's inbox (never blocking), and each patient's newest NEWS2 is
/// kept for the REST API.
package final class HubSink: EngineSink, PipelineSink, @unchecked Sendable {
    private let server: WebServer
    private let registry: DeviceRegistry
    private let latest = Mutex<[String: LatestScore]>([:])

    package init(server: WebServer, registry: DeviceRegistry) {
        self.server = server
        self.registry = registry
    }

    package func accept(_ event: EngineEvent) {
        if case .scored(let reading, let score) = event {
            latest.withLock { $0[reading.patientID] = LatestScore(time: reading.time, deviceID: reading.deviceID, score: score) }
        }
        server.post(.engine(event))
    }

    package func accept(_ item: IngestItem) {
        if case .deviceStatus(let status) = item.event {
            server.post(.deviceStatus(status, patientID: registry.patient(forDevice: status.deviceID)))
        }
    }

    package func latestScore(_ patientID: String) -> LatestScore? { latest.withLock { $0[patientID] } }
}
