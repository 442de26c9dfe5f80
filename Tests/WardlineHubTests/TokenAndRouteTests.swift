import Foundation
import Logging
import Testing
@testable import WardlineAPI
import WardlineHub
@testable import WardlineWeb
import WardlineWard

@Suite struct TokenAuthorityTests {
    let authority = TokenAuthority(secret: "a-test-secret-of-some-length")
    let nurse = Principal(userID: "n1", role: .nurse, ward: "4B")

    @Test func aMintedTokenVerifies() throws {
        #expect(try authority.verify(authority.mint(nurse, validFor: 60)) == nurse)
    }

    @Test func refusals() {
        #expect(throws: TokenRefusal.missing) { try authority.verify(nil) }
        let other = TokenAuthority(secret: "another-secret-entirely").mint(nurse, validFor: 60)
        #expect(throws: TokenRefusal.malformedOrBadSignature) { try authority.verify(other) }
        #expect(throws: TokenRefusal.malformedOrBadSignature) { try authority.verify("not.a.token") }
        let expired = authority.mint(nurse, validFor: 60, now: 1000)
        #expect(throws: TokenRefusal.expired) { try authority.verify(expired) }
        // alg "none": header {"alg":"none","typ":"JWT"} with a valid-looking payload and no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhIiwicm9sZSI6ImFkbWluIiwid2FyZCI6IioiLCJleHAiOjk5OTk5OTk5OTl9."
        #expect(throws: TokenRefusal.wrongAlgorithm("none", accepted: ["HS256"])) { try authority.verify(none) }
    }

    /// The HS256 path is OpenSSL's HMAC compared with CRYPTO_memcmp (not libjwt's strcmp,
    /// CVE-2024-25189): a good token passes, every tampering fails.
    @Test func tamperedHS256TokensAreRefused() throws {
        let token = authority.mint(nurse, validFor: 60)
        let parts = token.split(separator: ".").map(String.init)
        let admin = authority.mint(Principal(userID: "n1", role: .admin, ward: "*"), validFor: 60).split(separator: ".").map(String.init)
        var lastFlipped = parts[2]
        let last = lastFlipped.removeLast()
        lastFlipped.append(last == "A" ? "B" : "A")
        let tampered = [
            [parts[0], admin[1], parts[2]],                  // another payload under this signature
            [parts[0], parts[1], lastFlipped],               // one signature character changed
            [parts[0], parts[1], String(parts[2].dropLast(2))],  // a shorter signature
            [parts[0], parts[1], ""],                        // no signature
            [parts[0], parts[1], parts[2] + "AAAA"],         // a longer one
            [parts[0], parts[1], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],  // 32 zero bytes
            [parts[0], parts[1], Self.otherSpelling(parts[2])],  // the same 32 bytes, the unused low bits set
        ]
        for t in tampered {
            #expect(throws: TokenRefusal.malformedOrBadSignature) { try authority.verify(t.joined(separator: ".")) }
        }
        #expect(try authority.verify(token) == nurse)
    }

    /// 32 bytes are 43 base64url characters whose last 2 bits are unused: setting them spells the
    /// same signature another way, which a decoder that ignores them would accept.
    static func otherSpelling(_ signature: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var chars = Array(signature)
        let v = alphabet.firstIndex(of: chars[chars.count - 1])!
        chars[chars.count - 1] = alphabet[v | 3]
        return String(chars)
    }

    /// Known answers: RFC 4231 test case 2, and the HS256 example of RFC 7515 appendix A.1.
    @Test func hmacIsSHA256() throws {
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let key = try #require(Base64URL.decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"))
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        let signature = try #require(Base64URL.decode("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
        #expect(HMACSHA256.matches(key: key, Array(input.utf8), signature: signature))
        #expect(!HMACSHA256.matches(key: key, Array(input.utf8), signature: Array(signature.dropLast())))
        #expect(!HMACSHA256.matches(key: key, Array((input + "x").utf8), signature: signature))
    }

    @Test func issuerAndAudienceAreCheckedWhenConfigured() throws {
        let strict = TokenAuthority(secret: "a-test-secret-of-some-length", issuer: "https://idp.hospital", audience: "wardline")
        #expect(try strict.verify(strict.mint(nurse, validFor: 60)) == nurse)
        #expect(throws: TokenRefusal.wrongIssuer) { try strict.verify(authority.mint(nurse, validFor: 60)) }
        let otherIssuer = TokenAuthority(secret: "a-test-secret-of-some-length", issuer: "https://elsewhere", audience: "wardline")
        #expect(throws: TokenRefusal.wrongIssuer) { try strict.verify(otherIssuer.mint(nurse, validFor: 60)) }
        let otherAudience = TokenAuthority(secret: "a-test-secret-of-some-length", issuer: "https://idp.hospital", audience: "pharmacy")
        #expect(throws: TokenRefusal.wrongAudience) { try strict.verify(otherAudience.mint(nurse, validFor: 60)) }
        // Unconfigured, iss and aud are not looked at.
        #expect(try authority.verify(strict.mint(nurse, validFor: 60)) == nurse)
    }

    @Test func aVerifiedTokenSaysWhenItExpires() throws {
        let t = try authority.verifyToken(authority.mint(nurse, validFor: 60, now: 1_000_000), now: 1_000_010)
        #expect(t.principal == nurse && t.expiresAt == 1_000_060)
        #expect(throws: TokenRefusal.expired) { try authority.verifyToken(authority.mint(nurse, validFor: 60, now: 1_000_000), now: 1_000_060) }
    }
}

@Suite struct RouteTests {
    @Test func patternsBindNamedParts() {
        let r = Route("POST", "/api/v1/alarms/{alarm_id}/acknowledge", "ack")
        #expect(r.match("/api/v1/alarms/a-1/acknowledge".split(separator: "/")) == ["alarm_id": "a-1"])
        #expect(r.match("/api/v1/alarms/a-1".split(separator: "/")) == nil)
    }

    @Test func bucketsParse() throws {
        #expect(try WardAPI.seconds("60") == 60)
        #expect(try WardAPI.seconds("5m") == 300)
        #expect(try WardAPI.seconds("1h") == 3600)
        #expect(throws: APIError.self) { try WardAPI.seconds("0s") }
        #expect(throws: APIError.self) { try WardAPI.seconds("2d") }
    }

    @Test func answersWithoutADatabase() throws {
        let tokens = TokenAuthority(secret: "a-test-secret-of-some-length")
        let context = APIContext(databaseURL: "", tokens: tokens, directory: DirectoryBox(),
                                 acknowledge: { _, _ in .failure(APIError(503, "x", "x")) }, publishCommand: { _, _ in },
                                 directoryChanged: {}, settingsChanged: {}, latestScore: { _ in nil },
                                 readiness: { [] }, metrics: { "" })
        let api = WardAPI(context: context, logger: Logger(label: "test"))
        func status(_ r: HTTPRequest) -> (Int, [String: Any]) {
            let response = api.answer(r, nil)
            return (response.status, try! JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any])
        }
        let admin = "Bearer " + tokens.mint(Principal(userID: "a", role: .admin, ward: "*"), validFor: 60)
        #expect(status(HTTPRequest(method: "GET", path: "/api/v1/alarms")).0 == 401)
        #expect(status(HTTPRequest(method: "GET", path: "/api/v1/nothing", headers: ["authorization": admin])).0 == 404)
        #expect(status(HTTPRequest(method: "DELETE", path: "/api/v1/alarms", headers: ["authorization": admin])).0 == 405)
        let (code, body) = status(HTTPRequest(method: "GET", path: "/api/v1/patients/P1/vitals", query: ["bucket": "banana"],
                                              headers: ["authorization": admin, "x-request-id": "r-1"]))
        #expect(code == 400)
        #expect((body["error"] as! [String: Any])["code"] as? String == "validation_error")
        #expect(body["request_id"] as? String == "r-1")
        let malformed = HTTPRequest(method: "POST", path: "/api/v1/care-assignments", headers: ["authorization": admin], body: Array("{".utf8))
        #expect(status(malformed).0 == 400)
        #expect(status(HTTPRequest(method: "GET", path: "/health")).0 == 200)
        #expect(status(HTTPRequest(method: "GET", path: "/api/v1/alarms", headers: ["authorization": admin])).0 == 503)
    }
}

@Suite struct AlarmIDRouteTests {
    @Test func alarmIdsWithSlashesMatchRawOrEncoded() {
        let ack = Route("POST", "/api/v1/alarms/{alarm_id*}/acknowledge", "ack")
        let one = Route("GET", "/api/v1/alarms/{alarm_id*}", "alarm")
        #expect(ack.match("/api/v1/alarms/P1/spo2.low/17/acknowledge".split(separator: "/")) == ["alarm_id": "P1/spo2.low/17"])
        #expect(ack.match("/api/v1/alarms/P1%2Fspo2.low%2F17/acknowledge".split(separator: "/")) == ["alarm_id": "P1/spo2.low/17"])
        #expect(one.match("/api/v1/alarms/P1/spo2.low/17".split(separator: "/")) == ["alarm_id": "P1/spo2.low/17"])
        #expect(ack.match("/api/v1/alarms/acknowledge".split(separator: "/")) == nil)
    }
}

@Suite struct OpenAPIDocumentTests {
    /// Every route the server has is in the API description, and nothing else is.
    @Test func routesAndTheDescriptionAgree() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/WardlineAPI/openapi.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        var documented = Set<String>()
        var path = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("  /") { path = String(line.dropFirst(2).dropLast()) }
            for m in ["get", "put", "post", "delete"] where line == "    \(m):" && !path.isEmpty {
                documented.insert(m.uppercased() + " " + path)
            }
            if !line.hasPrefix(" ") { path = "" }
        }
        let routed = Set(WardAPI.allRoutes.map { r in
            r.0.method + " /" + r.0.parts.joined(separator: "/").replacingOccurrences(of: "*}", with: "}")
        })
        #expect(routed == documented)
    }
}

@Suite struct RS256Tests {
    // A throwaway key pair made for this test (openssl genrsa 2048); it signs nothing real.
    static let privateKey = """
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDY2NhsNQHeynMS
eaVGkaS3HsmFzBZd/nJpYVOSV/cH/X2ZqJh99O+8RJ/klJDFlSdIMjTu7hxudfDK
Zf/M4o7b2Msh8LGPMzX2KBpnOB3BevPqXdCagWiJc214BcUbCXEBu+2O9qzlmQAd
8G4JaMaIjQmwf+UzEb4N2/RSoqrGiO0VF8Ya7oF8K+CwRlhYZzfYkpj6RGIgZo2i
jLom09VyGIs34y4tfjOMbMKII/Z/TmUyx0JBSAVS2VXcUNEQ/DVNI/wWYCgwU+nq
7ip+Fxt3MBhpBCu19frsUpCcWx4UIaupX6MSRJBmCLrYaxl3bNetdo8Pp0rLfACB
xzXsHOznAgMBAAECggEAPlSmcQQTk4yx4v+gaFZ4+EIbPyBY1Y/MJ0pYkVpDocJV
lhOGMb50IrO/Gh8yNfkXn4L/ACbleULhgewrySLeWYdJbGoZP8ZCno0MedsBgpnq
/tUUnzTPbaMGNlfCPnFKUGtKb6usKxr9k52Go6HAX4Pa4ycAJNvWu3kcE5y6ZfJy
LqKlxNcCgN0nsBRr0UB4r+STV5gbdp/a2mgX4Q6PXE5ommNy0c3IHa6GfMwHU2hx
DPFQN736exPGufvDm/2ehkRIRPe9xIqIHa/lyPU8scxcrqJzLroIwS+sb7rs4u5P
uCRx2rLO5Crf845omzhMuOeQseqK9pKgeaWEBXjhcQKBgQD6idltYd50TTEDA6O+
Ny5DAdgUcTkmyPC2Ggl25GxNvCQ2B9FMwsKdc0j+2wjt2jDgpgidkXaiiyWF4LlP
il6LQhMTgnYXy3o3lM4QI0WX2JM6Cz8BUciwDoBJDr8zhzp/SIMA+G38b9TS2I9F
BWzi6B6SJiEXz9Ca58YVloDHWwKBgQDdkvpymrhhcMIN2JwGsASAZgbfzOrmxwox
TWKk2AvuTNQq4uFnXZ/PdBKA2htwleXuJiN9PE3WAVGQCJqcIzSHSF8Dk6tn/QWp
2oO/rHNX39QJIfX0XtVSG1JoLRrOnLtu7w+KKvO4NJT9B7xasB5zrlGwFXuyMX1e
UFlhoeOyZQKBgC7q+8XJKzCaeBA5cUOg78/qm32QioRh4vonPBiAxGt2TU20/xQh
8PItccEQYcaxMrAPR9PCNvZPmpJMuEdWAUiQ8iOYLedc2qFoA4LwKAs8qq2XB5CG
sU+PF6UW1uWecGz/tlDLNUWt56wolAP39SE1GOyDqXTdHRK1TtoiGjG7AoGBAI3h
KKer9PbICiptknMh0LAbJLm38I5300oAoHKnuPQNlCol/2l95PAlBhgmET4FbicR
mtX9gGXRkFWnfMEQNfmOWPDkZPSAa1j5CDX7ChyxwYdbjK++7d/WiO0WPL0iVU7S
m2PA3zEL0n83rd9wOP+gFsSm7P8Me5eh4aoHzNKVAoGAJWAYVKKTl9z/WS3UQtgF
JVwklQrDUVDDiA5eaZt47e2CX6nmyPd8jjlENnw2wfu9n3YMp/jO4AtrceN2kEPP
SLNvuD45uS7xS/jZyEKcpyYPbBX9KAegllJYQYNKLdPHXoYIAC3hBZlicv0nOD7v
pquouQo+xXE2eN1FmSiJ8UU=
-----END PRIVATE KEY-----
"""
    static let publicKey = """
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2NjYbDUB3spzEnmlRpGk
tx7JhcwWXf5yaWFTklf3B/19maiYffTvvESf5JSQxZUnSDI07u4cbnXwymX/zOKO
29jLIfCxjzM19igaZzgdwXrz6l3QmoFoiXNteAXFGwlxAbvtjvas5ZkAHfBuCWjG
iI0JsH/lMxG+Ddv0UqKqxojtFRfGGu6BfCvgsEZYWGc32JKY+kRiIGaNooy6JtPV
chiLN+MuLX4zjGzCiCP2f05lMsdCQUgFUtlV3FDREPw1TSP8FmAoMFPp6u4qfhcb
dzAYaQQrtfX67FKQnFseFCGrqV+jEkSQZgi62GsZd2zXrXaPD6dKy3wAgcc17Bzs
5wIDAQAB
-----END PUBLIC KEY-----
"""
    let nurse = Principal(userID: "n1", role: .nurse, ward: "4B")

    @Test func anIdentityProvidersRS256TokenVerifiesWithItsPublicKey() throws {
        let authority = try TokenAuthority(secret: "a-test-secret-of-some-length", rsaPublicKeyPEM: Self.publicKey)
        let token = try TokenAuthority.mintRS256(nurse, privateKeyPEM: Self.privateKey, validFor: 60)
        #expect(try authority.verify(token) == nurse)
        // HS256 still works beside it when kept.
        #expect(try authority.verify(authority.mint(nurse, validFor: 60)) == nurse)
    }

    @Test func hs256IsOffBesideAnIdentityProviderUnlessKept() throws {
        let idpOnly = try TokenAuthority(secret: "a-test-secret-of-some-length", rsaPublicKeyPEM: Self.publicKey, acceptHS256: false)
        #expect(idpOnly.acceptedAlgorithms == ["RS256"])
        let hs = TokenAuthority(secret: "a-test-secret-of-some-length").mint(nurse, validFor: 60)
        #expect(throws: TokenRefusal.wrongAlgorithm("HS256", accepted: ["RS256"])) { try idpOnly.verify(hs) }
        #expect(try idpOnly.verify(TokenAuthority.mintRS256(nurse, privateKeyPEM: Self.privateKey, validFor: 60)) == nurse)
        // An RS256 header over an HMAC made with the public key as the secret (the classic confusion).
        let confused = TokenAuthority(secret: Self.publicKey).mint(nurse, validFor: 60).split(separator: ".").map(String.init)
        let header = Base64URL.encode(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        #expect(throws: TokenRefusal.malformedOrBadSignature) { try idpOnly.verify([header, confused[1], confused[2]].joined(separator: ".")) }
    }

    @Test func issuerAndAudienceApplyToRS256Too() throws {
        let authority = try TokenAuthority(secret: "a-test-secret-of-some-length", rsaPublicKeyPEM: Self.publicKey,
                                           issuer: "https://idp.hospital", audience: "wardline")
        let good = try TokenAuthority.mintRS256(nurse, privateKeyPEM: Self.privateKey, validFor: 60, issuer: "https://idp.hospital", audience: "wardline")
        #expect(try authority.verify(good) == nurse)
        let bare = try TokenAuthority.mintRS256(nurse, privateKeyPEM: Self.privateKey, validFor: 60)
        #expect(throws: TokenRefusal.wrongIssuer) { try authority.verify(bare) }
        let wrongAudience = try TokenAuthority.mintRS256(nurse, privateKeyPEM: Self.privateKey, validFor: 60, issuer: "https://idp.hospital", audience: "other")
        #expect(throws: TokenRefusal.wrongAudience) { try authority.verify(wrongAudience) }
    }

    @Test func aPublicKeyThatIsNotRSAIsRefused() {
        #expect(throws: KeyError.self) { try TokenAuthority(secret: "a-test-secret-of-some-length", rsaPublicKeyPEM: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") }
    }

    @Test func rs256IsRefusedWithoutAPublicKey() throws {
        let authority = TokenAuthority(secret: "a-test-secret-of-some-length")
        let token = try TokenAuthority.mintRS256(nurse, privateKeyPEM: Self.privateKey, validFor: 60)
        #expect(throws: TokenRefusal.wrongAlgorithm("RS256", accepted: ["HS256"])) { try authority.verify(token) }
    }

    @Test func aTamperedRS256TokenIsRefused() throws {
        let authority = try TokenAuthority(secret: "a-test-secret-of-some-length", rsaPublicKeyPEM: Self.publicKey)
        let token = try TokenAuthority.mintRS256(nurse, privateKeyPEM: Self.privateKey, validFor: 60)
        var parts = token.split(separator: ".").map(String.init)
        // Same header and signature, a payload claiming admin.
        let admin = try TokenAuthority.mintRS256(Principal(userID: "n1", role: .admin, ward: "*"), privateKeyPEM: Self.privateKey, validFor: 60)
        parts[1] = String(admin.split(separator: ".")[1])
        #expect(throws: TokenRefusal.malformedOrBadSignature) { try authority.verify(parts.joined(separator: ".")) }
    }
}
