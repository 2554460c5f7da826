import CrynuxSDK
import Foundation
import GRDB

extension BridgeStore {
    /// A stored Responses API response (`store: true`): the paid run it answers with, and what is needed to build the
    /// response object again (`GET /v1/responses/{id}`) or to continue the conversation (`previous_response_id`).
    public struct StoredResponse: Sendable, Hashable {
        /// `resp_…`.
        public var id: String
        /// The key that made it; only that key reads, cancels or deletes it.
        public var keyID: String
        /// The paid run that answers it.
        public var runID: String
        /// Unix time of creation.
        public var created: Int
        /// The Chat Completions body the request became (the run's checks are made against it).
        public var chat: JSONValue
        /// The request's own fields, echoed in the response object.
        public var echo: JSONValue
        /// The conversation before the answer, as chat messages (without `instructions`).
        public var input: JSONValue
        /// Whether it was created with `background: true`.
        public var background: Bool
        /// Whether a client cancelled it.
        public var cancelled: Bool

        /// Creates a record.
        public init(
            id: String, keyID: String, runID: String, created: Int, chat: JSONValue, echo: JSONValue, input: JSONValue, background: Bool,
            cancelled: Bool = false
        ) {
            self.id = id
            self.keyID = keyID
            self.runID = runID
            self.created = created
            self.chat = chat
            self.echo = echo
            self.input = input
            self.background = background
            self.cancelled = cancelled
        }
    }

    static func storedResponse(_ row: Row) -> StoredResponse? {
        guard let chat = try? JSONValue.parse(Array((row["chat"] as String).utf8)), let echo = try? JSONValue.parse(Array((row["echo"] as String).utf8)),
            let input = try? JSONValue.parse(Array((row["input"] as String).utf8))
        else { return nil }
        return StoredResponse(
            id: row["id"], keyID: row["key_id"], runID: row["run_id"], created: row["created"], chat: chat, echo: echo, input: input,
            background: (row["background"] as Int) != 0, cancelled: (row["cancelled"] as Int) != 0)
    }

    /// Records `response` unless one with its id exists (an idempotent retry answers with the same id).
    public func save(_ response: StoredResponse) throws {
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO responses (id, key_id, run_id, created, chat, echo, input, background)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    response.id, response.keyID, response.runID, response.created, response.chat.compactText, response.echo.compactText,
                    response.input.compactText, response.background ? 1 : 0,
                ])
        }
    }

    /// The stored response `id` of `keyID`, or nil (unknown, deleted, or another key's).
    public func response(id: String, keyID: String) throws -> StoredResponse? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM responses WHERE id = ? AND key_id = ?", arguments: [id, keyID]).flatMap(Self.storedResponse)
        }
    }

    /// Deletes the stored response `id` of `keyID`; whether there was one. The paid run and its usage stay.
    public func deleteResponse(id: String, keyID: String) throws -> Bool {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM responses WHERE id = ? AND key_id = ?", arguments: [id, keyID])
            return db.changesCount > 0
        }
    }

    /// Marks the stored response `id` cancelled.
    public func markCancelled(responseID id: String) throws {
        try queue.write { db in try db.execute(sql: "UPDATE responses SET cancelled = 1 WHERE id = ?", arguments: [id]) }
    }
}
