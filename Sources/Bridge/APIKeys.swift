import Crypto
import CrynuxSDK
import Foundation
import GRDB

/// API keys of the Bridge, in SQLite: only SHA-256 hashes are stored; the key itself is shown once.
public final class APIKeyStore: Sendable {
    let queue: DatabaseQueue

    /// Opens (or creates) the database at `path` (nil: in memory).
    public init(path: String?) throws {
        queue = try path.map { try DatabaseQueue(path: $0) } ?? DatabaseQueue()
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: api keys") { db in
            try db.execute(sql: """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
                    created INTEGER NOT NULL, revoked INTEGER);
                """)
        }
        try migrator.migrate(queue)
    }

    /// A stored key (never the key itself).
    public struct Key: Sendable, Hashable {
        /// The key's id.
        public var id: String
        /// Its name.
        public var name: String
        /// The first characters, to recognise it in lists.
        public var prefix: String
    }

    static func hash(_ key: String) -> String { Hex.encode(SHA256.hash(data: Array(key.utf8))) }

    /// Creates a key named `name` and returns it (the only time it is visible) with its record.
    public func create(name: String) throws -> (key: String, record: Key) {
        let secret = "sk-crynux-" + Hex.encode((0..<24).map { _ in UInt8.random(in: 0...255) })
        let record = Key(id: UUID().uuidString.lowercased(), name: name, prefix: String(secret.prefix(14)))
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO api_keys (id, name, hash, prefix, created) VALUES (?, ?, ?, ?, ?)",
                arguments: [record.id, name, Self.hash(secret), record.prefix, Int(Date().timeIntervalSince1970)])
        }
        return (secret, record)
    }

    /// The live key a bearer token stands for, or nil.
    public func verify(_ bearer: String) throws -> Key? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT id, name, prefix FROM api_keys WHERE hash = ? AND revoked IS NULL", arguments: [Self.hash(bearer)])
                .map { Key(id: $0["id"], name: $0["name"], prefix: $0["prefix"]) }
        }
    }

    /// Every key, revoked ones included (newest last), with whether it is live.
    public func list() throws -> [(key: Key, created: Int, live: Bool)] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, prefix, created, revoked FROM api_keys ORDER BY created, id").map { row in
                (Key(id: row["id"], name: row["name"], prefix: row["prefix"]), row["created"] as Int, (row["revoked"] as Int?) == nil)
            }
        }
    }

    /// Revokes a key by id; false if there is no live key with that id.
    @discardableResult
    public func revoke(id: String) throws -> Bool {
        try queue.write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", arguments: [Int(Date().timeIntervalSince1970), id])
            return db.changesCount > 0
        }
    }

    /// How many live keys exist.
    public func count() throws -> Int { try queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM api_keys WHERE revoked IS NULL") ?? 0 } }
}
