import Testing
@testable import CrynuxSDK

@Suite struct CommitmentTests {
    @Test(arguments: (try? Fixture.cases("commitment")) ?? [])
    func commitmentMatchesReference(_ c: VectorCase) throws {
        let identity = try TaskIdentity(taskIDHex: c.string("task_id"), nonceHex: c.string("nonce"))
        #expect(identity.commitmentHex == c.string("task_id_commitment"))
        #expect(identity.taskIDHex == c.string("task_id"))
    }

    @Test func fixtureHasCases() throws { #expect(try Fixture.cases("commitment").count == 10) }

    @Test func randomIdentitiesAreDistinctAndGroupsShareTheTaskID() {
        let a = TaskIdentity.random()
        let b = TaskIdentity.random()
        #expect(a.taskID != b.taskID && a.nonce != b.nonce)
        let copy = a.withFreshNonce()
        #expect(copy.taskID == a.taskID && copy.nonce != a.nonce && copy.commitment != a.commitment)
        #expect(a.commitmentHex == a.commitmentHex.lowercased() && a.commitmentHex.count == 66)
    }

    @Test func badHexIsRejected() {
        #expect(throws: TaskIdentityError.self) { _ = try TaskIdentity(taskIDHex: "0x11", nonceHex: "0x22") }
        #expect(throws: TaskIdentityError.self) {
            _ = try TaskIdentity(taskIDHex: "0x" + String(repeating: "zz", count: 32), nonceHex: "0x" + String(repeating: "22", count: 32))
        }
    }
}
