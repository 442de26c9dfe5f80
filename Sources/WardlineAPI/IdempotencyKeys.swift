import CLibcrypto
import Synchronization
import WardlineWeb

/// The answers to POSTs sent with an `Idempotency-Key`, so that a retried request (a lost answer,
/// a client that timed out) replays the first answer instead of doing the work again: a device
/// command retried is published once.
///
/// A key belongs to the token's subject (another user's identical key is another key) and stands
/// for one request: method, path with its query, and body, compared by SHA-256. Only work that was done (a 2xx
/// answer) is remembered; a refusal did nothing, so a retry is judged afresh. Held in memory for one
/// `serve` (a restart forgets every key), for `ttlSeconds` after the first answer, at most `capacity`
/// keys; when full the oldest key is forgotten first (keys age in the order they were made, so this
/// is also the order they expire in). Thread-safe: the REST workers share one.
public final class IdempotencyKeys: Sendable {
    public enum Claim: Sendable {
        /// The first use: do the work, then `finish` with its answer.
        case proceed
        /// The same request again: its first answer.
        case replay(HTTPResponse)
        /// The key was used for another request, or the first one is still being answered.
        case refused(APIError)
    }

    private struct Key: Hashable {
        var subject: String
        var key: String
    }

    private struct Entry {
        var fingerprint: [UInt8]
        var madeAt: Int64
        /// Its place in `order` (a key freed and made again has a newer one).
        var sequence: Int
        /// nil while the first request is being answered.
        var answer: HTTPResponse?
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// Keys in the order they were made; `head` is the oldest slot not yet dropped.
        var order: [(key: Key, sequence: Int)] = []
        var head = 0
        var made = 0

        func live(_ slot: (key: Key, sequence: Int)) -> Entry? {
            entries[slot.key].flatMap { $0.sequence == slot.sequence ? $0 : nil }
        }
    }

    public let ttlSeconds: Int64
    public let capacity: Int
    private let state = Mutex(State())

    public init(ttlSeconds: Int64 = 86_400, capacity: Int = 10_000) {
        self.ttlSeconds = ttlSeconds
        self.capacity = max(1, capacity)
    }

    /// What the seed's header may carry: 1–255 printable ASCII characters, no spaces.
    public static func isWellFormed(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 255 && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    public static func fingerprint(method: String, path: String, body: [UInt8]) -> [UInt8] {
        var bytes = Array(method.utf8) + [0] + Array(path.utf8) + [0] + body
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = bytes.withUnsafeMutableBufferPointer { SHA256($0.baseAddress, $0.count, &digest) }
        return digest
    }

    public func claim(subject: String, key: String, fingerprint: [UInt8], nowSeconds: Int64) -> Claim {
        let k = Key(subject: subject, key: key)
        return state.withLock { s in
            Self.expire(&s, before: nowSeconds - ttlSeconds)
            if let e = s.entries[k] {
                guard e.fingerprint == fingerprint else {
                    return .refused(APIError(422, "idempotency_key_reused",
                                             "Idempotency-Key \(key) was used for a different request; use a new key for a new request"))
                }
                guard let answer = e.answer else {
                    return .refused(APIError(409, "idempotency_key_in_use",
                                             "the first request with Idempotency-Key \(key) is still being answered", retryAfter: 1))
                }
                return .replay(answer)
            }
            while s.entries.count >= capacity, s.head < s.order.count {
                let slot = s.order[s.head]
                if s.live(slot) != nil { s.entries[slot.key] = nil }
                s.head += 1
            }
            s.made += 1
            s.entries[k] = Entry(fingerprint: fingerprint, madeAt: nowSeconds, sequence: s.made, answer: nil)
            s.order.append((k, s.made))
            Self.compact(&s)
            return .proceed
        }
    }

    /// The first request's answer: kept when the work was done (2xx), else the key is free again.
    public func finish(subject: String, key: String, answer: HTTPResponse) {
        let k = Key(subject: subject, key: key)
        state.withLock { s in
            if (200..<300).contains(answer.status) { s.entries[k]?.answer = answer } else { s.entries[k] = nil }
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }

    private static func expire(_ s: inout State, before cutoff: Int64) {
        while s.head < s.order.count {
            let slot = s.order[s.head]
            // A slot whose key was freed (a refusal) or made again later is only dropped.
            if let e = s.live(slot) {
                guard e.madeAt < cutoff else { break }
                s.entries[slot.key] = nil
            }
            s.head += 1
        }
    }

    private static func compact(_ s: inout State) {
        if s.head > 1024, s.head * 2 > s.order.count {
            s.order.removeFirst(s.head)
            s.head = 0
        }
    }
}
