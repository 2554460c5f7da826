import CrynuxSDK
import Foundation
import GRDB

/// The relay's SQLite database (GRDB, with named migrations). Every accepted operation writes the rows it
/// changed in one transaction before its reply leaves, so a relay killed at any moment restarts with every
/// task, balance, deadline and ledger row it had acknowledged. Ledger and event rows are append-only (triggers
/// refuse updates and deletes). It is also the relay's history: finished tasks, the ledger and the events are
/// read from here, not held in memory.
public final class RelayStore: Sendable {
    let queue: DatabaseQueue

    /// Opens (or creates) the database at `path`, or an in-memory one for `nil`, and migrates it.
    public init(path: String?) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        queue = try path.map { try DatabaseQueue(path: $0, configuration: configuration) } ?? DatabaseQueue()
        try Self.migrator.migrate(queue)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: tasks, nodes, accounts, ledger, events") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE tasks (
                    commitment TEXT PRIMARY KEY NOT NULL, sequence INTEGER NOT NULL UNIQUE, creator TEXT NOT NULL,
                    status INTEGER NOT NULL, selected_node TEXT, body TEXT NOT NULL);
                CREATE INDEX tasks_status ON tasks(status);
                CREATE TABLE nodes (address TEXT PRIMARY KEY NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL);
                CREATE TABLE balances (account TEXT PRIMARY KEY NOT NULL, amount TEXT NOT NULL);
                CREATE TABLE escrow (commitment TEXT PRIMARY KEY NOT NULL, amount TEXT NOT NULL);
                CREATE TABLE ledger (
                    id INTEGER PRIMARY KEY NOT NULL, time INTEGER NOT NULL, kind TEXT NOT NULL, account TEXT NOT NULL,
                    amount TEXT NOT NULL, task TEXT);
                CREATE INDEX ledger_account ON ledger(account);
                CREATE TABLE events (
                    id INTEGER PRIMARY KEY NOT NULL, type TEXT NOT NULL, node_address TEXT NOT NULL,
                    task_id_commitment TEXT NOT NULL, args TEXT NOT NULL);
                CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
                CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
                CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
                CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
                """)
        }
        migrator.registerMigration("v2: task ids and event lookups, for a relay that keeps only live work in memory") { db in
            try db.execute(sql: """
                ALTER TABLE tasks ADD COLUMN task_id TEXT;
                UPDATE tasks SET task_id = json_extract(body, '$.taskID');
                CREATE INDEX tasks_task_id ON tasks(task_id) WHERE task_id IS NOT NULL;
                CREATE INDEX events_type ON events(type, id);
                CREATE INDEX events_node ON events(node_address, id);
                CREATE INDEX events_task ON events(task_id_commitment, id);
                """)
        }
        return migrator
    }

    /// Closes the database; later use throws.
    public func close() throws { try queue.close() }

    /// The stored relay, or a new one seeded from `seed` (stored at once) when the database is empty. Only live
    /// work is read (queued and running tasks, nodes, accounts, escrow); finished tasks, the ledger and the
    /// events stay in the database and are read on demand.
    public func load(config: RelayConfig, seed: UInt64) throws -> RelayState {
        let decoder = JSONDecoder()
        let loaded: RelayState? = try queue.read { db in
            let meta = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, value FROM meta").map {
                ($0["key"] as String, $0["value"] as String)
            })
            guard let sequence = meta["sequence"].flatMap(Int.init), let random = meta["random"].flatMap(UInt64.init),
                let deposits = meta["deposits"].flatMap(Wei.init(decimal:))
            else { return nil }
            let live = try String.fetchAll(db, sql: "SELECT body FROM tasks WHERE status < ?", arguments: [Self.firstTerminal]).map {
                try RelayTask(storedJSON: $0)
            }
            var counts: [TaskStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM tasks GROUP BY status") {
                guard let status = TaskStatus(rawValue: UInt8(clamping: row[0] as Int)) else { throw RelayStoreError("bad task status in the database") }
                counts[status] = row[1]
            }
            var nodes: [String: RelayNode] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT body FROM nodes") {
                let node = try decoder.decode(RelayNode.self, from: Data((row["body"] as String).utf8))
                nodes[node.address] = node
            }
            func amounts(_ sql: String) throws -> [String: Wei] {
                var out: [String: Wei] = [:]
                for row in try Row.fetchAll(db, sql: sql) {
                    guard let amount = Wei(decimal: row[1] as String) else { throw RelayStoreError("bad amount in the database") }
                    out[row[0] as String] = amount
                }
                return out
            }
            var state = RelayState(
                config: config, liveTasks: live, statusCounts: counts, nodes: nodes, balances: try amounts("SELECT account, amount FROM balances"),
                escrow: try amounts("SELECT commitment, amount FROM escrow"),
                ledgerCount: try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM ledger") ?? 0,
                eventCount: try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM events") ?? 0,
                totalDeposits: deposits, sequence: sequence, randomState: random, history: self)
            if let downloads = meta["downloads"] {
                state.pendingDownloads = try decoder.decode([String: Int64].self, from: Data(downloads.utf8))
            }
            return state
        }
        if let loaded { return loaded }
        var fresh = RelayState(config: config, seed: seed)
        fresh.history = self
        var changes = RelayState.Changes()
        changes.meta = RelayState.Meta(sequence: fresh.sequenceNumber, random: fresh.randomState, deposits: fresh.totalDeposits, downloads: [:])
        try save(changes)
        return fresh
    }

    /// The first terminal status (statuses at or above it never change again).
    static let firstTerminal = Int(TaskStatus.endInvalidated.rawValue)

    /// Writes one operation's changes in one transaction (nothing at all when nothing changed).
    public func save(_ changes: RelayState.Changes) throws {
        guard !changes.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try queue.write { db in
            if let meta = changes.meta {
                let statement = try db.cachedStatement(
                    sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
                if let sequence = meta.sequence { try statement.execute(arguments: ["sequence", String(sequence)]) }
                if let random = meta.random { try statement.execute(arguments: ["random", String(random)]) }
                if let deposits = meta.deposits { try statement.execute(arguments: ["deposits", deposits.decimalString]) }
                if let downloads = meta.downloads {
                    try statement.execute(arguments: ["downloads", String(decoding: try encoder.encode(downloads), as: UTF8.self)])
                }
            }
            if !changes.tasks.isEmpty {
                let statement = try db.cachedStatement(
                    sql: """
                        INSERT INTO tasks (commitment, sequence, creator, status, selected_node, task_id, body) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(commitment) DO UPDATE SET status = excluded.status, selected_node = excluded.selected_node,
                        task_id = excluded.task_id, body = excluded.body
                        """)
                for task in changes.tasks {
                    try statement.execute(arguments: [
                        task.commitment, task.sequence, task.creator, Int(task.status.rawValue), task.selectedNode, task.taskID, task.storedJSON,
                    ])
                }
            }
            if !changes.nodes.isEmpty {
                let statement = try db.cachedStatement(
                    sql: "INSERT INTO nodes (address, status, body) VALUES (?, ?, ?) ON CONFLICT(address) DO UPDATE SET status = excluded.status, body = excluded.body")
                for node in changes.nodes {
                    try statement.execute(arguments: [node.address, Int(node.status.rawValue), String(decoding: try encoder.encode(node), as: UTF8.self)])
                }
            }
            if !changes.balances.isEmpty {
                let statement = try db.cachedStatement(
                    sql: "INSERT INTO balances (account, amount) VALUES (?, ?) ON CONFLICT(account) DO UPDATE SET amount = excluded.amount")
                for (account, amount) in changes.balances { try statement.execute(arguments: [account, amount.decimalString]) }
            }
            for (commitment, amount) in changes.escrow {
                if let amount {
                    try db.cachedStatement(
                        sql: "INSERT INTO escrow (commitment, amount) VALUES (?, ?) ON CONFLICT(commitment) DO UPDATE SET amount = excluded.amount"
                    ).execute(arguments: [commitment, amount.decimalString])
                } else {
                    try db.cachedStatement(sql: "DELETE FROM escrow WHERE commitment = ?").execute(arguments: [commitment])
                }
            }
            if !changes.ledger.isEmpty {
                let statement = try db.cachedStatement(sql: "INSERT INTO ledger (id, time, kind, account, amount, task) VALUES (?, ?, ?, ?, ?, ?)")
                for row in changes.ledger {
                    try statement.execute(arguments: [row.id, row.time, row.kind.rawValue, row.account, row.amount.decimalString, row.task])
                }
            }
            if !changes.events.isEmpty {
                let statement = try db.cachedStatement(
                    sql: "INSERT INTO events (id, type, node_address, task_id_commitment, args) VALUES (?, ?, ?, ?, ?)")
                for event in changes.events {
                    try statement.execute(arguments: [event.id, event.type, event.nodeAddress, event.taskIDCommitment, event.args.compactText])
                }
            }
        }
    }

    // MARK: Reading history

    /// Events with `id >= start` in order, at most `limit`, optionally of one type, node or task.
    public func events(from start: Int, limit: Int, type: String?, node: String?, task: String?) throws -> [RelayEvent] {
        var conditions = ["id >= ?"]
        var arguments: StatementArguments = [start]
        if let type { conditions.append("type = ?"); _ = arguments.append(contentsOf: [type]) }
        if let node { conditions.append("node_address = ?"); _ = arguments.append(contentsOf: [node]) }
        if let task { conditions.append("task_id_commitment = ?"); _ = arguments.append(contentsOf: [task]) }
        _ = arguments.append(contentsOf: [limit])
        return try queue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, type, node_address, task_id_commitment, args FROM events WHERE \(conditions.joined(separator: " AND ")) ORDER BY id LIMIT ?",
                arguments: arguments
            ).map(Self.event)
        }
    }

    /// Every ledger row in order (tests and tools; the relay itself never reads them all).
    public func ledger() throws -> [LedgerEntry] {
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, time, kind, account, amount, task FROM ledger ORDER BY id")
            return try rows.map { row in
                guard let kind = LedgerKind(rawValue: row["kind"]), let amount = Wei(decimal: row["amount"] as String) else {
                    throw RelayStoreError("bad ledger row \(row["id"] as Int)")
                }
                return LedgerEntry(id: row["id"], time: row["time"], kind: kind, account: row["account"], amount: amount, task: row["task"])
            }
        }
    }

    /// Every stored task (tests and tools; the relay itself never reads them all).
    public func allTasks() throws -> [RelayTask] {
        try queue.read { db in try String.fetchAll(db, sql: "SELECT body FROM tasks ORDER BY sequence").map { try RelayTask(storedJSON: $0) } }
    }

    static func event(_ row: Row) -> RelayEvent {
        RelayEvent(
            id: row["id"], type: row["type"], nodeAddress: row["node_address"], taskIDCommitment: row["task_id_commitment"],
            args: (try? JSONValue.parse(Array((row["args"] as String).utf8))) ?? .object([]))
    }
}

extension RelayStore: RelayHistory {
    // Point reads run outside a transaction (one statement sees one snapshot), with cached statements: a lookup
    // costs an index probe, not a transaction.

    /// The stored task with `commitment`.
    public func storedTask(_ commitment: String) throws -> RelayTask? {
        let body = try queue.inDatabase { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT body FROM tasks WHERE commitment = ?"), arguments: [commitment])
        }
        return try body.map { try RelayTask(storedJSON: $0) }
    }

    /// Whether a task with `commitment` is stored.
    public func storedTaskExists(_ commitment: String) throws -> Bool {
        try queue.inDatabase { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM tasks WHERE commitment = ?)"), arguments: [commitment]) ?? false
        }
    }

    /// The stored members of validation group `taskID`.
    public func storedTasks(taskID: String) throws -> [RelayTask] {
        try queue.inDatabase { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT body FROM tasks WHERE task_id = ? ORDER BY sequence"), arguments: [taskID])
        }.map { try RelayTask(storedJSON: $0) }
    }
}

/// A database that cannot be read back.
public struct RelayStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
