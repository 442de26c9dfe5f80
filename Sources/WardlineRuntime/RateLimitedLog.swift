import Logging
import Synchronization

/// Logs at most `perInterval` lines per key per interval, then one summary of what it held back,
/// so a device flooding bad payloads cannot flood the log.
public final class RateLimitedLog: Sendable {
    private struct Window { var start: Int64 = 0; var logged = 0; var suppressed = 0 }
    private let logger: Logger
    private let perInterval: Int
    private let intervalMillis: Int64
    private let windows = Mutex<[String: Window]>([:])

    public init(logger: Logger, perInterval: Int = 5, intervalMillis: Int64 = 10_000) {
        self.logger = logger
        self.perInterval = perInterval
        self.intervalMillis = intervalMillis
    }

    public func warning(key: String, now: Int64, _ message: @autoclosure () -> Logger.Message,
                        metadata: @autoclosure () -> Logger.Metadata) {
        log(.warning, key: key, now: now, message(), metadata: metadata())
    }

    public func notice(key: String, now: Int64, _ message: @autoclosure () -> Logger.Message,
                       metadata: @autoclosure () -> Logger.Metadata) {
        log(.notice, key: key, now: now, message(), metadata: metadata())
    }

    public func critical(key: String, now: Int64, _ message: @autoclosure () -> Logger.Message,
                         metadata: @autoclosure () -> Logger.Metadata) {
        log(.critical, key: key, now: now, message(), metadata: metadata())
    }

    private func log(_ level: Logger.Level, key: String, now: Int64, _ message: @autoclosure () -> Logger.Message,
                     metadata: @autoclosure () -> Logger.Metadata) {
        let (allowed, heldBack) = windows.withLock { all -> (Bool, Int) in
            var w = all[key] ?? Window()
            var held = 0
            if now - w.start >= intervalMillis {
                held = w.suppressed
                w = Window(start: now)
            }
            let ok = w.logged < perInterval
            if ok { w.logged += 1 } else { w.suppressed += 1 }
            all[key] = w
            return (ok, held)
        }
        if heldBack > 0 {
            logger.warning("suppressed similar messages", metadata: ["key": "\(key)", "suppressed": "\(heldBack)"])
        }
        if allowed { logger.log(level: level, message(), metadata: metadata()) }
    }
}
