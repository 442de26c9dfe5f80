import ArgumentParser
import Foundation
import WardlineConfig
import WardlineHub
import WardlineServer
import WardlineWard
import WardlineWeb

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint a signed token (HS256, WARDLINE_JWT_SECRET) for the demo, tests and scripts.")

    @Option(help: "User id (the token's sub).") var user: String
    @Option(help: "nurse, charge_nurse, physician, rapid_response or admin.") var role: String
    @Option(help: "Ward the user works on.") var ward: String
    @Option(help: "Sign RS256 with this PEM private key (an identity provider's) instead of HS256 with WARDLINE_JWT_SECRET.")
    var privateKey: String?
    @Option(help: "Lifetime: seconds, or with s/m/h/d (e.g. 12h); negative mints an expired token for tests (--ttl=-60).") var ttl = "12h"
    @Option(help: "The token's iss (default: WARDLINE_JWT_ISSUER, none if empty).") var issuer: String?
    @Option(help: "The token's aud (default: WARDLINE_JWT_AUDIENCE, none if empty).") var audience: String?

    func run() throws {
        guard let r = Role(rawValue: role) else {
            throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(ttl)
        var factor: Int64 = 1
        if let last = ttl.last, let f = units[last] { factor = f; digits = ttl.dropLast() }
        guard let n = Int64(digits) else { throw ValidationError("--ttl must be like 3600, 30m, 12h or 7d") }
        let config: WardlineConfiguration
        do { config = try WardlineConfiguration.load() } catch { throw ValidationError("configuration: \(error)") }
        let who = Principal(userID: user, role: r, ward: ward)
        let iss = (issuer ?? config.jwtIssuer).flatMap { $0.isEmpty ? nil : $0 }
        let aud = (audience ?? config.jwtAudience).flatMap { $0.isEmpty ? nil : $0 }
        if let privateKey {
            guard let pem = try? String(contentsOfFile: privateKey, encoding: .utf8), pem.contains("PRIVATE KEY") else {
                throw ValidationError("--private-key \(privateKey): not a readable PEM private key")
            }
            do { print(try TokenAuthority.mintRS256(who, privateKeyPEM: pem, validFor: n * factor, issuer: iss, audience: aud)) } catch {
                throw ValidationError("--private-key \(privateKey): \(error)")
            }
        } else {
            print(TokenAuthority(secret: config.jwtSecret, issuer: iss, audience: aud).mint(who, validFor: n * factor))
        }
    }
}
