import Synchronization
import WardlineHub

/// The server's counters, readable from any thread (for /metrics); the hub's own numbers are
/// copied here by the service thread after each round.
public final class WebStats: Sendable {
    public let socketsOpened = Atomic<Int>(0)
    public let socketsClosed = Atomic<Int>(0)
    public let authRefused = Atomic<Int>(0)
    /// Open sockets closed (4401) because their token expired.
    public let tokensExpired = Atomic<Int>(0)
    public let framesSent = Atomic<Int>(0)
    public let framesReceived = Atomic<Int>(0)
    public let httpRequests = Atomic<Int>(0)
    public let slowClientsDisconnected = Atomic<Int>(0)
    public let sessions = Atomic<Int>(0)
    public let vitalsCoalesced = Atomic<Int>(0)
    public let refusedSubscriptions = Atomic<Int>(0)
    public let badClientFrames = Atomic<Int>(0)
    public let unconfirmedAlarmDisconnects = Atomic<Int>(0)
    /// WebSocket handshakes refused (403) for their `Origin`.
    public let originsRefused = Atomic<Int>(0)
    /// WebSocket handshakes refused (503) beyond the limit of open sockets.
    public let socketsRefused = Atomic<Int>(0)
    /// REST requests answered 429, and client frames dropped, by the per-token rate limits.
    public let rateLimitedRequests = Atomic<Int>(0)
    public let rateLimitedFrames = Atomic<Int>(0)
    /// Request bodies refused (401) before they were read, for want of a valid token.
    public let unauthenticatedBodiesRefused = Atomic<Int>(0)

    public init() {}

    func publish(_ hub: Hub) {
        sessions.store(hub.sessionCount, ordering: .relaxed)
        vitalsCoalesced.store(hub.vitalsCoalesced, ordering: .relaxed)
        unconfirmedAlarmDisconnects.store(hub.unconfirmedAlarmDisconnects, ordering: .relaxed)
        refusedSubscriptions.store(hub.refusedSubscriptions, ordering: .relaxed)
        badClientFrames.store(hub.badClientFrames, ordering: .relaxed)
        rateLimitedFrames.store(hub.rateLimitedFrames, ordering: .relaxed)
    }
}
