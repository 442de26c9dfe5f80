import Foundation
import Testing
import WardlineHub
@testable import WardlineServer
import WardlineConfig
import WardlineWard

@Suite struct ConfigurationTests {
    @Test func defaultsWorkOnLoopback() throws {
        let c = try WardlineConfiguration.load(environment: [:])
        #expect(c.mqttHost == "127.0.0.1" && c.mqttPort == 18830)
        #expect(c.databaseURL.contains("127.0.0.1:15432"))
        #expect(c.mqttUsername == nil)
    }

    @Test func environmentWinsOverTheFile() throws {
        let file = NSTemporaryDirectory() + "wardline-\(UUID().uuidString).conf"
        try "# comment\nWARDLINE_BATCH_SIZE = 250\nWARDLINE_MQTT_PORT=1999\n".write(toFile: file, atomically: true, encoding: .utf8)
        let c = try WardlineConfiguration.load(environment: ["WARDLINE_CONFIG": file, "WARDLINE_MQTT_PORT": "2000"])
        #expect(c.batchSize == 250)
        #expect(c.mqttPort == 2000)
    }

    @Test(arguments: [
        (["WARDLINE_BATCH_SIZE": "lots"], "WARDLINE_BATCH_SIZE=lots is not a whole number"),
        (["WARDLINE_MQTT_PORT": "70000"], "WARDLINE_MQTT_PORT=70000 is outside 1...65535"),
        (["WARDLINE_LOG_LEVEL": "loud"], "WARDLINE_LOG_LEVEL=loud is not a log level"),
        (["WARDLINE_CONFIG": "/nonexistent/wardline.conf"], "cannot read the file"),
        (["WARDLINE_NOTIFY_CHANNELS": "log,carrier-pigeon"], "unknown channel carrier-pigeon"),
        (["WARDLINE_NOTIFY_CHANNELS": "webhook"], "WARDLINE_WEBHOOK_URL is empty"),
        (["WARDLINE_RABBITMQ_URL": "http://u:secret@h/"], "WARDLINE_RABBITMQ_URL: http://u:***@h/ is not an amqp://"),
        (["WARDLINE_SUMMARY_AT": "25:00"], "WARDLINE_SUMMARY_AT=25:00 is not a time of day HH:MM"),
        (["WARDLINE_SUMMARY_AT": "07:00,19"], "WARDLINE_SUMMARY_AT=07:00,19: 19 is not a time of day HH:MM"),
        (["WARDLINE_SUMMARY_AT": "07:"], "WARDLINE_SUMMARY_AT=07: is not a time of day HH:MM"),
        (["WARDLINE_PAGE_FALLBACK_CHANNEL": "pager"], "WARDLINE_PAGE_FALLBACK_CHANNEL=pager: expected log or an http(s) URL"),
        (["WARDLINE_HEARTBEAT_S": "15"], "WARDLINE_HEARTBEAT_S (15) must be shorter than WARDLINE_STALL_AFTER_S (15)"),
        (["WARDLINE_PAYLOAD_PATIENT_ID": "always"], "WARDLINE_PAYLOAD_PATIENT_ID=always is not refuse or unassigned"),
        (["WARDLINE_COMMAND_ROLES": "nurse,janitor"], "WARDLINE_COMMAND_ROLES: janitor: not a role"),
        (["WARDLINE_COMMAND_ROLES": "nurse:dance"], "dance is not a command"),
        (["WARDLINE_JWT_ALLOW_HS256": "maybe"], "WARDLINE_JWT_ALLOW_HS256=maybe is not true or false"),
        (["WARDLINE_TLS_CERT_FILE": "/etc/ward.crt"], "WARDLINE_TLS_CERT_FILE and WARDLINE_TLS_KEY_FILE go together"),
        (["WARDLINE_WS_ORIGINS": "ward.example.org"], "WARDLINE_WS_ORIGINS: ward.example.org is not an origin"),
        (["WARDLINE_WS_MAX_CONNECTIONS": "0"], "WARDLINE_WS_MAX_CONNECTIONS=0 is outside"),
    ])
    func badValuesNameTheSetting(environment: [String: String], message: String) {
        #expect {
            _ = try WardlineConfiguration.load(environment: environment)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func summaryTimesAreOneOrSeveralTimesOfDay() throws {
        #expect(try WardlineConfiguration.load(environment: [:]).summaryMinutesOfDay == [420])
        #expect(try WardlineConfiguration.load(environment: ["WARDLINE_SUMMARY_AT": "07:00, 19:30"]).summaryMinutesOfDay == [420, 1170])
        #expect(try WardlineConfiguration.load(environment: ["WARDLINE_SUMMARY_AT": ""]).summaryMinutesOfDay.isEmpty)
    }

    @Test func secureDefaults() throws {
        let c = try WardlineConfiguration.load(environment: [:])
        #expect(c.payloadPatientID == .refuse)
        #expect(c.commandGrants == AccessPolicy.hospitalDefault.commandGrants)
        #expect(c.acceptsHS256 && c.jwtIssuer == nil && c.jwtAudience == nil)
    }

    /// The public demo secret is refused beyond loopback (`wardline serve` exits 78 with this).
    @Test(arguments: [
        ("127.0.0.1", nil, nil, false), ("127.8.0.1", nil, nil, false), ("localhost", nil, nil, false), ("::1", nil, nil, false),
        ("0.0.0.0", nil, nil, true), ("10.1.2.3", nil, nil, true), ("127.0.0.1.example.org", nil, nil, true),
        ("0.0.0.0", "a-secret-of-our-own-0123", nil, false),
        ("0.0.0.0", nil, "idp", false),  // HS256 is off beside an identity provider, the secret unused
    ] as [(String, String?, String?, Bool)])
    func theDemoSecretStaysOnLoopback(host: String, secret: String?, key: String?, refused: Bool) throws {
        var env = ["WARDLINE_HTTP_HOST": host]
        env["WARDLINE_JWT_SECRET"] = secret
        if key != nil {
            let file = NSTemporaryDirectory() + "wardline-\(UUID().uuidString).pem"
            try "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".write(toFile: file, atomically: true, encoding: .utf8)
            env["WARDLINE_JWT_PUBLIC_KEY_FILE"] = file
        }
        let problem = try WardlineConfiguration.load(environment: env).servingProblem()
        #expect((problem != nil) == refused, "\(host): \(problem ?? "accepted")")
        if let problem { #expect(problem.contains("WARDLINE_JWT_SECRET") && problem.contains(host)) }
    }

    @Test func secretsAreMaskedWhenShown() {
        let cases = [
            ("WARDLINE_JWT_SECRET", "s3cr3t-value-0123456789", "***"),
            ("WARDLINE_MQTT_PASSWORD", "hunter2", "***"),
            ("WARDLINE_MQTT_PASSWORD", "", ""),
            ("WARDLINE_RABBITMQ_URL", "amqp://wardline:hunter2@127.0.0.1:15673/wardline", "amqp://wardline:***@127.0.0.1:15673/wardline"),
            ("WARDLINE_DATABASE_URL", "postgresql://wardline:hunter2@127.0.0.1:15432/wardline", "postgresql://wardline:***@127.0.0.1:15432/wardline"),
            ("WARDLINE_DATABASE_URL", "host=db user=wardline password=hunter2 dbname=w", "host=db user=wardline password=*** dbname=w"),
            ("WARDLINE_DATABASE_URL", "host=db password = 'hun ter2' dbname=w", "host=db password=*** dbname=w"),
            ("WARDLINE_DATABASE_URL", "postgresql://wardline@127.0.0.1:15432/wardline", "postgresql://wardline@127.0.0.1:15432/wardline"),
            // A primary and its standby: one user part for both hosts, the query kept past the password.
            ("WARDLINE_DATABASE_URL", "postgresql://wardline:hunter2@127.0.0.1:15432,127.0.0.1:15433/wardline?target_session_attrs=read-write",
             "postgresql://wardline:***@127.0.0.1:15432,127.0.0.1:15433/wardline?target_session_attrs=read-write"),
            ("WARDLINE_DATABASE_URL", "postgresql://wardline@127.0.0.1:15432,127.0.0.1:15433/wardline?password=hunter2&target_session_attrs=read-write",
             "postgresql://wardline@127.0.0.1:15432,127.0.0.1:15433/wardline?password=***&target_session_attrs=read-write"),
            ("WARDLINE_DATABASE_URL", "postgresql://wardline@127.0.0.1:15432,127.0.0.1:15433/wardline?target_session_attrs=read-write&passfile=/v/p.pgpass",
             "postgresql://wardline@127.0.0.1:15432,127.0.0.1:15433/wardline?target_session_attrs=read-write&passfile=/v/p.pgpass"),
            ("WARDLINE_HTTP_HOST", "0.0.0.0", "0.0.0.0"),
        ]
        for (name, value, shown) in cases {
            #expect(ConfigurationOptions.shown(name, value) == shown, "\(name)")
        }
    }

    @Test func everySettingIsDocumentedInTheReadme() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../README.md").standardized
        let text = try String(contentsOf: readme, encoding: .utf8)
        for option in ConfigurationOptions.all { #expect(text.contains("`\(option.name)`"), "\(option.name) missing from README") }
    }
}
