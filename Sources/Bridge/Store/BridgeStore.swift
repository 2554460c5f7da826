import Crypto
import CrynuxSDK
import Foundation
import GRDB

/// Everything the Bridge keeps, in one SQLite file: API keys (hashes only) with their limits and spending, the
/// admin token's hash, every paid run (recorded before its task is created, so a restart reconciles it), and an
/// append-only usage ledger.
public final class BridgeStore: Sendable {
    let queue: DatabaseQueue

    /// Opens (or creates) the database at `path` (nil: in memory). The file runs in WAL mode; `syncEveryCommit`
    /// makes each commit wait for the disk (survives a power cut, costs an fsync per paid request), otherwise a
    /// commit survives the process being killed and a power cut may roll back the last moments.
    public init(path: String?, syncEveryCommit: Bool = false) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        if let path {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: syncEveryCommit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
            }
        } else {
            queue = try DatabaseQueue(configuration: configuration)
        }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: api keys") { db in
            try db.execute(sql: """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
                    created INTEGER NOT NULL, revoked INTEGER);
                """)
        }
        migrator.registerMigration("v2: limits, admin, runs, usage") { db in
            try db.execute(sql: """
                ALTER TABLE api_keys ADD COLUMN budget TEXT;
                ALTER TABLE api_keys ADD COLUMN spent TEXT NOT NULL DEFAULT '0';
                ALTER TABLE api_keys ADD COLUMN reserved TEXT NOT NULL DEFAULT '0';
                ALTER TABLE api_keys ADD COLUMN rpm INTEGER;
                ALTER TABLE api_keys ADD COLUMN tpm INTEGER;
                ALTER TABLE api_keys ADD COLUMN models TEXT;
                ALTER TABLE api_keys ADD COLUMN expires INTEGER;
                CREATE TABLE admin (id INTEGER PRIMARY KEY CHECK (id = 1), hash TEXT NOT NULL);
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY NOT NULL, key_id TEXT NOT NULL, idempotency TEXT, fingerprint TEXT NOT NULL,
                    kind TEXT NOT NULL, model TEXT NOT NULL, request TEXT NOT NULL, state TEXT, status TEXT NOT NULL,
                    result TEXT, error TEXT, fee TEXT NOT NULL, created INTEGER NOT NULL, finished INTEGER,
                    UNIQUE (key_id, idempotency));
                CREATE INDEX runs_status ON runs (status);
                CREATE TABLE usage (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, key_id TEXT NOT NULL, run_id TEXT NOT NULL,
                    model TEXT NOT NULL, endpoint TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                    fee TEXT NOT NULL, commitment TEXT NOT NULL);
                CREATE INDEX usage_ts ON usage (ts);
                CREATE TRIGGER usage_no_update BEFORE UPDATE ON usage BEGIN SELECT RAISE(ABORT, 'the usage ledger is append-only'); END;
                CREATE TRIGGER usage_no_delete BEFORE DELETE ON usage BEGIN SELECT RAISE(ABORT, 'the usage ledger is append-only'); END;
                """)
        }
        migrator.registerMigration("v3: a key's unsettled runs by index") { db in
            try db.execute(sql: "CREATE INDEX runs_key_status ON runs (key_id, status)")
        }
        migrator.registerMigration("v4: stored responses") { db in
            try db.execute(sql: """
                CREATE TABLE responses (
                    id TEXT PRIMARY KEY NOT NULL, key_id TEXT NOT NULL, run_id TEXT NOT NULL, created INTEGER NOT NULL,
                    chat TEXT NOT NULL, echo TEXT NOT NULL, input TEXT NOT NULL, background INTEGER NOT NULL,
                    cancelled INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX responses_run ON responses (run_id);
                """)
        }
        try migrator.migrate(queue)
    }

    static func hash(_ secret: String) -> String { Hex.encode(SHA256.hash(data: Array(secret.utf8))) }
    static func secret(_ prefix: String) -> String { prefix + Hex.encode((0..<24).map { _ in UInt8.random(in: 0...255) }) }
    static var now: Int { Int(Date().timeIntervalSince1970) }

    // MARK: Keys

    /// What an API key may do; nil means unlimited.
    public struct Limits: Sendable, Hashable {
        /// Most CNX the key may spend in all.
        public var budget: Wei?
        /// Requests per minute.
        public var rpm: Int?
        /// Tokens (prompt + completion) per minute.
        public var tpm: Int?
        /// The model ids the key may use.
        public var models: [String]?
        /// Unix time after which the key stops working.
        public var expires: Int?
        /// No limits.
        public init(budget: Wei? = nil, rpm: Int? = nil, tpm: Int? = nil, models: [String]? = nil, expires: Int? = nil) {
            self.budget = budget
            self.rpm = rpm
            self.tpm = tpm
            self.models = models
            self.expires = expires
        }
    }

    /// A stored key (never the key itself).
    public struct Key: Sendable, Hashable {
        /// The key's id.
        public var id: String
        /// Its name.
        public var name: String
        /// The first characters, to recognise it in lists.
        public var prefix: String
        /// Unix time of creation.
        public var created: Int
        /// Unix time of revocation, if revoked.
        public var revoked: Int?
        /// Its limits.
        public var limits: Limits
        /// CNX spent on finished runs.
        public var spent: Wei
        /// CNX held for runs in progress.
        public var reserved: Wei

        /// Whether the key works at `now`.
        public func isLive(at now: Int) -> Bool { revoked == nil && (limits.expires.map { now < $0 } ?? true) }
        /// Whether the key may use `model`.
        public func allows(_ model: String) -> Bool { limits.models.map { $0.contains(model) } ?? true }

        /// The admin API's view of the key.
        public var json: JSONValue {
            func opt(_ v: Int?) -> JSONValue { v.map { .integer(Int64($0)) } ?? .null }
            return .object([
                JSONMember("id", .string(id)), JSONMember("name", .string(name)), JSONMember("prefix", .string(prefix)),
                JSONMember("created", .integer(Int64(created))), JSONMember("expires_at", opt(limits.expires)), JSONMember("revoked", opt(revoked)),
                JSONMember("budget_cnx", limits.budget.map { .string($0.cnxString) } ?? .null), JSONMember("spent_cnx", .string(spent.cnxString)),
                JSONMember("reserved_cnx", .string(reserved.cnxString)), JSONMember("rpm", opt(limits.rpm)), JSONMember("tpm", opt(limits.tpm)),
                JSONMember("models", limits.models.map { .array($0.map { .string($0) }) } ?? .null),
            ])
        }
    }

    static func key(_ row: Row) -> Key {
        let models: [String]? = (row["models"] as String?).flatMap { try? JSONValue.parse(Array($0.utf8)) }.flatMap {
            guard case .array(let items) = $0 else { return nil }
            return items.compactMap(\.stringValue)
        }
        return Key(
            id: row["id"], name: row["name"], prefix: row["prefix"], created: row["created"], revoked: row["revoked"],
            limits: Limits(
                budget: (row["budget"] as String?).flatMap { Wei(decimal: $0) }, rpm: row["rpm"], tpm: row["tpm"], models: models,
                expires: row["expires"]),
            spent: Wei(decimal: row["spent"]) ?? .zero, reserved: Wei(decimal: row["reserved"]) ?? .zero)
    }

    static func modelsText(_ models: [String]?) -> String? { models.map { JSONValue.array($0.map { .string($0) }).compactText } }

    /// Creates a key named `name` and returns it (the only time it is visible) with its record.
    public func create(name: String, limits: Limits = Limits()) throws -> (key: String, record: Key) {
        let secret = Self.secret("sk-crynux-")
        let id = UUID().uuidString.lowercased()
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO api_keys (id, name, hash, prefix, created, budget, rpm, tpm, models, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    id, name, Self.hash(secret), String(secret.prefix(14)), Self.now, limits.budget?.decimalString, limits.rpm, limits.tpm,
                    Self.modelsText(limits.models), limits.expires,
                ])
        }
        return (secret, try key(id: id)!)
    }

    /// The key with this id, live or not.
    public func key(id: String) throws -> Key? {
        try queue.read { db in try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]).map(Self.key) }
    }

    /// The key a bearer token stands for, if any (revoked and expired ones included: the caller decides).
    public func verify(_ bearer: String) throws -> Key? {
        try queue.read { db in try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE hash = ?", arguments: [Self.hash(bearer)]).map(Self.key) }
    }

    /// Every key, revoked ones included, oldest first.
    public func list() throws -> [Key] {
        try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY created, id").map(Self.key) }
    }

    /// Replaces a key's limits; false if there is no key with that id.
    @discardableResult
    public func update(id: String, limits: Limits) throws -> Bool {
        try queue.write { db in
            try db.execute(
                sql: "UPDATE api_keys SET budget = ?, rpm = ?, tpm = ?, models = ?, expires = ? WHERE id = ?",
                arguments: [limits.budget?.decimalString, limits.rpm, limits.tpm, Self.modelsText(limits.models), limits.expires, id])
            return db.changesCount > 0
        }
    }

    /// Revokes a key by id; false if there is no live key with that id.
    @discardableResult
    public func revoke(id: String) throws -> Bool {
        try queue.write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", arguments: [Self.now, id])
            return db.changesCount > 0
        }
    }

    /// How many live keys exist.
    public func count() throws -> Int { try queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM api_keys WHERE revoked IS NULL") ?? 0 } }

    // MARK: Admin token

    /// Creates (or replaces) the admin token and returns it: the only time it is visible.
    public func rotateAdminToken() throws -> String {
        let secret = Self.secret("adm-crynux-")
        try queue.write { db in try db.execute(sql: "INSERT OR REPLACE INTO admin (id, hash) VALUES (1, ?)", arguments: [Self.hash(secret)]) }
        return secret
    }

    /// Whether an admin token exists.
    public func hasAdminToken() throws -> Bool { try queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM admin") ?? 0 } > 0 }

    /// Whether `bearer` is the admin token.
    public func verifyAdmin(_ bearer: String) throws -> Bool {
        try queue.read { try String.fetchOne($0, sql: "SELECT hash FROM admin WHERE id = 1") } == Self.hash(bearer)
    }

    // MARK: Runs

    /// A paid run: recorded before its task is created.
    public struct Run: Sendable, Hashable {
        /// The run id (also the client's run id).
        public var id: String
        /// The paying key.
        public var keyID: String
        /// The client's `Idempotency-Key`, if it sent one.
        public var idempotency: String?
        /// SHA-256 of the request it answers.
        public var fingerprint: String
        /// `chat`, `completion` or `image`.
        public var kind: String
        /// The model id.
        public var model: String
        /// The network request.
        public var request: TaskRequest
        /// The client's state (task ids, nonces, commitments), once it has one.
        public var state: ClientTaskState?
        /// `pending`, `done` or `failed`.
        public var status: String
        /// The result files, once done.
        public var files: [[UInt8]]?
        /// Why it failed.
        public var error: String?
        /// The amount held for it (the most it can cost).
        public var fee: Wei
        /// Unix time of creation.
        public var created: Int
    }

    static func run(_ row: Row) -> Run? {
        guard let request = try? JSONDecoder().decode(TaskRequest.self, from: Data((row["request"] as String).utf8)) else { return nil }
        let state = (row["state"] as String?).flatMap { try? JSONDecoder().decode(ClientTaskState.self, from: Data($0.utf8)) }
        let files: [[UInt8]]? = (row["result"] as String?).flatMap { text in
            guard case .array(let items)? = try? JSONValue.parse(Array(text.utf8)) else { return nil }
            return items.compactMap { $0.stringValue.flatMap { Data(base64Encoded: $0) }.map { Array($0) } }
        }
        return Run(
            id: row["id"], keyID: row["key_id"], idempotency: row["idempotency"], fingerprint: row["fingerprint"], kind: row["kind"],
            model: row["model"], request: request, state: state, status: row["status"], files: files, error: row["error"],
            fee: Wei(decimal: row["fee"]) ?? .zero, created: row["created"])
    }

    /// Why a run could not be recorded.
    public enum ReserveOutcome: Sendable {
        /// Recorded; the fee is held against the key's budget.
        case reserved(Run)
        /// A run with this idempotency key already exists.
        case existing(Run)
        /// The key's budget cannot cover the fee.
        case insufficientBudget(remaining: Wei)
        /// The key already has `limit` runs unsettled.
        case tooManyRuns(limit: Int)
    }

    /// In one transaction: finds an earlier run with the same idempotency key, or checks the key's budget
    /// (spent + held + hold ≤ budget), holds the most the run can cost (`TaskRequest.maximumCost`: validation
    /// copies included) and records the run as pending.
    public func reserve(
        keyID: String, idempotency: String?, fingerprint: String, kind: String, model: String, request: TaskRequest, concurrency: Int = .max
    ) throws -> ReserveOutcome
    {
        try queue.write { db in
            if let idempotency,
                let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE key_id = ? AND idempotency = ?", arguments: [keyID, idempotency]),
                let run = Self.run(row)
            {
                return .existing(run)
            }
            guard let keyRow = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [keyID]) else {
                throw BridgeError("no key \(keyID)")
            }
            let key = Self.key(keyRow)
            let unsettled = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runs WHERE key_id = ? AND status = 'pending'", arguments: [keyID]) ?? 0
            if unsettled >= concurrency { return .tooManyRuns(limit: concurrency) }
            if let budget = key.limits.budget {
                let remaining = budget.subtracting(key.spent + key.reserved) ?? .zero
                if remaining < request.maximumCost { return .insufficientBudget(remaining: remaining) }
            }
            let run = Run(
                id: UUID().uuidString.lowercased(), keyID: keyID, idempotency: idempotency, fingerprint: fingerprint, kind: kind, model: model,
                request: request, state: nil, status: "pending", files: nil, error: nil, fee: request.maximumCost, created: Self.now)
            let requestText = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
            try db.execute(
                sql: """
                    INSERT INTO runs (id, key_id, idempotency, fingerprint, kind, model, request, status, fee, created)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                    """,
                arguments: [run.id, keyID, idempotency, fingerprint, kind, model, requestText, run.fee.decimalString, run.created])
            try db.execute(sql: "UPDATE api_keys SET reserved = ? WHERE id = ?", arguments: [(key.reserved + run.fee).decimalString, keyID])
            return .reserved(run)
        }
    }

    /// What a finished run used, for the ledger.
    public struct Usage: Sendable, Hashable {
        /// Prompt tokens.
        public var promptTokens: Int
        /// Completion tokens.
        public var completionTokens: Int
        /// The commitment the result came from.
        public var commitment: String
        /// Creates a usage record.
        public init(promptTokens: Int, completionTokens: Int, commitment: String) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.commitment = commitment
        }
    }

    /// In one transaction: marks the run done with its files, releases its hold, charges what the relay charged
    /// (`charged`, at most the hold) and appends the usage row. Does nothing if the run is no longer pending (so
    /// reconciling twice charges once).
    public func complete(runID: String, files: [[UInt8]], usage: Usage, charged: Wei) throws {
        try queue.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ? AND status = 'pending'", arguments: [runID]), let run = Self.run(row),
                let keyRow = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [run.keyID])
            else { return }
            let key = Self.key(keyRow)
            let result = JSONValue.array(files.map { .string(Data($0).base64EncodedString()) }).compactText
            let charge = min(charged, run.fee)
            try db.execute(sql: "UPDATE runs SET status = 'done', result = ?, finished = ? WHERE id = ?", arguments: [result, Self.now, runID])
            try db.execute(
                sql: "UPDATE api_keys SET reserved = ?, spent = ? WHERE id = ?",
                arguments: [(key.reserved.subtracting(run.fee) ?? .zero).decimalString, (key.spent + charge).decimalString, run.keyID])
            try db.execute(
                sql: """
                    INSERT INTO usage (ts, key_id, run_id, model, endpoint, prompt_tokens, completion_tokens, fee, commitment)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Self.now, run.keyID, runID, run.model, run.kind, usage.promptTokens, usage.completionTokens, charge.decimalString,
                    usage.commitment,
                ])
        }
    }

    /// Marks a pending run failed and releases its hold, charging only what the relay kept for it (`charged`, at
    /// most the hold: an invalidated or unvalidated task is paid although no answer came).
    public func fail(runID: String, error: String, charged: Wei = .zero) throws {
        try queue.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ? AND status = 'pending'", arguments: [runID]), let run = Self.run(row),
                let keyRow = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [run.keyID])
            else { return }
            let key = Self.key(keyRow)
            let charge = min(charged, run.fee)
            try db.execute(sql: "UPDATE runs SET status = 'failed', error = ?, finished = ? WHERE id = ?", arguments: [error, Self.now, runID])
            try db.execute(
                sql: "UPDATE api_keys SET reserved = ?, spent = ? WHERE id = ?",
                arguments: [(key.reserved.subtracting(run.fee) ?? .zero).decimalString, (key.spent + charge).decimalString, run.keyID])
        }
    }

    /// A run by id.
    public func run(id: String) throws -> Run? {
        try queue.read { db in try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).flatMap(Self.run) }
    }

    /// Runs with `status` (all when nil), newest first, at most `limit`.
    public func runs(status: String?, limit: Int = 100) throws -> [Run] {
        try queue.read { db in
            let rows =
                try status.map { try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE status = ? ORDER BY created DESC LIMIT ?", arguments: [$0, limit]) }
                ?? Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY created DESC LIMIT ?", arguments: [limit])
            return rows.compactMap(Self.run)
        }
    }

    /// How many runs are in each status.
    public func runCounts() throws -> [String: Int] {
        try queue.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM runs GROUP BY status") { counts[row["status"]] = row["n"] }
            return counts
        }
    }

    // MARK: Usage

    /// One line of a usage rollup.
    public struct Rollup: Sendable, Hashable {
        /// The key id, model id, or day (`YYYY-MM-DD`, UTC).
        public var group: String
        /// Finished paid requests.
        public var requests: Int
        /// Prompt tokens.
        public var promptTokens: Int
        /// Completion tokens.
        public var completionTokens: Int
        /// Fees paid.
        public var fees: Wei
    }

    /// Sums the usage ledger between `since` and `until` (Unix seconds, inclusive) by `key`, `model` or `day`.
    public func usage(groupBy: String, since: Int?, until: Int?) throws -> [Rollup] {
        let column: String
        switch groupBy {
        case "key": column = "key_id"
        case "model": column = "model"
        case "day": column = "strftime('%Y-%m-%d', ts, 'unixepoch')"
        default: throw BridgeError("group_by is key, model or day")
        }
        return try queue.read { db in
            var sums: [String: Rollup] = [:]
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(column) AS g, prompt_tokens, completion_tokens, fee FROM usage WHERE ts >= ? AND ts <= ?",
                arguments: [since ?? 0, until ?? Int.max])
            for row in rows {
                let group: String = row["g"]
                var r = sums[group] ?? Rollup(group: group, requests: 0, promptTokens: 0, completionTokens: 0, fees: .zero)
                r.requests += 1
                r.promptTokens += row["prompt_tokens"] as Int
                r.completionTokens += row["completion_tokens"] as Int
                r.fees = r.fees + (Wei(decimal: row["fee"]) ?? .zero)
                sums[group] = r
            }
            return sums.values.sorted { $0.group < $1.group }
        }
    }
}

extension BridgeStore: ClientTaskStore {
    /// Saves the client's state of a run (task ids, nonces and commitments before each creation).
    public func save(_ state: ClientTaskState) async throws {
        let text = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        try await queue.write { db in try db.execute(sql: "UPDATE runs SET state = ? WHERE id = ?", arguments: [text, state.id]) }
    }

    /// The client's saved state of a run.
    public func load(_ id: String) async throws -> ClientTaskState? {
        try await queue.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM runs WHERE id = ?", arguments: [id]).flatMap {
                try? JSONDecoder().decode(ClientTaskState.self, from: Data($0.utf8))
            }
        }
    }
}
