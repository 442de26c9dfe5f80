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
        case .wrongAlgorithm(let a): "token is signed with \(a); this server accepts HS256, and RS256 when it has a public key"
        case .expired: "token expired"
        case .missingClaim(let c): "token has no \(c) claim"
        case .unknownRole(let r): "token role \(r) is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}

/// Signs and verifies tokens with libjwt (OpenSSL underneath): HS256 with the shared secret, and
/// RS256 with the hospital identity provider's public key when one is configured. Claims: `sub`
/// (user id), `role`, `ward`, `exp` (required), `iat`. Each algorithm is checked with its own key
/// only, so a token claiming `none`, or RS256 signed with the HS256 secret, is refused.
public struct TokenAuthority: Sendable {
    private let secret: [UInt8]
    private let rsaPublicKey: [UInt8]?

    public init(secret: String, rsaPublicKeyPEM: String? = nil) {
        self.secret = Array(secret.utf8)
        rsaPublicKey = rsaPublicKeyPEM.map { Array($0.utf8) }
    }

    public func verify(_ token: String?, now: Int64 = Int64(Date().timeIntervalSince1970)) throws(TokenRefusal) -> Principal {
        guard let token, !token.isEmpty else { throw .missing }
        // Read the header's algorithm first (no key: no verification), then verify with that
        // algorithm's own key; a token whose algorithm has no key here is refused.
        var peek: OpaquePointer?
        guard jwt_decode(&peek, token, nil, 0) == 0, let unverified = peek else { throw .malformedOrBadSignature }
        // libjwt reports `none` for a token decoded without a key; the header still says what it claims.
        let claimed = jwt_get_header(unverified, "alg").map { jwt_str_alg($0) } ?? JWT_ALG_TERM
        jwt_free(unverified)
        let key: [UInt8]
        switch claimed {
        case JWT_ALG_HS256: key = secret
        case JWT_ALG_RS256 where rsaPublicKey != nil: key = rsaPublicKey!
        default: throw .wrongAlgorithm(String(cString: jwt_alg_str(claimed)))
        }
        var handle: OpaquePointer?
        let rc = key.withUnsafeBufferPointer { k in jwt_decode(&handle, token, k.baseAddress, Int32(k.count)) }
        guard rc == 0, let jwt = handle else { throw .malformedOrBadSignature }
        defer { jwt_free(jwt) }
        guard jwt_get_alg(jwt) == claimed else { throw .malformedOrBadSignature }
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
        Self.mint(who, validFor: seconds, now: now, algorithm: JWT_ALG_HS256, key: secret)
    }

    /// An RS256 token signed with `privateKeyPEM` (what an identity provider issues; for tests and demos).
    public static func mintRS256(_ who: Principal, privateKeyPEM: String, validFor seconds: Int64,
                                 now: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        mint(who, validFor: seconds, now: now, algorithm: JWT_ALG_RS256, key: Array(privateKeyPEM.utf8))
    }

    private static func mint(_ who: Principal, validFor seconds: Int64, now: Int64, algorithm: jwt_alg_t, key: [UInt8]) -> String {
        var handle: OpaquePointer?
        guard jwt_new(&handle) == 0, let jwt = handle else { fatalError("libjwt: out of memory") }
        defer { jwt_free(jwt) }
        jwt_add_grant(jwt, "sub", who.userID)
        jwt_add_grant(jwt, "role", who.role.rawValue)
        jwt_add_grant(jwt, "ward", who.ward)
        jwt_add_grant_int(jwt, "iat", Int(now))
        jwt_add_grant_int(jwt, "exp", Int(now + seconds))
        _ = key.withUnsafeBufferPointer { k in jwt_set_alg(jwt, algorithm, k.baseAddress, Int32(k.count)) }
        guard let encoded = jwt_encode_str(jwt) else { fatalError("libjwt: cannot sign a token (is the key a PEM private key?)") }
        defer { free(encoded) }
        return String(cString: encoded)
    }
}
