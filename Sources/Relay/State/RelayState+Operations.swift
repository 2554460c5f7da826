import CrynuxSDK
import Foundation

/// Where a relay's finished tasks are kept once stored (the SQLite store): they are read back on demand, so
/// memory holds live work only.
public protocol RelayHistory: Sendable {
    /// The stored task with `commitment`, if any.
    func storedTask(_ commitment: String) throws -> RelayTask?
    /// Whether a task with `commitment` is stored.
    func storedTaskExists(_ commitment: String) throws -> Bool
    /// The stored tasks of the validation group with `taskID`.
    func storedTasks(taskID: String) throws -> [RelayTask]
}

/// One operation at a time: what it changed (for the store), and putting it back when it is refused.
extension RelayState {
    /// The scalars an operation may change, as they were when it began.
    struct Snapshot: Sendable {
        var sequence: Int
        var random: SplitMix64
        var totalDeposits: Wei
        var pendingDownloads: [String: Int64]
        var ledgerCount: Int
        var eventCount: Int
        var lastDeadlineScan: Int64?
    }

    /// What one operation changed: the rows the store writes in its transaction.
    public struct Changes: Sendable {
        /// New or changed tasks.
        public var tasks: [RelayTask] = []
        /// New or changed nodes.
        public var nodes: [RelayNode] = []
        /// Changed balances.
        public var balances: [(account: String, amount: Wei)] = []
        /// Changed escrow (nil: released entirely).
        public var escrow: [(commitment: String, amount: Wei?)] = []
        /// New ledger rows.
        public var ledger: [LedgerEntry] = []
        /// New events.
        public var events: [RelayEvent] = []
        /// The relay's counters and random position, when any changed.
        public var meta: Meta?

        /// Whether nothing changed.
        public var isEmpty: Bool {
            tasks.isEmpty && nodes.isEmpty && balances.isEmpty && escrow.isEmpty && ledger.isEmpty && events.isEmpty && meta == nil
        }
    }

    /// The relay-wide values kept in the store's `meta` table that an operation changed (nil: unchanged).
    public struct Meta: Sendable, Hashable {
        /// The last task sequence number.
        public var sequence: Int?
        /// The random stream's position.
        public var random: UInt64?
        /// Everything ever deposited.
        public var deposits: Wei?
        /// Pending model downloads.
        public var downloads: [String: Int64]?
    }

    /// The task with `commitment`, held in memory or read from the history.
    public func lookup(_ commitment: String) throws(RelayError) -> RelayTask? {
        if let task = tasks[commitment] { return task }
        guard let history else { return nil }
        do { return try history.storedTask(commitment) } catch { throw .storage(error) }
    }

    /// Whether a task with `commitment` exists, in memory or in the history.
    func taskExists(_ commitment: String) throws(RelayError) -> Bool {
        if tasks[commitment] != nil { return true }
        guard let history else { return false }
        do { return try history.storedTaskExists(commitment) } catch { throw .storage(error) }
    }

    /// The task with `commitment`, brought into memory so the operation can change it.
    mutating func load(_ commitment: String) throws(RelayError) -> RelayTask? {
        if let task = tasks[commitment] { return task }
        guard let task = try lookup(commitment) else { return nil }
        tasks.adopt(task)
        return task
    }

    /// Every task of the validation group `taskID`, in memory or stored (memory wins).
    func groupMembers(_ taskID: String) throws(RelayError) -> [RelayTask] {
        var members = (tasks.byTaskID[taskID] ?? []).compactMap { tasks[$0] }
        if let history {
            let stored: [RelayTask]
            do { stored = try history.storedTasks(taskID: taskID) } catch { throw .storage(error) }
            members += stored.filter { tasks[$0.commitment] == nil }
        }
        return members
    }

    /// Every event, stored or not, counted.
    public var eventCount: Int { eventBase + events.count }

    /// The last task sequence number given out.
    public var sequenceNumber: Int { sequence }

    /// Opens an operation at `now` (nil: unknown): from here, changes are recorded so that they can be stored or put
    /// back. An operation earlier than the last deadline scan (the clock went back, or the caller passes its own
    /// times) makes the next scan a full one.
    mutating func begin(now: Int64? = nil) {
        if let last = lastDeadlineScan, now.map({ $0 < last }) ?? true { lastDeadlineScan = nil }
        snapshot = Snapshot(
            sequence: sequence, random: random, totalDeposits: totalDeposits, pendingDownloads: pendingDownloads, ledgerCount: ledger.count,
            eventCount: events.count, lastDeadlineScan: lastDeadlineScan)
        tasks.beginJournal()
        nodes.beginJournal()
        balances.beginJournal()
        escrow.beginJournal()
    }

    /// What the open operation changed.
    func changes() -> Changes {
        var changes = Changes()
        changes.tasks = tasks.changes()
        changes.nodes = nodes.changes().compactMap(\.value)
        changes.balances = balances.changes().map { ($0.key, $0.value ?? Wei(0)) }
        changes.escrow = escrow.changes().map { ($0.key, $0.value) }
        if let snapshot {
            changes.ledger = Array(ledger[snapshot.ledgerCount...])
            changes.events = Array(events[snapshot.eventCount...])
            var meta = Meta()
            if snapshot.sequence != sequence { meta.sequence = sequence }
            if snapshot.random.state != random.state { meta.random = random.state }
            if snapshot.totalDeposits != totalDeposits { meta.deposits = totalDeposits }
            if snapshot.pendingDownloads != pendingDownloads { meta.downloads = pendingDownloads }
            if meta != Meta() { changes.meta = meta }
        }
        return changes
    }


    /// Puts back everything the open operation changed.
    mutating func rollBack() {
        tasks.rollBack()
        nodes.rollBack()
        balances.rollBack()
        escrow.rollBack()
        if let snapshot {
            sequence = snapshot.sequence
            random = snapshot.random
            totalDeposits = snapshot.totalDeposits
            pendingDownloads = snapshot.pendingDownloads
            lastDeadlineScan = snapshot.lastDeadlineScan
            ledger.removeSubrange(snapshot.ledgerCount...)
            events.removeSubrange(snapshot.eventCount...)
        }
        snapshot = nil
        if history != nil { tasks.evictTerminal() }
    }

    /// Closes the stored operation: with a history, stored rows and finished tasks leave memory.
    mutating func end() {
        tasks.endJournal()
        nodes.endJournal()
        balances.endJournal()
        escrow.endJournal()
        snapshot = nil
        guard history != nil else { return }
        tasks.evictTerminal()
        ledgerBase += ledger.count
        eventBase += events.count
        ledger.removeAll(keepingCapacity: true)
        events.removeAll(keepingCapacity: true)
    }
}
