import CrynuxSDK
import Foundation
import GRDB

/// The relay's SQLite database (GRDB, with named migrations). Every accepted operation is written in one
/// transaction before its reply leaves, so a relay killed at any moment restarts with every task, balance,
/// deadline and ledger row it had acknowledged. Ledger and event rows are append-only (triggers refuse
/// updates and deletes).
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
        return migrator
    }

    /// Closes the database; later use throws.
    public func close() throws { try queue.close() }

    /// The stored relay, or a new one seeded from `seed` (stored at once) when the database is empty.
    public func load(config: RelayConfig, seed: UInt64) throws -> RelayState {
        let decoder = JSONDecoder()
        let loaded: RelayState? = try queue.read { db in
            let meta = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, value FROM meta").map {
                ($0["key"] as String, $0["value"] as String)
            })
            guard let sequence = meta["sequence"].flatMap(Int.init), let random = meta["random"].flatMap(UInt64.init),
                let deposits = meta["deposits"].flatMap(Wei.init(decimal:))
            else { return nil }
            var tasks: [String: RelayTask] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT body FROM tasks") {
                let task = try decoder.decode(RelayTask.self, from: Data((row["body"] as String).utf8))
                tasks[task.commitment] = task
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
            let ledger = try Row.fetchAll(db, sql: "SELECT id, time, kind, account, amount, task FROM ledger ORDER BY id").map { row in
                guard let kind = LedgerKind(rawValue: row["kind"]), let amount = Wei(decimal: row["amount"] as String) else {
                    throw RelayStoreError("bad ledger row \(row["id"] as Int)")
                }
                return LedgerEntry(id: row["id"], time: row["time"], kind: kind, account: row["account"], amount: amount, task: row["task"])
            }
            let events = try Row.fetchAll(db, sql: "SELECT id, type, node_address, task_id_commitment, args FROM events ORDER BY id").map { row in
                RelayEvent(
                    id: row["id"], type: row["type"], nodeAddress: row["node_address"], taskIDCommitment: row["task_id_commitment"],
                    args: (try? JSONValue.parse(Array((row["args"] as String).utf8))) ?? .object([]))
            }
            var state = RelayState(
                config: config, tasks: tasks, nodes: nodes, balances: try amounts("SELECT account, amount FROM balances"),
                escrow: try amounts("SELECT commitment, amount FROM escrow"), ledger: ledger, events: events, totalDeposits: deposits,
                sequence: sequence, randomState: random)
            if let downloads = meta["downloads"] {
                state.pendingDownloads = try decoder.decode([String: Int64].self, from: Data(downloads.utf8))
            }
            return state
        }
        if let loaded { return loaded }
        let fresh = RelayState(config: config, seed: seed)
        try save(from: nil, to: fresh)
        return fresh
    }

    /// Writes what changed between `old` and `new` in one transaction.
    public func save(from old: RelayState?, to new: RelayState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try queue.write { db in
            let downloads = String(decoding: try encoder.encode(new.pendingDownloads), as: UTF8.self)
            for (key, value) in [
                ("sequence", String(new.sequenceNumber)), ("random", String(new.randomState)), ("deposits", new.totalDeposits.decimalString),
                ("downloads", downloads),
            ] {
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [key, value])
            }
            for (commitment, task) in new.tasks where old?.tasks[commitment] != task {
                let body = String(decoding: try encoder.encode(task), as: UTF8.self)
                try db.execute(
                    sql: """
                        INSERT INTO tasks (commitment, sequence, creator, status, selected_node, body) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT(commitment) DO UPDATE SET status = excluded.status, selected_node = excluded.selected_node, body = excluded.body
                        """,
                    arguments: [commitment, task.sequence, task.creator, Int(task.status.rawValue), task.selectedNode, body])
            }
            for (address, node) in new.nodes where old?.nodes[address] != node {
                let body = String(decoding: try encoder.encode(node), as: UTF8.self)
                try db.execute(
                    sql: "INSERT INTO nodes (address, status, body) VALUES (?, ?, ?) ON CONFLICT(address) DO UPDATE SET status = excluded.status, body = excluded.body",
                    arguments: [address, Int(node.status.rawValue), body])
            }
            for (account, amount) in new.balances where old?.balances[account] != amount {
                try db.execute(
                    sql: "INSERT INTO balances (account, amount) VALUES (?, ?) ON CONFLICT(account) DO UPDATE SET amount = excluded.amount",
                    arguments: [account, amount.decimalString])
            }
            for (commitment, amount) in new.escrow where old?.escrow[commitment] != amount {
                try db.execute(
                    sql: "INSERT INTO escrow (commitment, amount) VALUES (?, ?) ON CONFLICT(commitment) DO UPDATE SET amount = excluded.amount",
                    arguments: [commitment, amount.decimalString])
            }
            for commitment in (old?.escrow.keys).map(Array.init) ?? [] where new.escrow[commitment] == nil {
                try db.execute(sql: "DELETE FROM escrow WHERE commitment = ?", arguments: [commitment])
            }
            for row in new.ledger.dropFirst(old?.ledger.count ?? 0) {
                try db.execute(
                    sql: "INSERT INTO ledger (id, time, kind, account, amount, task) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [row.id, row.time, row.kind.rawValue, row.account, row.amount.decimalString, row.task])
            }
            for event in new.events.dropFirst(old?.events.count ?? 0) {
                try db.execute(
                    sql: "INSERT INTO events (id, type, node_address, task_id_commitment, args) VALUES (?, ?, ?, ?, ?)",
                    arguments: [event.id, event.type, event.nodeAddress, event.taskIDCommitment, event.args.compactText])
            }
        }
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
