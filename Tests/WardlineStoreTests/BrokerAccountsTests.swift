import Foundation
import Testing
import WardlineMQTT
@testable import WardlineServer

@Suite struct BrokerAccountsTests {
    @Test func aDeviceRoleNamesOnlyItsOwnTopicsLiterally() throws {
        let commands = BrokerAccounts.commands(for: "mon-7", kind: .device, password: "pw")
        #expect(commands.map(\.command) == ["createRole", "createClient"])
        let acls = try #require(commands[0].acls).map { "\($0.acltype) \($0.topic)" }
        #expect(acls == ["publishClientSend devices/mon-7/vitals", "publishClientSend devices/mon-7/alerts",
                         "publishClientSend devices/mon-7/status", "subscribeLiteral devices/mon-7/commands",
                         "publishClientReceive devices/mon-7/commands"])
        #expect(commands[1].username == "mon-7" && commands[1].clientid == "mon-7", "the client id is bound to the account")
        #expect(commands[1].roles?.map(\.rolename) == ["device:mon-7"])
    }

    @Test(arguments: [BrokerAccountKind.gateway, .wardline])
    func sharedRolesAreBoundToOneClientIDToo(kind: BrokerAccountKind) {
        let commands = BrokerAccounts.commands(for: "gw-1", kind: kind, password: "pw")
        #expect(commands.count == 1 && commands[0].clientid == "gw-1" && commands[0].roles?.map(\.rolename) == [kind.rawValue])
    }

    @Test func theJSONLeavesUnsetFieldsOut() throws {
        // Key order is JSONEncoder's business (it differs between runs): compare sorted.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(DynamicSecurityCommand("deleteClient", username: "mon-7")), as: UTF8.self)
        #expect(json == #"{"command":"deleteClient","username":"mon-7"}"#)
    }

    @Test(arguments: ["mon-1", "a", "PAT.9:x_y-z", String(repeating: "a", count: 64)])
    func validIDs(id: String) { #expect(BrokerAccounts.isValidID(id)) }

    @Test(arguments: ["", "mon/1", "mon+", "#", "mon 1", "m\u{043E}n", String(repeating: "a", count: 65), "a\u{0}b"])
    func invalidIDs(id: String) { #expect(!BrokerAccounts.isValidID(id)) }

    @Test func passwordsAreLongRandomAndURLSafe() {
        let passwords = (0..<50).map { _ in BrokerAccounts.newPassword() }
        #expect(Set(passwords).count == 50)
        #expect(passwords.allSatisfy { $0.count == 32 && !$0.contains("/") && !$0.contains("+") && !$0.contains("=") })
    }
}
