import Foundation
import WardlineHub
import WardlineStore

/// What the credentials routes need from the broker side, as closures (so WardlineAPI does not
/// depend on the broker code). Errors are already the answer to give.
public struct DeviceCredentials: Sendable {
    /// Creates the device's account and returns its password.
    public var provision: @Sendable (_ deviceID: String) throws(APIError) -> String
    /// Removes the device's account; the broker disconnects the device.
    public var revoke: @Sendable (_ deviceID: String) throws(APIError) -> Void

    public init(provision: @escaping @Sendable (String) throws(APIError) -> String,
                revoke: @escaping @Sendable (String) throws(APIError) -> Void) {
        self.provision = provision
        self.revoke = revoke
    }
}

/// `POST|DELETE /api/v1/devices/{device_id}/credentials`: admins only. The password is in the
/// answer to the POST and nowhere else: not in Wardline's database, not in its log.
extension WardAPI {
    static let credentialRoutes: [(Route, Bool, Handler)] = [
        (Route("POST", "/api/v1/devices/{device_id}/credentials", "provision device"), true, { api, c, _ in try api.provisionDevice(c) }),
        (Route("DELETE", "/api/v1/devices/{device_id}/credentials", "revoke device"), true, { api, c, _ in try api.revokeDevice(c) }),
    ]

    private func credentialsFor(_ c: Call) throws -> (String, DeviceCredentials) {
        guard who(c).role == .admin else { throw APIError.forbidden("only an admin may issue or revoke device credentials") }
        let device = c.param("device_id")
        try checkID(device, "device_id")
        guard let credentials = context.deviceCredentials else {
            throw APIError(503, "provisioning_unavailable", "Wardline has no broker admin account (WARDLINE_MQTT_ADMIN_USERNAME)")
        }
        return (device, credentials)
    }

    func provisionDevice(_ c: Call) throws -> HTTPResult {
        let (device, credentials) = try credentialsFor(c)
        let password = try credentials.provision(device)
        logger.notice("device credentials issued", metadata: ["device_id": "\(device)", "by": "\(who(c).userID)"])
        return .data(IssuedCredentials(device_id: device, username: device, client_id: device, password: password,
                                       topics: ["publish": ["vitals", "alerts", "status"].map { "devices/\(device)/\($0)" },
                                                "subscribe": ["devices/\(device)/commands"]]),
                     status: 201, message: "device credentials issued; the password is shown only in this answer")
    }

    func revokeDevice(_ c: Call) throws -> HTTPResult {
        let (device, credentials) = try credentialsFor(c)
        try credentials.revoke(device)
        logger.notice("device credentials revoked", metadata: ["device_id": "\(device)", "by": "\(who(c).userID)"])
        return .data(["device_id": device], message: "device credentials revoked; the device was disconnected")
    }

    /// The device's broker account, once.
    struct IssuedCredentials: Encodable {
        let device_id: String
        let username: String
        let client_id: String
        let password: String
        let topics: [String: [String]]
    }
}
