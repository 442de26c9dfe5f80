import Foundation

/// SIGTERM and SIGINT, blocked as soon as this is made — before any thread starts, so every
/// thread inherits the mask and only `wait()` sees them.
struct StopSignals: Sendable {
    private let set: sigset_t

    init() {
        var s = sigset_t()
        sigemptyset(&s)
        sigaddset(&s, SIGTERM)
        sigaddset(&s, SIGINT)
        pthread_sigmask(SIG_BLOCK, &s, nil)
        set = s
    }

    /// Blocks until one of them arrives; returns its name for the log.
    func wait() -> String {
        var s = set
        var received: Int32 = 0
        sigwait(&s, &received)
        return received == SIGTERM ? "SIGTERM" : "SIGINT"
    }
}
