import Foundation
import Testing
import WardlineHub
@testable import WardlineServer

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
        (["WARDLINE_PAGE_FALLBACK_CHANNEL": "pager"], "WARDLINE_PAGE_FALLBACK_CHANNEL=pager: expected log or an http(s) URL"),
        (["WARDLINE_HEARTBEAT_S": "15"], "WARDLINE_HEARTBEAT_S (15) must be shorter than WARDLINE_STALL_AFTER_S (15)"),
        (["WARDLINE_PAYLOAD_PATIENT_ID": "always"], "WARDLINE_PAYLOAD_PATIENT_ID=always is not refuse or unassigned"),
        (["WARDLINE_COMMAND_ROLES": "nurse,janitor"], "WARDLINE_COMMAND_ROLES: janitor: not a role"),
        (["WARDLINE_COMMAND_ROLES": "nurse:dance"], "dance is not a command"),
    ])
    func badValuesNameTheSetting(environment: [String: String], message: String) {
        #expect {
            _ = try WardlineConfiguration.load(environment: environment)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func secureDefaults() throws {
        let c = try WardlineConfiguration.load(environment: [:])
        #expect(c.payloadPatientID == .refuse)
        #expect(c.commandGrants == AccessPolicy.hospitalDefault.commandGrants)
    }

    @Test func everySettingIsDocumentedInTheReadme() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../README.md").standardized
        let text = try String(contentsOf: readme, encoding: .utf8)
        for option in ConfigurationOptions.all { #expect(text.contains("`\(option.name)`"), "\(option.name) missing from README") }
    }
}
