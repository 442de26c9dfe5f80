import CCurl
import Foundation

/// The answer to one POST: the HTTP status, and the start of the body (for an error's reason).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var bodyPrefix: String
}

public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The one owner of a libcurl easy handle, reused between requests (keep-alive to the gateway).
/// Not thread-safe: one thread uses it.
public final class HTTPPoster {
    private let handle: UnsafeMutableRawPointer
    private let timeoutMillis: Int

    public init(timeoutMillis: Int) throws {
        Self.globalInit
        guard let h = curl_easy_init() else { throw HTTPError(description: "curl_easy_init failed") }
        handle = h
        self.timeoutMillis = timeoutMillis
    }

    deinit { curl_easy_cleanup(handle) }

    // curl_global_init is not thread-safe; do it once, before any handle.
    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// POSTs `body` as JSON. Throws only when no HTTP answer came (refused, timed out); any status,
    /// 2xx or not, is returned for the caller to judge.
    public func postJSON(url: String, body: [UInt8], headers: [String] = []) throws -> HTTPResponse {
        curl_easy_reset(handle)
        let sink = ResponseSink()
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }
        var list: UnsafeMutablePointer<curl_slist>?
        for h in ["Content-Type: application/json", "Expect:"] + headers { list = curl_slist_append(list, h) }
        defer { curl_slist_free_all(list) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = url.withCString { u in
            body.withUnsafeBufferPointer { b in
                errorBuffer.withUnsafeMutableBufferPointer { e in
                    _ = wardline_curl_set_pointer(handle, CURLOPT_URL, u)
                    _ = wardline_curl_set_long(handle, CURLOPT_POST, 1)
                    _ = wardline_curl_set_pointer(handle, CURLOPT_POSTFIELDS, b.baseAddress ?? UnsafePointer(bitPattern: 1))
                    _ = wardline_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, b.count)
                    _ = wardline_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)
                    _ = wardline_curl_set_long(handle, CURLOPT_TIMEOUT_MS, timeoutMillis)
                    _ = wardline_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeoutMillis)
                    _ = wardline_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)  // threads: no SIGALRM for timeouts
                    _ = wardline_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, e.baseAddress)
                    _ = wardline_curl_set_writer(handle, { data, size, count, user in
                        let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
                        let n = size * count
                        if sink.bytes.count < 512, let data {
                            sink.bytes += UnsafeRawBufferPointer(start: data, count: min(n, 512 - sink.bytes.count))
                        }
                        return n
                    })
                    _ = wardline_curl_set_pointer(handle, CURLOPT_WRITEDATA, box.toOpaque())
                    return curl_easy_perform(handle)
                }
            }
        }
        // Nothing of ours may stay in the handle past this call.
        _ = wardline_curl_set_pointer(handle, CURLOPT_HTTPHEADER, nil)
        _ = wardline_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, nil)
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw HTTPError(description: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        _ = wardline_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, bodyPrefix: String(decoding: sink.bytes, as: UTF8.self))
    }
}

/// Where the write callback puts the response body; only the thread in `postJSON` touches it.
private final class ResponseSink {
    var bytes: [UInt8] = []
}
