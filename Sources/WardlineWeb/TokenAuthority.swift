import CJWT
import Foundation
import WardlineHub

/// Why a token was refused; the sentence goes back to the client (401).
public enum TokenRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case malformedOrBadSignature
    case wrongAlgorithm(String)
    case expired
    case missingClaim(String)
    case unknownRole(String)

    public var description: String {
        switch self {
        case .missing: "no token: send Authorization: Bearer <token> (or ?token= on the WebSocket)"
        case .malformedOrBadSignature: "token is malformed or its signature does not verify"
        case .wrongAlgorithm(let a): "token is signed with \(a); this server accepts HS256 only"
        case .expired: "token expired"
        case .missingClaim(let c): "token has no \(c) claim"
        case .unknownRole(let r): "token role \(r) is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}

/// Signs and verifies HS256 tokens with libjwt (OpenSSL underneath). Claims: `sub` (user id),
/// `role`, `ward`, `exp` (required), `iat`. The algorithm is pinned to HS256, so a token claiming
/// `none` or an asymmetric algorithm is refused whatever it carries.
public struct TokenAuthority: Sendable {
    private let secret: [UInt8]

    public init(secret: String) {
        self.secret = Array(secret.utf8)
    }

    public func verify(_ token: String?, now: Int64 = Int64(Date().timeIntervalSince1970)) throws(TokenRefusal) -> Principal {
        guard let token, !token.isEmpty else { throw .missing }
        var handle: OpaquePointer?
        let rc = secret.withUnsafeBufferPointer { key in
            jwt_decode(&handle, token, key.baseAddress, Int32(key.count))
        }
        guard rc == 0, let jwt = handle else { throw .malformedOrBadSignature }
        defer { jwt_free(jwt) }
        let alg = jwt_get_alg(jwt)
        guard alg == JWT_ALG_HS256 else { throw .wrongAlgorithm(String(cString: jwt_alg_str(alg))) }
        func claim(_ name: String) -> String? { jwt_get_grant(jwt, name).map { String(cString: $0) } }
        errno = 0
        let exp = jwt_get_grant_int(jwt, "exp")
        guard errno == 0 else { throw .missingClaim("exp") }
        guard exp > now else { throw .expired }
        guard let user = claim("sub"), !user.isEmpty else { throw .missingClaim("sub") }
        guard let roleName = claim("role") else { throw .missingClaim("role") }
        guard let role = Role(rawValue: roleName) else { throw .unknownRole(roleName) }
        guard let ward = claim("ward") else { throw .missingClaim("ward") }
        return Principal(userID: user, role: role, ward: ward)
    }

    /// A signed token for `who`, valid for `seconds` (the demo and the tests use it).
    public func mint(_ who: Principal, validFor seconds: Int64, now: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        var handle: OpaquePointer?
        guard jwt_new(&handle) == 0, let jwt = handle else { fatalError("libjwt: out of memory") }
        defer { jwt_free(jwt) }
        jwt_add_grant(jwt, "sub", who.userID)
        jwt_add_grant(jwt, "role", who.role.rawValue)
        jwt_add_grant(jwt, "ward", who.ward)
        jwt_add_grant_int(jwt, "iat", Int(now))
        jwt_add_grant_int(jwt, "exp", Int(now + seconds))
        _ = secret.withUnsafeBufferPointer { key in jwt_set_alg(jwt, JWT_ALG_HS256, key.baseAddress, Int32(key.count)) }
        guard let encoded = jwt_encode_str(jwt) else { fatalError("libjwt: cannot encode a token") }
        defer { free(encoded) }
        return String(cString: encoded)
    }
}
