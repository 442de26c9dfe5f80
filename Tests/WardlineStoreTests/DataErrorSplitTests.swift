import Testing
@testable import WardlineStore

@Suite struct DataErrorSplitTests {
    /// A fake database: refuses any batch holding a poisoned item, fails wholesale while `down`.
    final class FakeTable {
        var poisoned: Set<Int>
        var down = false
        var stored: [Int] = []
        var putAside: [Int] = []
        var transactions = 0
        init(poisoned: Set<Int>) { self.poisoned = poisoned }

        func write(_ part: ArraySlice<Int>) throws {
            transactions += 1
            if down { throw PostgresError(operation: "query", message: "server closed the connection", sqlState: nil) }
            if part.contains(where: poisoned.contains) {
                throw PostgresError(operation: "query", message: "index row size exceeds maximum", sqlState: "54000")
            }
            stored += part
        }

        func split(_ items: [Int]) throws -> DataErrorSplit.Outcome {
            try DataErrorSplit.write(items[...], write, putAside: { item, error in
                #expect(error.isDataError)
                putAside.append(item)
            })
        }
    }

    @Test(arguments: [Set<Int>(), [0], [99], [37], [3, 4], [0, 50, 99], Set(0..<100)])
    func everyGoodItemIsWrittenAndEveryBadOnePutAside(poisoned: Set<Int>) throws {
        let table = FakeTable(poisoned: poisoned)
        let outcome = try table.split(Array(0..<100))
        #expect(table.stored.sorted() == (0..<100).filter { !poisoned.contains($0) })
        #expect(table.putAside.sorted() == poisoned.sorted())
        #expect(outcome == .init(written: 100 - poisoned.count, putAside: poisoned.count))
        #expect(table.stored == table.stored.sorted(), "order is kept")
    }

    @Test func oneBadRowCostsLogarithmicallyManyTransactions() throws {
        let table = FakeTable(poisoned: [613])
        _ = try table.split(Array(0..<5000))
        #expect(table.transactions <= 2 * 13 + 1)
    }

    @Test func unavailabilityIsRethrownNotPutAside() {
        let table = FakeTable(poisoned: [5])
        table.down = true
        #expect(throws: PostgresError.self) { try table.split(Array(0..<10)) }
        #expect(table.putAside.isEmpty && table.stored.isEmpty)
    }

    @Test(arguments: ["22001", "23505", "23514", "54000", "22P05"])
    func dataErrorClasses(state: String) {
        #expect(PostgresError(operation: "q", message: "", sqlState: state).isDataError)
    }

    @Test(arguments: [nil, "08006", "57P01", "53100", "40001", "42P01"] as [String?])
    func unavailabilityClasses(state: String?) {
        #expect(!PostgresError(operation: "q", message: "", sqlState: state).isDataError)
    }

    @Test func putAsideTextHoldsNoNulAndIsBounded() {
        #expect(PutAsideStore.clean("a\u{0}b", limit: 10) == "a\u{FFFD}b")
        #expect(PutAsideStore.clean(String(repeating: "x", count: 20), limit: 10).count == 11)
    }
}
