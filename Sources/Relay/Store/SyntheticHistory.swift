import CrynuxSDK
import Foundation
import GRDB

/// Finished tasks written straight into a store, for benchmarks (`crynux bench relay-history`): each is a paid LLM
/// task that ran its whole course, with the rows the relay itself writes for one — the task, its four events and
/// the ledger's payment, DAO fee and income — and balances and deposits that keep the ledger whole.
extension RelayStore {
    /// Appends `count` finished tasks (after whatever the store holds) in transactions of `batch` tasks; `progress`
    /// hears the running total.
    public func appendSyntheticHistory(count: Int, batch: Int = 20_000, progress: (Int) -> Void = { _ in }) throws {
        guard count >= 0, batch > 0 else { throw RelayStoreError("count must be ≥ 0 and batch > 0") }
        var state = try load(config: RelayConfig(), seed: 1)
        let creators = (0..<100).map { String(format: "0x%040X", 0xC000 + $0) }
        let nodes = (0..<10).map { String(format: "0x%040X", 0xA000 + $0) }
        let dao = RelayConfig().daoAccount
        let fee = Wei(cnx: 1)
        let daoShare = Wei(fee.value / 10)
        let income = fee.subtracting(daoShare) ?? Wei(0)
        let args = #"{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"What is 2+2?"}],"generation_config":{"max_new_tokens":16}}"#
        var ledgerID = state.ledgerBase
        var eventID = state.eventCount
        var sequence = state.sequenceNumber
        var random = SplitMix64(seed: UInt64(sequence) &+ 0x5EED)
        var balances = state.balances.storage
        var deposits = state.totalDeposits
        var done = 0
        let start: Int64 = 1_700_000_000
        while done < count {
            let n = min(batch, count - done)
            try queue.write { db in
                let task = try db.cachedStatement(
                    sql: "INSERT INTO tasks (commitment, sequence, creator, status, selected_node, task_id, body) VALUES (?, ?, ?, ?, ?, ?, ?)")
                let ledger = try db.cachedStatement(sql: "INSERT INTO ledger (id, time, kind, account, amount, task) VALUES (?, ?, ?, ?, ?, ?)")
                let event = try db.cachedStatement(sql: "INSERT INTO events (id, type, node_address, task_id_commitment, args) VALUES (?, ?, ?, ?, ?)")
                func row(_ time: Int64, _ kind: LedgerKind, _ account: String, _ amount: Wei, _ commitment: String?) throws {
                    ledgerID += 1
                    try ledger.execute(arguments: [ledgerID, time, kind.rawValue, account, amount.decimalString, commitment])
                    let held = balances[account] ?? Wei(0)
                    balances[account] = kind == .taskPayment ? (held.subtracting(amount) ?? Wei(0)) : held + amount
                }
                for _ in 0..<n {
                    sequence += 1
                    let creator = creators[sequence % creators.count]
                    let node = nodes[sequence % nodes.count]
                    let time = start + Int64(sequence)
                    if (balances[creator] ?? Wei(0)) < fee {
                        let amount = Wei(cnx: 10_000)
                        deposits = deposits + amount
                        try row(time, .deposit, creator, amount, nil)
                    }
                    var bytes = [UInt8]()
                    for _ in 0..<12 { withUnsafeBytes(of: random.next()) { bytes += $0 } }
                    let commitment = "0x" + Hex.encode(Array(bytes[0..<32]))
                    let taskID = "0x" + Hex.encode(Array(bytes[32..<64]))
                    let t = RelayTask(
                        sequence: sequence, commitment: commitment, creator: creator, taskArgs: args, taskType: .llm,
                        nonce: "0x" + Hex.encode(Array(bytes[64..<96])), modelIDs: ["base:huggingfacetb/smollm2-135m-instruct"], minVRAM: 0,
                        requiredGPU: "", requiredGPUVRAM: 0, taskVersion: "3.1.0", taskSize: 1, fee: fee, samplingSeed: Array(bytes[0..<32].reversed()),
                        priority: 0.0125, status: .endSuccess, score: "0x" + Hex.encode(Array(bytes[32..<64].reversed())), selectedNode: node,
                        timeout: 120, createTime: time, startTime: time, scoreReadyTime: time + 1, validatedTime: time + 1,
                        resultUploadedTime: time + 2, taskID: taskID)
                    try task.execute(arguments: [commitment, sequence, creator, Int(TaskStatus.endSuccess.rawValue), node, taskID, t.storedJSON])
                    try row(time, .taskPayment, creator, fee, commitment)
                    try row(time + 2, .daoFee, dao, daoShare, commitment)
                    try row(time + 2, .taskIncome, node, income, commitment)
                    for type in ["TaskStarted", "TaskScoreReady", "TaskValidated", "TaskEndSuccess"] {
                        eventID += 1
                        try event.execute(arguments: [eventID, type, node, commitment, "{}"])
                    }
                }
                let meta = try db.cachedStatement(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
                try meta.execute(arguments: ["sequence", String(sequence)])
                try meta.execute(arguments: ["deposits", deposits.decimalString])
                let balance = try db.cachedStatement(sql: "INSERT INTO balances (account, amount) VALUES (?, ?) ON CONFLICT(account) DO UPDATE SET amount = excluded.amount")
                for (account, amount) in balances { try balance.execute(arguments: [account, amount.decimalString]) }
            }
            done += n
            progress(done)
        }
        state = try load(config: RelayConfig(), seed: 1)
        guard state.sequenceNumber == sequence else { throw RelayStoreError("the history did not read back") }
    }
}
