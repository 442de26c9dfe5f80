import CLibcrypto

/// Why a PEM key could not be used; carries OpenSSL's own reason.
public struct KeyError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ what: String) {
        let code = ERR_get_error()
        var buffer = [CChar](repeating: 0, count: 256)
        if code != 0 { ERR_error_string_n(code, &buffer, buffer.count) }
        ERR_clear_error()
        description = code == 0 ? what : what + " (" + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ")"
    }
}

/// HMAC-SHA256 from OpenSSL, and the constant-time check of a presented MAC against it.
///
/// Debian 12's libjwt 1.10 compared HS256 signatures with `strcmp` (CVE-2024-25189: a timing
/// oracle, and a MAC with a zero byte compared short). Here the MAC is computed with OpenSSL's
/// `HMAC()` and compared with `CRYPTO_memcmp`, whose time depends only on the length, which is public.
enum HMACSHA256 {
    static func mac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, o.baseAddress, &length)
                }
            }
        }
        // HMAC fails only without memory or without SHA-256 in the library: nothing to recover.
        guard result != nil, length == 32 else { fatalError("OpenSSL HMAC-SHA256 failed") }
        return Array(out.prefix(Int(length)))
    }

    static func matches(key: [UInt8], _ data: [UInt8], signature: [UInt8]) -> Bool {
        let expected = mac(key: key, data)
        guard signature.count == expected.count else { return false }
        return expected.withUnsafeBytes { e in signature.withUnsafeBytes { s in CRYPTO_memcmp(e.baseAddress, s.baseAddress, e.count) == 0 } }
    }
}

/// Reads one RSA key from PEM through OpenSSL's `read` (the public or the private reader); the
/// caller owns the `EVP_PKEY` it returns.
private func readRSAKey(_ pem: String, notPEM: String, notRSA: String,
                        _ read: (OpaquePointer) -> OpaquePointer?) throws(KeyError) -> OpaquePointer {
    let bytes = Array(pem.utf8)
    let parsed: OpaquePointer? = bytes.withUnsafeBytes { b in
        guard let bio = BIO_new_mem_buf(b.baseAddress, Int32(b.count)) else { return nil }
        defer { BIO_free(bio) }
        return read(bio)
    }
    guard let parsed else { throw KeyError(notPEM) }
    guard EVP_PKEY_get_base_id(parsed) == NID_rsaEncryption else {
        EVP_PKEY_free(parsed)
        throw KeyError(notRSA)
    }
    return parsed
}

/// An RSA public key read from PEM (the identity provider's): the one owner of its `EVP_PKEY`.
/// Verifying only reads the key, which OpenSSL allows from several threads at once.
final class RSAPublicKey: @unchecked Sendable {
    private let key: OpaquePointer

    init(pem: String) throws(KeyError) {
        key = try readRSAKey(pem, notPEM: "not a PEM public key", notRSA: "the public key is not an RSA key (RS256 needs one)") {
            PEM_read_bio_PUBKEY($0, nil, nil, nil)
        }
    }

    deinit { EVP_PKEY_free(key) }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256).
    func verifySHA256(_ data: [UInt8], signature: [UInt8]) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, EVP_sha256(), nil, key) == 1 else { ERR_clear_error(); return false }
        let ok = signature.withUnsafeBufferPointer { s in
            data.withUnsafeBufferPointer { d in EVP_DigestVerify(ctx, s.baseAddress, s.count, d.baseAddress, d.count) }
        }
        if ok != 1 { ERR_clear_error() }
        return ok == 1
    }
}

/// An RSA private key read from PEM, for minting RS256 tokens the way an identity provider does
/// (tests and demos): the one owner of its `EVP_PKEY`.
final class RSAPrivateKey {
    private let key: OpaquePointer

    init(pem: String) throws(KeyError) {
        key = try readRSAKey(pem, notPEM: "not a PEM private key", notRSA: "the private key is not an RSA key") {
            PEM_read_bio_PrivateKey($0, nil, nil, nil)
        }
    }

    deinit { EVP_PKEY_free(key) }

    func signSHA256(_ data: [UInt8]) throws(KeyError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw KeyError("out of memory") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key) == 1 else { throw KeyError("cannot sign with this key") }
        var length = 0
        guard data.withUnsafeBufferPointer({ EVP_DigestSign(ctx, nil, &length, $0.baseAddress, $0.count) }) == 1 else {
            throw KeyError("cannot sign with this key")
        }
        var signature = [UInt8](repeating: 0, count: length)
        let ok = signature.withUnsafeMutableBufferPointer { s in
            data.withUnsafeBufferPointer { d in EVP_DigestSign(ctx, s.baseAddress, &length, d.baseAddress, d.count) }
        }
        guard ok == 1 else { throw KeyError("cannot sign with this key") }
        return Array(signature.prefix(length))
    }
}
