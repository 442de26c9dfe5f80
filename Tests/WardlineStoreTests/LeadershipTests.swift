import Testing
import WardlineStore

/// The pure parts of `Leadership`; the lock itself is tested against PostgreSQL
/// (Tests/Integration/test_leadership.py).
@Suite struct LeadershipTests {
    /// Pinned: every node and every version must take the same lock for the same job, or an old
    /// and a new node would both lead during a rolling upgrade. The README lists these keys.
    @Test func lockKeysAreFixed() {
        #expect(LeadDuty.wardSummary.key == -8083895966367229924)
        #expect(LeadDuty.rejectedRetention.key == -4792337509592655494)
        #expect(LeadDuty.vitalsRollup.key == 5586156078050084121)
        #expect(LeadDuty.key("") == Int64(bitPattern: 0xcbf29ce484222325), "FNV-1a's offset basis")
        #expect(LeadDuty.key("a") == Int64(bitPattern: 0xaf63dc4c8601ec8c), "FNV-1a 64 of \"a\"")
        #expect(LeadDuty.wardSummary.key != LeadDuty.rejectedRetention.key)
    }

    @Test func theSessionGetsTimeoutsKeepalivesAndAName() {
        let url = Leadership.sessionURL("postgresql://wardline@127.0.0.1:15432/wardline?passfile=/v/p.pgpass", duty: .wardSummary)
        #expect(url.hasPrefix("postgresql://wardline@127.0.0.1:15432/wardline?passfile=/v/p.pgpass&connect_timeout=5&keepalives=1&"))
        #expect(url.contains("&tcp_user_timeout=10000") && url.hasSuffix("&application_name=wardline-lead:wardline.ward_summary"))
        #expect(Leadership.sessionURL("postgres://h/db", duty: .wardSummary).hasPrefix("postgres://h/db?connect_timeout=5&"))
        let kv = Leadership.sessionURL("host=h dbname=wardline", duty: .rejectedRetention)
        #expect(kv.hasPrefix("host=h dbname=wardline connect_timeout=5 keepalives=1 "))
        #expect(kv.hasSuffix(" application_name=wardline-lead:wardline.rejected_retention"))
    }

    @Test func whatTheURLSetsIsKept() {
        let url = Leadership.sessionURL("postgresql://h/db?connect_timeout=30&application_name=ops", duty: .wardSummary)
        #expect(url.components(separatedBy: "connect_timeout=").count == 2 && url.contains("connect_timeout=30"))
        #expect(!url.contains("wardline-lead") && url.contains("keepalives_idle=5"))
        let kv = Leadership.sessionURL("host=h keepalives_idle = 60", duty: .wardSummary)
        #expect(kv.components(separatedBy: "keepalives_idle").count == 2 && kv.contains(" keepalives=1"))
    }
}
