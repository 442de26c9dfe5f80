import CLibwebsockets
import Foundation
import Synchronization
import WardlineHub
import WardlineWard

/// The one libwebsockets server: the WebSocket hub, the REST API and the ward page on one port.
///
/// lws is single-threaded: only its service thread touches sockets and the `Hub`. Other threads
/// (the engine's consumer, the REST workers) put things in the inbox and wake the loop with
/// `lws_cancel_service`; the loop drains the inbox in `LWS_CALLBACK_EVENT_WAIT_CANCELLED`, asks
/// for a writable callback on every socket with frames waiting, and writes one frame per callback.
public final class WebServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port: Int32 = 18080
        /// Folder of the ward page (`dashboards/`); `/` serves its index.html.
        public var staticRoot = "dashboards"
        public var heartbeatMillis: Int64 = 5000
        /// Idle seconds before lws pings a socket, and before it hangs up on one that never answers.
        public var pingSeconds: UInt16 = 10
        public var hangupSeconds: UInt16 = 25
        public var maxBodyBytes = 1 << 20
        public var maxClientFrameBytes = 64 << 10
        /// A socket whose oldest alarm has waited this long is closed (killed if it cannot even
        /// take the close frame), so a frozen client never holds an alarm while looking connected.
        public var alarmMaxWaitMillis: Int64 = 10_000
        public var hubLimits = Hub.Limits()
        /// Pages whose `Origin` may open a WebSocket; nil: the server's own (`OriginPolicy.own`).
        public var origins: OriginPolicy?
        /// The other nodes serving the ward page, as origins (`WARDLINE_HUB_PEERS`): told to each
        /// socket in `session:ready`, allowed to open a WebSocket, and the only origins whose
        /// pages may call the REST API across origins (CORS).
        public var peers: [String] = []
        /// Open WebSockets (authenticated or not) beyond which a handshake is refused (503).
        public var maxWebSockets = 1000
        /// A request body larger than this is refused (401) unless a valid token came with the
        /// headers, before it is read: nobody without a token makes the server buffer 1 MiB.
        public var unauthenticatedBodyBytes = 4096
        /// Per token subject: REST requests, and frames from its sockets (separate buckets).
        public var rateLimit = RateLimiter.Rule(ratePerSecond: 20, burst: 100)
        /// Per token subject, its own bucket for what keeps a screen showing its patients and
        /// their alarms: acknowledgements (REST and socket), alarm receipts (`alert:received`) and
        /// patient subscriptions (a page subscribes to every patient of its ward at once).
        public var clinicalRateLimit = RateLimiter.Rule(ratePerSecond: 200, burst: 1000)
        /// PEM certificate (chain) and private key: HTTPS and wss on the same port; nil: plain HTTP.
        public var tlsCertificateFile: String?
        public var tlsPrivateKeyFile: String?
        public init() {}

        public var usesTLS: Bool { tlsCertificateFile != nil }
    }

    private struct Inbox {
        var events: [HubEvent] = []
        var responses: [(UInt64, HTTPResponse)] = []
        var errors: [(UInt64, String, String, [String: String])] = []
        var directory: WardDirectory?
    }

    private struct Exchange {
        var request: HTTPRequest
        var response: HTTPResponse?
        /// lws also reports BODY_COMPLETION for a POST with `Content-Length: 0`, already dispatched.
        var dispatched = false
        /// A valid token came with the headers: the body may be up to `maxBodyBytes`.
        var authenticated = false
    }

    public let options: Options
    public let stats = WebStats()
    private let tokens: TokenAuthority
    private let handler: any HTTPHandler
    private let onClientRequest: @Sendable (ClientRequest) -> Void
    private let inbox = Mutex(Inbox())
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let contextPointer = Atomic<UInt>(0)

    // Service-thread state.
    private let hub: Hub
    private var connections: [UInt64: OpaquePointer] = [:]
    private var nextID: UInt64 = 1
    private var pendingAuth: [UInt64: Result<VerifiedToken, TokenRefusal>] = [:]
    /// When each open socket's token expires (epoch seconds): the socket is closed then (4401).
    private var expiries: [UInt64: Int64] = [:]
    private var confirmsAlarms: Set<UInt64> = []
    private var closing: [UInt64: (UInt16, String)] = [:]
    private var exchanges: [UInt64: Exchange] = [:]
    private var fragments: [UInt64: [UInt8]] = [:]
    private var lastHeartbeat: Int64 = 0
    private var lastAgeCheck: Int64 = 0
    private let originPolicy: OriginPolicy
    /// Pages that may call the REST API from another origin: the peers only, never a wildcard.
    private let crossOrigin: OriginPolicy
    private var limiter = RateLimiter()
    /// Sockets past their handshake (or about to be), counted against `maxWebSockets`.
    private var webSockets: Set<UInt64> = []
    private var scratch = [UInt8](repeating: 0, count: 16 << 10)

    // C structures lws keeps pointers to for the context's lifetime.
    private let protocols: UnsafeMutablePointer<lws_protocols>
    private let protocolName: UnsafeMutablePointer<CChar>
    private let rawRole: UnsafeMutablePointer<CChar>
    private let iface: UnsafeMutablePointer<CChar>
    private let retry: UnsafeMutablePointer<lws_retry_bo_t>
    private let certificatePath: UnsafeMutablePointer<CChar>?
    private let privateKeyPath: UnsafeMutablePointer<CChar>?
    private let alpn: UnsafeMutablePointer<CChar>

    public init(options: Options, tokens: TokenAuthority, handler: any HTTPHandler, directory: WardDirectory = WardDirectory(),
                onClientRequest: @escaping @Sendable (ClientRequest) -> Void) {
        self.options = options
        self.tokens = tokens
        self.handler = handler
        self.onClientRequest = onClientRequest
        hub = Hub(directory: directory, limits: options.hubLimits, peers: options.peers)
        protocolName = strdup("wardline")
        rawRole = strdup("raw-skt")
        iface = strdup(options.host)
        protocols = .allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(protocolName)
        protocols[0].callback = webServerCallback
        protocols[0].rx_buffer_size = 0
        retry = .allocate(capacity: 1)
        retry.initialize(to: lws_retry_bo_t())
        retry.pointee.secs_since_valid_ping = options.pingSeconds
        retry.pointee.secs_since_valid_hangup = options.hangupSeconds
        certificatePath = options.tlsCertificateFile.map { strdup($0) }
        privateKeyPath = options.tlsPrivateKeyFile.map { strdup($0) }
        // HTTP/1.1 only, over TLS too: the REST and WebSocket paths are the same as in plain HTTP
        // (no WebSockets over HTTP/2 streams).
        alpn = strdup("http/1.1")
        originPolicy = (options.origins ?? .own(host: options.host, port: options.port, tls: options.usesTLS)).adding(options.peers)
        crossOrigin = OriginPolicy(allowed: options.peers)
    }

    deinit {
        protocols.deinitialize(count: 2)
        protocols.deallocate()
        retry.deallocate()
        free(protocolName)
        free(rawRole)
        free(iface)
        free(certificatePath)
        free(privateKeyPath)
        free(alpn)
    }

    /// Listens and starts the service thread; throws when the port cannot be had.
    public func start() throws {
        // Headers and library of one build: 4.3's headers with Debian's 4.1 library (found first on
        // the link line, or at run time) would misread every struct and header index.
        let linked = String(cString: lws_get_library_version())
        guard linked == String(cString: wl_lws_header_version) else {
            throw WebServerError(description: "libwebsockets: compiled with the headers of \(String(cString: wl_lws_header_version)) "
                                 + "but running with the library of \(linked) (deploy/install.sh, then build again)")
        }
        lws_set_log_level(LLL_ERR, nil)
        var info = lws_context_creation_info()
        info.port = options.port
        info.iface = UnsafePointer(iface)
        info.protocols = UnsafePointer(protocols)
        info.retry_and_idle_policy = UnsafePointer(retry)
        // A request whose method lws does not know (TRACE, PROPFIND…) is handed over raw instead of
        // refused with lws's own 403 page, so the API can answer it 405 with `Allow` (see rawRequest).
        info.options = UInt64(LWS_SERVER_OPTION_DISABLE_IPV6) | UInt64(LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG)
        info.listen_accept_role = UnsafePointer(rawRole)
        info.listen_accept_protocol = UnsafePointer(protocolName)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        if let certificatePath {
            for file in [options.tlsCertificateFile, options.tlsPrivateKeyFile] {
                guard let file, FileManager.default.isReadableFile(atPath: file) else {
                    throw WebServerError(description: "TLS: cannot read \(file ?? "the private key (no file given)")")
                }
            }
            info.options |= UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT)
            info.ssl_cert_filepath = UnsafePointer(certificatePath)
            info.ssl_private_key_filepath = UnsafePointer(privateKeyPath)
            info.alpn = UnsafePointer(alpn)
        }
        guard let context = lws_create_context(&info) else {
            throw WebServerError(description: options.usesTLS
                ? "cannot listen on \(options.host):\(options.port) with TLS (port in use, or a certificate and key that do not match?)"
                : "cannot listen on \(options.host):\(options.port) (is the port in use?)")
        }
        contextPointer.store(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(context))), ordering: .releasing)
        let thread = Thread { [self] in
            let context = OpaquePointer(bitPattern: contextPointer.load(ordering: .acquiring))
            while !stopRequested.load(ordering: .acquiring) { _ = lws_service(context, 0) }
            contextPointer.store(0, ordering: .releasing)
            lws_context_destroy(context)
            stopped.store(true, ordering: .releasing)
        }
        thread.name = "wardline-web"
        thread.start()
        // The heartbeat, and a safety net for a missed wake-up.
        let ticker = Thread { [self] in
            while !stopRequested.load(ordering: .acquiring) {
                usleep(500_000)
                wake(force: true)
            }
        }
        ticker.name = "wardline-web-tick"
        ticker.start()
    }

    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake(force: true)
        while !stopped.load(ordering: .acquiring) { usleep(1000) }
    }

    // MARK: any thread

    public func post(_ event: HubEvent) {
        inbox.withLock { $0.events.append(event) }
        wake()
    }

    public func post(directory: WardDirectory) {
        inbox.withLock { $0.directory = directory }
        wake(force: true)
    }

    /// Sends one socket an error frame (a refused acknowledgement, say).
    public func postError(session: UInt64, code: String, message: String, extra: [String: String] = [:]) {
        inbox.withLock { $0.errors.append((session, code, message, extra)) }
        wake(force: true)
    }

    private func respond(_ id: UInt64, _ response: HTTPResponse) {
        inbox.withLock { $0.responses.append((id, response)) }
        wake(force: true)
    }

    private func wake(force: Bool = false) {
        guard force || !wakePending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        guard let context = OpaquePointer(bitPattern: contextPointer.load(ordering: .acquiring)) else { return }
        lws_cancel_service(context)
    }

    // MARK: service thread

    fileprivate func callback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            drainInbox()
        case LWS_CALLBACK_HTTP:
            guard let wsi, let input else { return -1 }
            return beginHTTP(wsi, path: String(cString: input.assumingMemoryBound(to: CChar.self)))
        case LWS_CALLBACK_HTTP_BODY:
            guard let wsi, let input else { return 0 }
            let id = connectionID(wsi)
            guard let exchange = exchanges[id] else { return 0 }  // refused already: not kept
            let limit = exchange.authenticated ? options.maxBodyBytes : options.unauthenticatedBodyBytes
            if exchange.request.body.count + len > limit {
                exchanges[id] = nil
                if !exchange.authenticated {
                    stats.unauthenticatedBodiesRefused.add(1, ordering: .relaxed)
                    return refuse(wsi, exchange.request.headers, Self.bodyNeedsToken(limit))
                }
                return refuse(wsi, exchange.request.headers, EdgeRefusal(status: 413, code: "payload_too_large",
                                                                          message: "request body larger than \(limit) bytes"))
            }
            exchanges[id]?.request.body.append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            guard let wsi else { return 0 }
            let id = connectionID(wsi)
            if let request = exchanges[id]?.request, exchanges[id]?.dispatched == false { dispatch(id, request) }
        case LWS_CALLBACK_HTTP_WRITEABLE:
            guard let wsi else { return 0 }
            let id = connectionID(wsi)
            guard let exchange = exchanges[id], let response = exchange.response else { return 0 }
            exchanges[id] = nil
            return writeHTTP(wsi, withCORS(response, exchange.request.headers["origin"]), withBody: exchange.request.method != "HEAD")
        case LWS_CALLBACK_RAW_RX:
            guard let wsi, let input else { return -1 }
            return rawRequest(wsi, UnsafeRawBufferPointer(start: input, count: len))
        case LWS_CALLBACK_RAW_WRITEABLE:
            guard let wsi else { return -1 }
            let id = connectionID(wsi)
            guard let response = exchanges.removeValue(forKey: id)?.response else { return 0 }
            let bytes = Self.rawHTTP(response)
            var buffer = [UInt8](repeating: 0, count: Int(wl_lws_pre)) + bytes
            _ = buffer.withUnsafeMutableBufferPointer { b in lws_write(wsi, b.baseAddress! + Int(wl_lws_pre), bytes.count, LWS_WRITE_HTTP) }  // LWS_WRITE_RAW, a macro Swift cannot see
            return -1  // answered; the connection is closed (the answer says so)
        case LWS_CALLBACK_RAW_CLOSE:
            guard let wsi else { return 0 }
            forget(connectionID(wsi))
        case LWS_CALLBACK_HTTP_FILE_COMPLETION:
            guard let wsi else { return -1 }
            return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            guard let wsi else { return -1 }
            return confirmUpgrade(wsi)
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            guard let wsi else { return -1 }
            let id = connectionID(wsi)
            let args = Dictionary(query(wsi), uniquingKeysWith: { $1 })
            do throws(TokenRefusal) {
                pendingAuth[id] = .success(try tokens.verifyToken(bearerToken(wsi) ?? args["token"]))
            } catch { pendingAuth[id] = .failure(error) }
            if args["receipts"] == "1" { confirmsAlarms.insert(id) }
        case LWS_CALLBACK_ESTABLISHED:
            guard let wsi else { return -1 }
            let id = connectionID(wsi)
            connections[id] = wsi
            switch pendingAuth.removeValue(forKey: id) {
            case .success(let token)?:
                hub.open(id, principal: token.principal, confirmsAlarms: confirmsAlarms.remove(id) != nil)
                expiries[id] = token.expiresAt
                stats.socketsOpened.add(1, ordering: .relaxed)
            case .failure(let refusal)?:
                stats.authRefused.add(1, ordering: .relaxed)
                closing[id] = (4401, "unauthorized: \(refusal)")
                lws_callback_on_writable(wsi)
            case nil:
                closing[id] = (4401, "unauthorized: no token")
                lws_callback_on_writable(wsi)
            }
            flushReady()
        case LWS_CALLBACK_RECEIVE:
            guard let wsi, let input else { return 0 }
            let id = connectionID(wsi)
            fragments[id, default: []].append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
            if fragments[id]!.count > options.maxClientFrameBytes {
                fragments[id] = nil
                closing[id] = (1009, "frame larger than \(options.maxClientFrameBytes) bytes")
                lws_callback_on_writable(wsi)
                return 0
            }
            guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return 0 }
            let text = fragments.removeValue(forKey: id) ?? []
            stats.framesReceived.add(1, ordering: .relaxed)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let request = hub.receive(id, text: text) { who, event in
                Self.clinicalEvents.contains(event)
                    ? limiter.take("clinical:" + who.userID, options.clinicalRateLimit, nowMillis: now)
                    : limiter.take("socket:" + who.userID, options.rateLimit, nowMillis: now)
            }
            if let request { onClientRequest(request) }
            flushReady()
        case LWS_CALLBACK_SERVER_WRITEABLE:
            guard let wsi else { return -1 }
            let id = connectionID(wsi)
            if let (status, why) = closing.removeValue(forKey: id) {
                var reason = Array(why.utf8.prefix(120))
                lws_close_reason(wsi, lws_close_status(rawValue: UInt32(status)), &reason, reason.count)
                return -1
            }
            // Several frames per callback while the socket takes them: one loop turn per frame
            // would cost a poll() over every socket each time.
            var written = 0
            while written < 64, let frame = hub.nextFrame(id) {
                if writeFrame(wsi, frame) < 0 { return -1 }
                written += 1
                stats.framesSent.add(1, ordering: .relaxed)
                if lws_send_pipe_choked(wsi) != 0 { break }
            }
            if hub.hasFrames(id) { lws_callback_on_writable(wsi) }
        case LWS_CALLBACK_CLOSED:
            guard let wsi else { return 0 }
            let id = connectionID(wsi)
            if hub.isOpen(id) { stats.socketsClosed.add(1, ordering: .relaxed) }
            hub.close(id)
            forget(id)
        case LWS_CALLBACK_WSI_DESTROY:
            guard let wsi else { return 0 }
            let id = UInt64(UInt(bitPattern: lws_get_opaque_user_data(wsi)))
            if id != 0 {
                if hub.isOpen(id) { stats.socketsClosed.add(1, ordering: .relaxed) }
                hub.close(id)
                forget(id)
            }
        default:
            break
        }
        return 0
    }

    /// Client frames limited by `clinicalRateLimit`, not `rateLimit`.
    private static let clinicalEvents: Set<String> = ["alert:acknowledge", "alert:received", "subscribe:patient", "unsubscribe:patient"]

    private func writeFrame(_ wsi: OpaquePointer, _ frame: [UInt8]) -> Int32 {
        let pre = Int(wl_lws_pre)
        if scratch.count < pre + frame.count { scratch = [UInt8](repeating: 0, count: pre + frame.count * 2) }
        let written = scratch.withUnsafeMutableBufferPointer { buffer -> Int32 in
            let start = buffer.baseAddress! + pre
            frame.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: frame.count) }
            return lws_write(wsi, start, frame.count, LWS_WRITE_TEXT)
        }
        return written < Int32(frame.count) ? -1 : 0
    }

    private func forget(_ id: UInt64) {
        connections[id] = nil
        exchanges[id] = nil
        fragments[id] = nil
        pendingAuth[id] = nil
        expiries[id] = nil
        confirmsAlarms.remove(id)
        closing[id] = nil
        webSockets.remove(id)
    }

    private func connectionID(_ wsi: OpaquePointer) -> UInt64 {
        let existing = UInt64(UInt(bitPattern: lws_get_opaque_user_data(wsi)))
        if existing != 0 { return existing }
        let id = nextID
        nextID += 1
        lws_set_opaque_user_data(wsi, UnsafeMutableRawPointer(bitPattern: UInt(id)))
        return id
    }

    private func drainInbox() {
        wakePending.store(false, ordering: .releasing)
        hub.now = Int64(Date().timeIntervalSince1970 * 1000)
        let taken = inbox.withLock { box -> Inbox in defer { box = Inbox() }; return box }
        if let d = taken.directory { hub.replaceDirectory(d) }
        for e in taken.events { hub.deliver(e) }
        for (id, code, message, extra) in taken.errors { hub.sendError(id, code, message, extra: extra) }
        for (id, response) in taken.responses {
            guard let wsi = connections[id], exchanges[id] != nil else { continue }
            exchanges[id]?.response = response
            lws_callback_on_writable(wsi)
        }
        let now = hub.now
        // Ages are checked twice a second, not on every wake-up: a drain happens for every burst of
        // readings, and the scan walks every session.
        if now - lastAgeCheck >= 500 {
            lastAgeCheck = now
            hub.evictLateClients(maxWaitMillis: options.alarmMaxWaitMillis)
            closeExpired(nowSeconds: now / 1000)
            limiter.forgetIdle(nowMillis: now)
        }
        if now - lastHeartbeat >= options.heartbeatMillis {
            lastHeartbeat = now
            hub.heartbeat(now: now)
        }
        flushReady()
    }

    /// A token is checked at connect and then on this timer: once it expires the socket gets
    /// nothing more and is closed with 4401, so the page signs in again.
    private func closeExpired(nowSeconds: Int64) {
        for (id, expiresAt) in expiries where expiresAt <= nowSeconds {
            expiries[id] = nil
            guard let wsi = connections[id] else { continue }
            if hub.isOpen(id) { stats.socketsClosed.add(1, ordering: .relaxed) }
            hub.close(id)
            stats.tokensExpired.add(1, ordering: .relaxed)
            closing[id] = (4401, "unauthorized: token expired")
            lws_callback_on_writable(wsi)
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 2)
        }
    }

    private func flushReady() {
        for (id, why) in hub.takeEvictions() {
            guard let wsi = connections[id] else { continue }
            stats.slowClientsDisconnected.add(1, ordering: .relaxed)
            closing[id] = (1008, why)
            lws_callback_on_writable(wsi)
            // A client that does not read may never make its socket writable: then lws kills it.
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 2)
        }
        for id in hub.takeReady() {
            if let wsi = connections[id] { lws_callback_on_writable(wsi) }
        }
        stats.publish(hub)
    }

    // MARK: HTTP

    private func beginHTTP(_ wsi: OpaquePointer, path: String) -> Int32 {
        let id = connectionID(wsi)
        connections[id] = wsi
        let method = Self.method(wsi)
        if path == "/" || !(path.hasPrefix("/api/") || path.hasPrefix("/fhir/") || path == "/health" || path == "/ready" || path == "/metrics"
                            || path == "/openapi.yaml" || path == "/api") {
            return serveStatic(wsi, path: path == "/" ? "/index.html" : path)
        }
        var headers: [String: String] = [:]
        if let auth = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) { headers["authorization"] = auth }
        if let type = header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE) { headers["content-type"] = type }
        for name in ["x-request-id", "x-correlation-id", "idempotency-key"] { if let v = customHeader(wsi, name) { headers[name] = v } }
        if let origin = header(wsi, WSI_TOKEN_ORIGIN), crossOrigin.allows(origin) {
            headers["origin"] = origin
            if method == "OPTIONS" { return writeHTTP(wsi, preflight(origin)) }
        }
        let arguments = query(wsi)
        var request = HTTPRequest(method: method, path: path, query: Dictionary(arguments, uniquingKeysWith: { $1 }), headers: headers)
        request.queryItems = arguments.map { (name: $0.0, value: $0.1) }
        request.unreadable = Self.unreadable(path: path, query: arguments)
        stats.httpRequests.add(1, ordering: .relaxed)
        let length = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH).flatMap { Int($0) } ?? 0
        // The token is checked here as well as by the handler (one HMAC): it decides how much
        // body may be read, and whose bucket the request comes out of.
        let verified = bearerToken(wsi).flatMap { try? tokens.verifyToken($0) }
        if verified == nil && length > options.unauthenticatedBodyBytes {
            stats.unauthenticatedBodiesRefused.add(1, ordering: .relaxed)
            return refuse(wsi, headers, Self.bodyNeedsToken(options.unauthenticatedBodyBytes))
        }
        if length > options.maxBodyBytes {
            return refuse(wsi, headers, EdgeRefusal(status: 413, code: "payload_too_large",
                                                    message: "request body larger than \(options.maxBodyBytes) bytes"))
        }
        if let who = verified?.principal {
            let acknowledges = method == "POST" && path.hasSuffix("/acknowledge")
            let wait = acknowledges
                ? limiter.take("clinical:" + who.userID, options.clinicalRateLimit, nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
                : limiter.take("rest:" + who.userID, options.rateLimit, nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
            if let wait {
                stats.rateLimitedRequests.add(1, ordering: .relaxed)
                return refuse(wsi, headers, EdgeRefusal(status: 429, code: "rate_limited",
                                                        message: "too many requests for \(who.userID); retry after \(wait) s", retryAfter: wait))
            }
        }
        exchanges[id] = Exchange(request: request, authenticated: verified != nil)
        if length == 0 { dispatch(id, request) }  // otherwise BODY_COMPLETION dispatches
        return 0
    }

    private static func bodyNeedsToken(_ limit: Int) -> EdgeRefusal {
        EdgeRefusal(status: 401, code: "unauthorized",
                    message: "a request body over \(limit) bytes is read only after a valid token: send Authorization: Bearer <token>")
    }

    private func refuse(_ wsi: OpaquePointer, _ headers: [String: String], _ refusal: EdgeRefusal) -> Int32 {
        writeHTTP(wsi, withCORS(refusal.response(requestID: headers["x-request-id"], correlationID: headers["x-correlation-id"]),
                                headers["origin"]))
    }

    /// A peer's page may read this answer (`origin` was checked against the peers in beginHTTP).
    private func withCORS(_ response: HTTPResponse, _ origin: String?) -> HTTPResponse {
        guard let origin else { return response }
        var r = response
        r.headers += [("access-control-allow-origin", origin), ("vary", "Origin"),
                      ("access-control-expose-headers", "x-request-id, x-correlation-id, retry-after")]
        return r
    }

    /// The answer to a peer page's preflight: what the ward page sends (a bearer token, JSON).
    private func preflight(_ origin: String) -> HTTPResponse {
        HTTPResponse(status: 204, contentType: "text/plain; charset=utf-8", headers: [
            ("access-control-allow-origin", origin), ("vary", "Origin"),
            ("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE"),
            ("access-control-allow-headers", "authorization, content-type, idempotency-key, x-request-id, x-correlation-id"),
            ("access-control-max-age", "600"),
        ], body: [])
    }

    // MARK: WebSocket handshake

    /// Before the upgrade: refused (403) for an `Origin` not allowed, and (503) beyond the limit
    /// of open sockets; the token is checked after, in FILTER_PROTOCOL_CONNECTION.
    private func confirmUpgrade(_ wsi: OpaquePointer) -> Int32 {
        let id = connectionID(wsi)
        let origin = header(wsi, WSI_TOKEN_ORIGIN)
        var refusal: EdgeRefusal?
        if !originPolicy.allows(origin) {
            stats.originsRefused.add(1, ordering: .relaxed)
            refusal = EdgeRefusal(status: 403, code: "forbidden_origin",
                                  message: "a page from \(String((origin ?? "").prefix(200))) may not open a WebSocket here (WARDLINE_WS_ORIGINS)")
        } else if webSockets.count >= options.maxWebSockets {
            stats.socketsRefused.add(1, ordering: .relaxed)
            refusal = EdgeRefusal(status: 503, code: "too_many_connections",
                                  message: "\(options.maxWebSockets) WebSockets are open (WARDLINE_WS_MAX_CONNECTIONS)", retryAfter: 5)
        }
        guard let refusal else {
            webSockets.insert(id)
            return 0
        }
        // lws completes the transaction itself when told (>0) that we answered.
        return writeHTTP(wsi, refusal.response(requestID: nil, correlationID: nil), complete: false) < 0 ? -1 : 1
    }

    /// A request lws would not parse (its method is not one lws knows), as raw bytes: the request
    /// line is read and handed to the API like any other (which answers 405 with `Allow`, or 404);
    /// anything that is not a request line is a 400. One answer, then the connection closes.
    private func rawRequest(_ wsi: OpaquePointer, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        let id = connectionID(wsi)
        guard exchanges[id] == nil else { return 0 }  // one request per raw connection; the rest is ignored
        connections[id] = wsi
        let line = bytes.prefix(8192).split(separator: 0x0A, maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        let words = line.split(separator: 0x20)
        let token: (UInt8) -> Bool = { c in (c >= 0x41 && c <= 0x5A) || c == 0x2D || c == 0x5F }
        var request: HTTPRequest
        if words.count == 3, words[0].count <= 32, words[0].allSatisfy(token), words[1].first == 0x2F {
            let target = String(decoding: words[1], as: UTF8.self)
            let path = String(target.prefix { $0 != "?" })
            request = HTTPRequest(method: String(decoding: words[0], as: UTF8.self), path: path.removingPercentEncoding ?? path)
            request.unreadable = path.removingPercentEncoding == nil ? "the path is not valid percent-encoded UTF-8" : Self.unreadable(path: request.path, query: [:])
        } else {
            request = HTTPRequest(method: "GET", path: "/")
            request.unreadable = "not an HTTP request line"
        }
        stats.httpRequests.add(1, ordering: .relaxed)
        exchanges[id] = Exchange(request: request)
        dispatch(id, request)
        return 0
    }

    private static func rawHTTP(_ response: HTTPResponse) -> [UInt8] {
        let reasons = [400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"]
        var head = "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Error")\r\n"
        for (name, value) in response.headers { head += "\(name.lowercased()): \(value)\r\n" }
        head += "content-type: \(response.contentType)\r\ncontent-length: \(response.body.count)\r\nconnection: close\r\n\r\n"
        return Array(head.utf8) + response.body
    }

    private func dispatch(_ id: UInt64, _ request: HTTPRequest) {
        exchanges[id]?.dispatched = true
        handler.handle(request) { [self] response in respond(id, response) }
    }

    private func serveStatic(_ wsi: OpaquePointer, path: String) -> Int32 {
        let allowed = path.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2F || c == 0x2E || c == 0x2D || c == 0x5F
        }
        guard allowed, !path.contains(".."), let mime = Self.mimeTypes[(path as NSString).pathExtension] else {
            return writeImmediate(wsi, status: 404, "no such page: \(path)")
        }
        let file = options.staticRoot + path
        guard FileManager.default.fileExists(atPath: file) else { return writeImmediate(wsi, status: 404, "no such page: \(path)") }
        let extra = "cache-control: no-cache\r\n"
        let n = lws_serve_http_file(wsi, file, mime, extra, Int32(extra.utf8.count))
        if n < 0 { return -1 }
        if n > 0 { return lws_http_transaction_completed(wsi) != 0 ? -1 : 0 }
        return 0
    }

    private static let mimeTypes = ["html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                                    "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png",
                                    "json": "application/json", "yaml": "application/yaml", "ico": "image/x-icon"]

    /// An answer that needs no handler (404 for a file, 413): written now, in the REST error envelope
    /// (with a fresh request id), so an API client reads it like any other refusal.
    private func writeImmediate(_ wsi: OpaquePointer, status: Int, _ message: String) -> Int32 {
        return writeHTTP(wsi, Self.immediateResponse(status: status, message))
    }

    static func immediateResponse(status: Int, _ message: String) -> HTTPResponse {
        let requestID = UUID().uuidString.lowercased()
        let code = status == 413 ? "payload_too_large" : "not_found"
        let body = ResponseEnvelope(status: status, message: message, error: .init(code: code), requestID: requestID)
        return HTTPResponse(status: status, headers: [("x-request-id", requestID)], body: body.bytes)
    }

    /// HEAD gets GET's headers, its content-length included, and no body.
    private func writeHTTP(_ wsi: OpaquePointer, _ response: HTTPResponse, complete: Bool = true, withBody: Bool = true) -> Int32 {
        let headerRoom = 1024 + response.headers.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 4 }
        var buffer = [UInt8](repeating: 0, count: Int(wl_lws_pre) + headerRoom + response.body.count)
        let result: Int32 = buffer.withUnsafeMutableBufferPointer { b in
            let start = b.baseAddress! + Int(wl_lws_pre)
            var p: UnsafeMutablePointer<UInt8>? = start
            let end = start + headerRoom - 1
            guard lws_add_http_header_status(wsi, UInt32(response.status), &p, end) == 0 else { return -1 }
            var all = response.headers
            all.append(("content-type", response.contentType))
            all.append(("content-length", String(response.body.count)))
            for (name, value) in all {
                let n = Array((name.lowercased() + ":").utf8) + [0]
                let v = Array(value.utf8)
                let rc = n.withUnsafeBufferPointer { nb in
                    v.withUnsafeBufferPointer { vb in
                        lws_add_http_header_by_name(wsi, nb.baseAddress!, vb.baseAddress ?? nb.baseAddress!, Int32(v.count), &p, end)
                    }
                }
                guard rc == 0 else { return -1 }
            }
            guard lws_finalize_http_header(wsi, &p, end) == 0, let q = p else { return -1 }
            let bodyBytes = withBody ? response.body.count : 0
            response.body.withUnsafeBufferPointer { body in
                if withBody, let base = body.baseAddress { q.update(from: base, count: body.count) }
            }
            let total = q - start + bodyBytes
            return lws_write(wsi, start, total, LWS_WRITE_HTTP_FINAL) < Int32(total) ? -1 : 0
        }
        if result < 0 { return -1 }
        if !complete { return 0 }
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    }

    private static func method(_ wsi: OpaquePointer) -> String {
        let candidates: [(lws_token_indexes, String)] = [(WSI_TOKEN_GET_URI, "GET"), (WSI_TOKEN_POST_URI, "POST"),
            (WSI_TOKEN_PUT_URI, "PUT"), (WSI_TOKEN_PATCH_URI, "PATCH"), (WSI_TOKEN_DELETE_URI, "DELETE"),
            (WSI_TOKEN_OPTIONS_URI, "OPTIONS"), (WSI_TOKEN_HEAD_URI, "HEAD")]
        for (token, name) in candidates where lws_hdr_total_length(wsi, token) > 0 { return name }
        return "GET"
    }

    private func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let n = Int(lws_hdr_total_length(wsi, token))
        guard n > 0 else { return nil }
        var buf = [CChar](repeating: 0, count: n + 1)
        guard lws_hdr_copy(wsi, &buf, Int32(n + 1), token) >= 0 else { return nil }
        return Self.string(buf)
    }

    /// A header lws has no token for; "" when sent empty (an empty Idempotency-Key is refused, not ignored).
    private func customHeader(_ wsi: OpaquePointer, _ name: String) -> String? {
        let key = name + ":"
        let n = Int(lws_hdr_custom_length(wsi, key, Int32(key.utf8.count)))
        guard n >= 0 else { return nil }
        if n == 0 { return "" }
        var buf = [CChar](repeating: 0, count: n + 1)
        guard lws_hdr_custom_copy(wsi, &buf, Int32(n + 1), key, Int32(key.utf8.count)) >= 0 else { return nil }
        return Self.string(buf)
    }

    /// The query as lws split and percent-decoded it, each argument copied by the length lws gives,
    /// never read as a C string: lws 4.3 lets a decoded NUL (`%00`) through in a value (one anywhere
    /// else in the target ends the connection inside lws), and it must reach `unreadable` (400), not
    /// end the value. The buffer holds the whole query, so no argument is too long to copy.
    private func query(_ wsi: OpaquePointer) -> [(String, String)] {
        let total = Int(lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS))
        guard total > 0 else { return [] }
        var result: [(String, String)] = []
        var buf = [CChar](repeating: 0, count: total + 1)
        var index: Int32 = 0
        while case let n = lws_hdr_copy_fragment(wsi, &buf, Int32(buf.count), WSI_TOKEN_HTTP_URI_ARGS, index), n >= 0 {
            if let (name, value) = Self.queryArgument(buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }) { result.append((name, value)) }
            index += 1
        }
        return result
    }

    /// One `name=value` (or a bare `name`) as lws decoded it; every byte kept, NUL included.
    static func queryArgument(_ bytes: [UInt8]) -> (String, String)? {
        guard !bytes.isEmpty else { return nil }
        guard let eq = bytes.firstIndex(of: 0x3D) else { return (String(decoding: bytes, as: UTF8.self), "") }
        return (String(decoding: bytes[..<eq], as: UTF8.self), String(decoding: bytes[(eq + 1)...], as: UTF8.self))
    }

    /// lws has percent-decoded the target; what it let through may still be bytes no id, date or
    /// filter is made of (invalid UTF-8, control characters). Said here, refused with a 400 by the API.
    static func unreadable(path: String, query: [String: String]) -> String? {
        unreadable(path: path, query: query.map { ($0.key, $0.value) })
    }

    /// Every argument, repeats included: a bad byte in the first of two `date`s is still refused.
    static func unreadable(path: String, query: [(String, String)]) -> String? {
        func bad(_ s: String) -> Bool {
            s.unicodeScalars.contains { $0 == "\u{FFFD}" || $0.value < 0x20 || $0.value == 0x7F }
        }
        if bad(path) { return "the path holds invalid UTF-8 or a control character" }
        if let (name, _) = query.first(where: { bad($0.0) || bad($0.1) }) {
            return "the query parameter \(name.unicodeScalars.count <= 64 && !bad(name) ? name : "name") holds invalid UTF-8 or a control character"
        }
        return nil
    }

    private static func string(_ buf: [CChar]) -> String {
        String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func bearerToken(_ wsi: OpaquePointer) -> String? {
        guard let auth = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION), auth.lowercased().hasPrefix("bearer ") else { return nil }
        return String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

}

public struct WebServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The one C entry point: finds the server from the context's user pointer.
private func webServerCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                               _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else { return 0 }
    return Unmanaged<WebServer>.fromOpaque(owner).takeUnretainedValue().callback(wsi, reason, input, len)
}
