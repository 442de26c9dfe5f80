import ArgumentParser
import Foundation
import WardlineServer

/// `wardline devices provision|revoke`: device accounts in the broker, through its dynamic
/// security plugin, with the admin account of WARDLINE_MQTT_ADMIN_USERNAME.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue or revoke devices' broker credentials.",
        subcommands: [Provision.self, Revoke.self])

    struct Provision: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create broker accounts and print `ID PASSWORD` lines, once (the simulator's --credentials format).",
            discussion: """
            Each device may then publish only devices/ID/vitals|alerts|status and read only devices/ID/commands, \
            with client id ID. The passwords are printed here and kept nowhere else: redirect them into a file \
            with mode 0600 (umask 077) or straight into the device's configuration.
            """)

        @Option(help: "device (one bedside device), gateway (publishes for any device, a shared simulator connection), or wardline (another serve node).")
        var kind: String = "device"

        @Argument(help: "Ids: 1–64 of A–Z a–z 0–9 . _ : -")
        var ids: [String]

        func run() throws {
            guard let kind = BrokerAccountKind(rawValue: kind) else {
                throw ValidationError("--kind must be one of \(BrokerAccountKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let accounts = try brokerAccounts()
            do {
                for made in try accounts.provision(ids, kind: kind) { print("\(made.id) \(made.password)") }
            } catch {
                FileHandle.standardError.write(Data("wardline: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete broker accounts; a connected device is disconnected and cannot connect again.")

        @Argument(help: "Ids of devices, gateways or other Wardline nodes.")
        var ids: [String]

        func run() throws {
            let accounts = try brokerAccounts()
            var failed = false
            for id in ids {
                do {
                    try accounts.revoke(id)
                    print("\(id) revoked")
                } catch {
                    FileHandle.standardError.write(Data("wardline: \(error)\n".utf8))
                    failed = true
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}

private func brokerAccounts() throws -> BrokerAccounts {
    let (config, _) = try loadConfiguration()
    guard let accounts = BrokerAccounts(configuration: config) else {
        FileHandle.standardError.write(Data("wardline: WARDLINE_MQTT_ADMIN_USERNAME is not set: no broker admin account to provision with\n".utf8))
        throw ExitCode(78)
    }
    return accounts
}
