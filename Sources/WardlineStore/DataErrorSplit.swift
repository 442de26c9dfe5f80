/// Writes a batch so that one row the database refuses cannot hold back the rest.
///
/// The whole batch is tried first (the common case costs one transaction). When the database
/// refuses it for its data (`PostgresError.isDataError`), the batch is halved and each half tried
/// again, down to single items; a single refused item goes to `putAside` with the error. A batch
/// with one bad row among n costs about 2·log2(n) extra transactions.
///
/// Any other error (the database is unreachable, shutting down, out of resources) is rethrown at
/// once, because retrying later can help: the caller then retries the whole batch, so `write` and
/// `putAside` must both be idempotent (the stores' ON CONFLICT keys make them so).
public enum DataErrorSplit {
    public struct Outcome: Sendable, Equatable {
        public var written = 0
        public var putAside = 0
        public init(written: Int = 0, putAside: Int = 0) {
            self.written = written
            self.putAside = putAside
        }
    }

    public static func write<Item>(_ items: ArraySlice<Item>, _ write: (ArraySlice<Item>) throws -> Void,
                                   putAside: (Item, PostgresError) throws -> Void) throws -> Outcome {
        guard !items.isEmpty else { return Outcome() }
        do {
            try write(items)
            return Outcome(written: items.count)
        } catch let error as PostgresError where error.isDataError {
            if items.count == 1 {
                try putAside(items[items.startIndex], error)
                return Outcome(putAside: 1)
            }
            let middle = items.startIndex + items.count / 2
            let first = try Self.write(items[..<middle], write, putAside: putAside)
            let second = try Self.write(items[middle...], write, putAside: putAside)
            return Outcome(written: first.written + second.written, putAside: first.putAside + second.putAside)
        }
    }
}
