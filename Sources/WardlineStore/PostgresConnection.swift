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
}

/// The rows a statement returned, as text (libpq's text format), and how many rows it touched.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    public var affectedRows: Int
}

/// The one owner of a libpq connection (`PGconn *`). Not thread-safe: one thread uses it at a time.
public final class PostgresConnection {
    public let url: String
    private let conn: OpaquePointer

    /// Connects, failing with the server's own message (wrong password, no such database, …).
    public init(url: String) throws {
        self.url = url
        guard let c = PQconnectdb(url) else {
            throw PostgresError(operation: "connect", message: "out of memory", sqlState: nil)
        }
        conn = c
        guard PQstatus(c) == CONNECTION_OK else {
            // No PQfinish here: throwing from a fully initialised class runs deinit, which frees it.
            let message = Self.trimmed(PQerrorMessage(c))
            throw PostgresError(operation: "connect", message: message, sqlState: nil)
        }
        _ = PQsetClientEncoding(c, "UTF8")
        // Server NOTICEs ("already exists, skipping") would go to stderr unstructured; keep warnings.
        PQclear(PQexec(c, "SET client_min_messages = warning"))
    }

    deinit { PQfinish(conn) }

    /// false once the server has gone away; `reconnect()` then tries again.
    public var isConnected: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Re-establishes a broken connection in place.
    public func reconnect() throws {
        PQreset(conn)
        guard PQstatus(conn) == CONNECTION_OK else {
            throw PostgresError(operation: "reconnect", message: Self.trimmed(PQerrorMessage(conn)), sqlState: nil)
        }
    }

    /// Runs one statement with text parameters ($1, $2, …; nil is NULL).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
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
        let start = PQexec(conn, sql)
        guard PQresultStatus(start) == PGRES_COPY_IN else { _ = try consume(start, operation: "copy"); return 0 }
        PQclear(start)
        let sent = data.withUnsafeBytes { raw in
            raw.isEmpty ? 1 : PQputCopyData(conn, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count))
        }
        guard sent == 1, PQputCopyEnd(conn, nil) == 1 else {
            throw PostgresError(operation: "copy", message: Self.trimmed(PQerrorMessage(conn)), sqlState: nil)
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
            throw PostgresError(operation: operation, message: Self.trimmed(PQerrorMessage(conn)), sqlState: nil)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            throw PostgresError(operation: operation, message: Self.trimmed(PQresultErrorMessage(result)), sqlState: state)
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
}
