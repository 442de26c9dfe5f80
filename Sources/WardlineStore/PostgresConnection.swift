import CLibpq
import Foundation

public struct PostgresError: Error, CustomStringConvertible {
    public let operation: String
    public let message: String
    /// The SQLSTATE code when the server sent one ("23505" …).
    public let sqlState: String?
    public var description: String { "postgres \(operation) failed: \(message)" + (sqlState.map { " [\($0)]" } ?? "") }

    /// The server refused the data itself (SQLSTATE classes 22 data exception, 23 integrity
    /// constraint, 54 program limit such as 54000 "index row size exceeds"): retrying the same row
    /// cannot help. Every other failure (connection, shutdown, resources, missing table) may pass.
    public var isDataError: Bool {
        guard let s = sqlState else { return false }
        return s.hasPrefix("22") || s.hasPrefix("23") || s.hasPrefix("54")
    }

    /// read_only_sql_transaction: the server takes no writes (a standby, or a primary made
    /// read-only). Not the data's fault: the connection is replaced and the write retried.
    public static let readOnlyServer = "25006"
}

/// The rows a statement returned, as text (libpq's text format), and how many rows it touched.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    public var affectedRows: Int
}

/// The one owner of a libpq connection (`PGconn *`). Not thread-safe: one thread uses it at a time.
///
/// The URL is libpq's own (never parsed here), so a multi-host URL such as
/// `postgresql://wardline@db1:5432,db2:5432/wardline?target_session_attrs=read-write` works: libpq
/// tries the hosts in order and keeps the first that accepts writes, at every connect and reset.
/// A connection that finds itself on a server that takes no writes (SQLSTATE 25006, or the server
/// reporting `in_hot_standby` / `default_transaction_read_only` when read-write was asked for)
/// stops being `isConnected` and refuses further statements with 25006, so each owner's usual
/// "broken connection: make a new one" path moves it to the server that is the primary now.
public final class PostgresConnection {
    public let url: String
    private let conn: OpaquePointer
    /// The URL asked for a server that accepts writes (`target_session_attrs` read-write or primary).
    private let wantsWrites: Bool
    /// Set when a statement met a read-only server: the connection must be replaced.
    private var readOnlyMet: String?

    /// Connects, failing with the server's own message (wrong password, no such database, …).
    public init(url: String) throws {
        self.url = url
        guard let c = PQconnectdb(url) else {
            throw PostgresError(operation: "connect", message: "out of memory", sqlState: nil)
        }
        conn = c
        wantsWrites = Self.wantsWrites(c)
        guard PQstatus(c) == CONNECTION_OK else {
            // No PQfinish here: throwing from a fully initialised class runs deinit, which frees it.
            let message = Self.oneLine(PQerrorMessage(c))
            throw PostgresError(operation: "connect", message: message, sqlState: nil)
        }
        _ = PQsetClientEncoding(c, "UTF8")
        // Server NOTICEs ("already exists, skipping") would go to stderr unstructured; keep warnings.
        PQclear(PQexec(c, "SET client_min_messages = warning"))
    }

    deinit { PQfinish(conn) }

    /// false once the server has gone away, or once it turned out to take no writes (a standby,
    /// an old primary back as one); `reconnect()` (or a new connection) then tries again.
    public var isConnected: Bool { PQstatus(conn) == CONNECTION_OK && unusable == nil }

    /// Which server this is, as libpq found it among the URL's hosts ("127.0.0.1:15433"); for logs.
    public var server: String {
        let host = PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = PQport(conn).map { String(cString: $0) } ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Re-establishes a broken connection in place (libpq searches the URL's hosts again).
    public func reconnect() throws {
        PQreset(conn)
        readOnlyMet = nil
        guard PQstatus(conn) == CONNECTION_OK else {
            throw PostgresError(operation: "reconnect", message: Self.oneLine(PQerrorMessage(conn)), sqlState: nil)
        }
    }

    /// Why this open connection must not be used any more, if it must not.
    private var unusable: String? {
        if let readOnlyMet { return readOnlyMet }
        // libpq keeps these as the server reports them (PostgreSQL 14 and later), no round trip.
        guard wantsWrites else { return nil }
        if Self.parameter(conn, "in_hot_standby") == "on" { return "the server is a standby now (in_hot_standby)" }
        if Self.parameter(conn, "default_transaction_read_only") == "on" { return "the server is read-only now (default_transaction_read_only)" }
        return nil
    }

    /// Refuses a statement on a server that takes no writes, with the SQLSTATE it would have met.
    private func ensureUsable(_ operation: String) throws {
        if let why = unusable {
            throw PostgresError(operation: operation, message: "\(why) at \(server); reconnecting", sqlState: PostgresError.readOnlyServer)
        }
    }

    /// Runs one statement with text parameters ($1, $2, …; nil is NULL).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
        try ensureUsable("query")
        let result: OpaquePointer?
        if parameters.isEmpty {
            result = PQexec(conn, sql)
        } else {
            var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
            defer { cStrings.forEach { free($0) } }
            result = cStrings.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                    PQexecParams(conn, sql, Int32(parameters.count), nil, $0, nil, nil, 0)
                }
            }
        }
        return try consume(result, operation: "query")
    }

    /// Streams `data` (COPY text format) into `COPY … FROM STDIN`; returns the rows copied.
    @discardableResult
    public func copy(_ sql: String, data: [UInt8]) throws -> Int {
        try ensureUsable("copy")
        let start = PQexec(conn, sql)
        guard PQresultStatus(start) == PGRES_COPY_IN else { _ = try consume(start, operation: "copy"); return 0 }
        PQclear(start)
        let sent = data.withUnsafeBytes { raw in
            raw.isEmpty ? 1 : PQputCopyData(conn, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count))
        }
        guard sent == 1, PQputCopyEnd(conn, nil) == 1 else {
            throw PostgresError(operation: "copy", message: Self.oneLine(PQerrorMessage(conn)), sqlState: nil)
        }
        var copied = 0
        while let r = PQgetResult(conn) { copied = try consume(r, operation: "copy").affectedRows }
        return copied
    }

    /// Runs `body` in a transaction; rolls back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    private func consume(_ result: OpaquePointer?, operation: String) throws -> QueryResult {
        guard let result else {
            throw PostgresError(operation: operation, message: Self.oneLine(PQerrorMessage(conn)), sqlState: nil)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            if state == PostgresError.readOnlyServer { readOnlyMet = "the server took no write (read_only_sql_transaction)" }
            throw PostgresError(operation: operation, message: Self.oneLine(PQresultErrorMessage(result)), sqlState: state)
        }
        let columnCount = PQnfields(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        let rows = (0..<PQntuples(result)).map { row in
            (0..<columnCount).map { col -> String? in
                PQgetisnull(result, row, col) == 1 ? nil : String(cString: PQgetvalue(result, row, col))
            }
        }
        return QueryResult(columns: columns, rows: rows, affectedRows: Int(String(cString: PQcmdTuples(result))) ?? 0)
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// libpq's message on one log line: it spreads one over several (a hint, a DETAIL; with several
    /// hosts, a line for each host's failure).
    private static func oneLine(_ message: UnsafePointer<CChar>?) -> String {
        trimmed(message).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
    }

    private static func parameter(_ conn: OpaquePointer, _ name: String) -> String? {
        PQparameterStatus(conn, name).map { String(cString: $0) }
    }

    /// What libpq made of the URL (and PGTARGETSESSIONATTRS): does it want a writable server?
    private static func wantsWrites(_ conn: OpaquePointer) -> Bool {
        guard let options = PQconninfo(conn) else { return false }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "target_session_attrs" {
                let value = option.pointee.val.map { String(cString: $0) } ?? "any"
                return value == "read-write" || value == "primary"
            }
            option += 1
        }
        return false
    }
}
