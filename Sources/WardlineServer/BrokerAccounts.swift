import Foundation
import WardlineAPI
import WardlineConfig
import WardlineMQTT
import WardlineWard

/// What an account on the broker may do.
public enum BrokerAccountKind: String, CaseIterable, Sendable {
    /// One bedside device: publish only `devices/{id}/vitals|alerts|status`, read only
    /// `devices/{id}/commands`, connect only with client id `{id}`.
    case device
    /// A bedside gateway (or the load simulator's shared connections): publish vitals, alerts and
    /// status for any device, read nothing; connect only with client id `{id}`.
    case gateway
    /// Another Wardline (a second `serve` node, a test instance): read every device's messages and
    /// send commands; connect only with client id `{id}`.
    case wardline
}

public enum BrokerAccountError: Error, CustomStringConvertible, Equatable {
    case invalidID(String)
    case exists(String)
    case notFound(String)
    /// The account exists but is not of the kind the caller may change (REST revokes devices only).
    case wrongKind(String, found: String)
    case broker(String)

    public var description: String {
        switch self {
        case .invalidID(let id): return "\(id.debugDescription) is not a broker id: 1–64 letters, digits, '-', '_', '.' or ':'"
        case .exists(let id): return "\(id) already has broker credentials; revoke them first to issue new ones"
        case .notFound(let id): return "\(id) has no broker credentials"
        case .wrongKind(let id, let found): return "\(id) is a \(found) account, which this call may not change"
        case .broker(let why): return why
        }
    }
}

/// Creates and removes accounts in the broker's dynamic security plugin. Passwords are made
/// here, returned once and kept nowhere (the broker stores only a PBKDF2 hash).
///
/// mosquitto 2.0's plugin has no `%c`/`%u` in ACL topics, so each device gets a role of its own,
/// `device:{id}`, with its topics written out; revoking removes both, and the broker disconnects
/// a client whose account is deleted.
public struct BrokerAccounts: Sendable {
    private let client: DynamicSecurityClient
    /// Accounts no provisioning call may create or remove, whatever its kind.
    private let reserved: Set<String>

    public init(client: DynamicSecurityClient, reserved: Set<String>) {
        self.client = client
        self.reserved = reserved
    }

    /// From Wardline's configuration, or nil when it has no broker admin account.
    public init?(configuration c: WardlineConfiguration) {
        guard let user = c.mqttAdminUsername else { return nil }
        var o = c.mqttOptions(clientID: "wardline-admin")
        o.username = user
        o.password = c.mqttAdminPassword
        self.init(client: DynamicSecurityClient(options: o), reserved: ["admin", user, c.mqttUsername ?? "wardline"])
    }

    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E || c == 0x3A
        }
    }

    /// 24 random bytes, URL-safe base64: 32 characters, 192 bits.
    public static func newPassword() -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: 0...255, using: &g) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    /// The plugin commands that make one account (exposed for the unit test of the ACLs).
    public static func commands(for id: String, kind: BrokerAccountKind, password: String) -> [DynamicSecurityCommand] {
        switch kind {
        case .device:
            let role = "device:\(id)"
            let acls = ["vitals", "alerts", "status"].map { DynamicSecurityCommand.ACL("publishClientSend", "devices/\(id)/\($0)") }
                + [.init("subscribeLiteral", "devices/\(id)/commands"), .init("publishClientReceive", "devices/\(id)/commands")]
            return [.init("createRole", rolename: role, textname: "device \(id)", acls: acls),
                    .init("createClient", username: id, password: password, clientid: id, textname: "device \(id)", roles: [role])]
        case .gateway, .wardline:
            return [.init("createClient", username: id, password: password, clientid: id, textname: "\(kind.rawValue) \(id)",
                          roles: [kind.rawValue])]
        }
    }

    /// Creates each account and returns its password, in order. All ids are checked first; an id
    /// that already has credentials stops the call there (the accounts made before it stay).
    public func provision(_ ids: [String], kind: BrokerAccountKind) throws(BrokerAccountError) -> [(id: String, password: String)] {
        for id in ids where !Self.isValidID(id) || reserved.contains(id) {
            throw Self.isValidID(id) ? .exists(id) : .invalidID(id)
        }
        var made: [(String, String)] = []
        // A hundred accounts per request: the plugin saves its whole file after each change.
        for chunk in stride(from: 0, to: ids.count, by: 100).map({ Array(ids[$0..<min($0 + 100, ids.count)]) }) {
            let passwords = chunk.map { _ in Self.newPassword() }
            let commands = zip(chunk, passwords).flatMap { Self.commands(for: $0, kind: kind, password: $1) }
            let answers = try run(commands)
            var i = 0
            for (id, password) in zip(chunk, passwords) {
                let mine = answers[i..<(i + (kind == .device ? 2 : 1))]
                i += mine.count
                if let failed = mine.first(where: { $0.error != nil }) {
                    if kind == .device && mine.first?.error == nil {  // the role was made, the client not: no orphan role
                        _ = try? client.run([.init("deleteRole", rolename: "device:\(id)")])
                    }
                    if failed.error == "Client already exists" || failed.error == "Role already exists" { throw .exists(id) }
                    throw .broker("creating \(id): \(failed.command): \(failed.error!)")
                }
                made.append((id, password))
            }
        }
        return made
    }

    /// Removes the account (and a device's role); the broker disconnects it if it is connected.
    /// `only`: refuse unless the account is of that kind (REST may revoke devices only).
    public func revoke(_ id: String, only: BrokerAccountKind? = nil) throws(BrokerAccountError) {
        guard Self.isValidID(id) else { throw .invalidID(id) }
        guard !reserved.contains(id) else { throw .wrongKind(id, found: "reserved") }
        let found = try run([.init("getClient", username: id)])[0]
        guard found.error == nil, let roles = found.data?.client?.roles?.map(\.rolename) else { throw .notFound(id) }
        let kind: BrokerAccountKind? = roles == ["device:\(id)"] ? .device : roles == ["gateway"] ? .gateway
            : roles == ["wardline"] ? .wardline : nil
        guard let kind, only == nil || only == kind else { throw .wrongKind(id, found: kind?.rawValue ?? "roles \(roles)") }
        var commands: [DynamicSecurityCommand] = [.init("deleteClient", username: id)]
        if kind == .device { commands.append(.init("deleteRole", rolename: "device:\(id)")) }
        for answer in try run(commands) where answer.error != nil {
            throw .broker("revoking \(id): \(answer.command): \(answer.error!)")
        }
    }

    private func run(_ commands: [DynamicSecurityCommand]) throws(BrokerAccountError) -> [DynamicSecurityResponse] {
        do { return try client.run(commands) } catch { throw .broker("\(error)") }
    }
}

extension DeviceCredentials {
    /// The REST side of `BrokerAccounts`: device accounts only, each error its HTTP answer.
    init(_ accounts: BrokerAccounts) {
        @Sendable func answer(_ e: BrokerAccountError) -> APIError {
            switch e {
            case .invalidID: return .validation("device_id", "must be 1–64 letters, digits, '-', '_', '.' or ':'")
            case .exists: return APIError(409, "credentials_exist", e.description)
            case .notFound: return .notFound(e.description)
            case .wrongKind: return APIError(409, "not_a_device", e.description)
            case .broker: return APIError(503, "broker_unavailable", e.description)
            }
        }
        self.init(provision: { id throws(APIError) in
            do throws(BrokerAccountError) { return try accounts.provision([id], kind: .device)[0].password } catch { throw answer(error) }
        }, revoke: { id throws(APIError) in
            do throws(BrokerAccountError) { try accounts.revoke(id, only: .device) } catch { throw answer(error) }
        })
    }
}
