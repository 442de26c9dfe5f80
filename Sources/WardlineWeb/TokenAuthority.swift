import Foundation
import WardlineCore
import WardlineHub
import WardlineWard

/// Why a token was refused; the sentence goes back to the client (401, or the 4401 close reason).
public enum TokenRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case malformedOrBadSignature
    case wrongAlgorithm(String, accepted: [String])
    case expired
    case missingClaim(String)
    case unknownRole(String)
    case wrongIssuer
    case wrongAudience

    public var description: String {
        switch self {
        case .missing: "no token: send Authorization: Bearer <token> (or ?token= on the WebSocket)"
        case .malformedOrBadSignature: "token is malformed or its signature does not verify"
        case .wrongAlgorithm(let a, let accepted):
            "token is signed with \(a); this server accepts \(accepted.isEmpty ? "no algorithm" : accepted.joined(separator: " and "))"
        case .expired: "token expired"
        case .missingClaim(let c): "token has no \(c) claim"
        case .unknownRole(let r): "token role \(r) is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))"
        case .wrongIssuer: "token was not issued by the issuer this server trusts (iss)"
        case .wrongAudience: "token is not meant for this server (aud)"
        }
    }
}

/// A verified token: who, and until when (epoch seconds) the socket it opened may stay open.
public struct VerifiedToken: Sendable, Equatable {
    public var principal: Principal
    public var expiresAt: Int64
}

/// Signs and verifies tokens (compact JWS): HS256 with the shared secret, and RS256 with the
/// hospital identity provider's public key when one is configured. Claims: `sub` (user id), `role`,
/// `ward`, `exp` (required), `iat`, and `iss`/`aud` (required to match when configured).
///
/// Each algorithm is checked with its own key only, so a token claiming `none`, or RS256 signed
/// with the HS256 secret, is refused; HS256 can be switched off (beside an identity provider).
/// The cryptography is OpenSSL's (`Signatures.swift`): HMAC compared in constant time, RSA
/// verified by `EVP_DigestVerify`. Immutable and safe to share between threads.
public struct TokenAuthority: Sendable {
    private let secret: [UInt8]
    private let rsaKey: RSAPublicKey?
    private let acceptsHS256: Bool
    private let issuer: String?
    private let audience: String?

    /// HS256 only, with `secret`.
    public init(secret: String, issuer: String? = nil, audience: String? = nil) {
        self.secret = Array(secret.utf8)
        rsaKey = nil
        acceptsHS256 = true
        self.issuer = issuer
        self.audience = audience
    }

    /// With an identity provider's RSA public key (PEM) RS256 is accepted; HS256 too only when
    /// `acceptHS256` says so.
    public init(secret: String, rsaPublicKeyPEM: String?, acceptHS256: Bool = true,
                issuer: String? = nil, audience: String? = nil) throws(KeyError) {
        self.secret = Array(secret.utf8)
        rsaKey = try rsaPublicKeyPEM.map { pem throws(KeyError) in try RSAPublicKey(pem: pem) }
        acceptsHS256 = rsaPublicKeyPEM == nil || acceptHS256
        self.issuer = issuer
        self.audience = audience
    }

    public var acceptedAlgorithms: [String] { (acceptsHS256 ? ["HS256"] : []) + (rsaKey != nil ? ["RS256"] : []) }

    public func verify(_ token: String?, now: Int64 = Int64(Date().timeIntervalSince1970)) throws(TokenRefusal) -> Principal {
        try verifyToken(token, now: now).principal
    }

    public func verifyToken(_ token: String?, now: Int64 = Int64(Date().timeIntervalSince1970)) throws(TokenRefusal) -> VerifiedToken {
        guard let token, !token.isEmpty else { throw .missing }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]),
              let header = JSONValue.document(headerBytes)?.object,
              let signature = Base64URL.decode(parts[2]) else { throw .malformedOrBadSignature }
        let algorithm = header["alg"]?.string ?? "no algorithm"
        let signed = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        switch algorithm {
        case "HS256" where acceptsHS256:
            guard HMACSHA256.matches(key: secret, signed, signature: signature) else { throw .malformedOrBadSignature }
        case "RS256" where rsaKey != nil:
            guard rsaKey!.verifySHA256(signed, signature: signature) else { throw .malformedOrBadSignature }
        default:
            throw .wrongAlgorithm(algorithm, accepted: acceptedAlgorithms)
        }
        // Only a verified payload is read.
        guard let payload = Base64URL.decode(parts[1]),
              let claims = JSONValue.document(payload)?.object else { throw .malformedOrBadSignature }
        guard let expNumber = claims["exp"]?.double, expNumber.isFinite, abs(expNumber) < 1e15 else { throw .missingClaim("exp") }
        let exp = Int64(expNumber.rounded(.down))
        guard exp > now else { throw .expired }
        if let issuer, claims["iss"]?.string != issuer { throw .wrongIssuer }
        if let audience {
            let aud = claims["aud"]
            let ok = aud?.string == audience || (aud?.array?.contains { $0.string == audience } ?? false)
            if !ok { throw .wrongAudience }
        }
        guard let user = claims["sub"]?.string, !user.isEmpty else { throw .missingClaim("sub") }
        guard let roleName = claims["role"]?.string else { throw .missingClaim("role") }
        guard let role = Role(rawValue: roleName) else { throw .unknownRole(roleName) }
        guard let ward = claims["ward"]?.string else { throw .missingClaim("ward") }
        return VerifiedToken(principal: Principal(userID: user, role: role, ward: ward), expiresAt: exp)
    }

    /// A signed HS256 token for `who`, valid for `seconds`, carrying this authority's `iss`/`aud`
    /// (the demo and the tests use it).
    public func mint(_ who: Principal, validFor seconds: Int64, now: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        let input = Self.signingInput(algorithm: "HS256", Self.claims(who, validFor: seconds, now: now, issuer: issuer, audience: audience))
        return input + "." + Base64URL.encode(HMACSHA256.mac(key: secret, Array(input.utf8)))
    }

    /// An RS256 token signed with `privateKeyPEM` (what an identity provider issues; for tests and demos).
    public static func mintRS256(_ who: Principal, privateKeyPEM: String, validFor seconds: Int64,
                                 now: Int64 = Int64(Date().timeIntervalSince1970),
                                 issuer: String? = nil, audience: String? = nil) throws(KeyError) -> String {
        let key = try RSAPrivateKey(pem: privateKeyPEM)
        let input = signingInput(algorithm: "RS256", claims(who, validFor: seconds, now: now, issuer: issuer, audience: audience))
        return input + "." + Base64URL.encode(try key.signSHA256(Array(input.utf8)))
    }

    /// The claims Wardline mints (an identity provider's tokens may carry more; `verify` reads
    /// only these).
    private struct Claims: Encodable {
        let sub: String
        let role: String
        let ward: String
        let iat: Int64
        let exp: Int64
        let iss: String?
        let aud: String?
    }

    private struct Header: Encodable {
        let alg: String
        var typ = "JWT"
    }

    private static func claims(_ who: Principal, validFor seconds: Int64, now: Int64, issuer: String?, audience: String?) -> Claims {
        Claims(sub: who.userID, role: who.role.rawValue, ward: who.ward, iat: now, exp: now + seconds, iss: issuer, aud: audience)
    }

    /// Header and claims with sorted keys, base64url: the bytes the signature covers.
    private static func signingInput(algorithm: String, _ claims: Claims) -> String {
        Base64URL.encode(JSONText.encode(Header(alg: algorithm), .sorted)) + "." + Base64URL.encode(JSONText.encode(claims, .sorted))
    }
}

/// base64url without padding (RFC 7515 §2), strict: any other character, or padding, is refused.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.count % 4 != 1, text.utf8.allSatisfy({ c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        s += String(repeating: "=", count: (4 - s.utf8.count % 4) % 4)
        guard let bytes = Data(base64Encoded: s).map(Array.init) else { return nil }
        // Only the canonical spelling: the last character's unused bits must be zero, or one
        // token (signature included) would have several spellings that all verify.
        guard encode(bytes).utf8.elementsEqual(text.utf8) else { return nil }
        return bytes
    }
}
