import ArgumentParser
import Bridge
import CrynuxSDK
import Foundation

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The Bridge's API keys (stored as hashes in DATA_DIR/bridge.sqlite); a running Bridge sees changes within a second.",
        subcommands: [Create.self, List.self, Update.self, Revoke.self, AdminToken.self])

    struct Location: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "The Bridge's state (default $CRYNUX_BRIDGE_DATA_DIR, else ~/.local/share/crynux/serve).")
        var dataDir: String?
        func store() throws -> BridgeStore {
            let dir = BridgeSettings.dataDirectory(flag: dataDir, environment: environment)
            do {
                try DataDirectory.makePrivate(dir)
                return try BridgeStore(path: dir + "/bridge.sqlite")
            } catch { throw CLIError("\(dir): \(error)", exitCode: 1) }
        }
    }

    struct LimitOptions: ParsableArguments {
        @Option(help: "Most CNX the key may spend in all (\"none\" clears).") var budget: String?
        @Option(help: "Requests per minute (\"none\" clears).") var rpm: String?
        @Option(help: "Tokens per minute (\"none\" clears).") var tpm: String?
        @Option(help: "Comma-separated model ids the key may use (\"none\" clears).") var models: String?
        @Option(help: "Expiry: +90s, +30m, +12h, +7d, Unix seconds or ISO 8601 (\"none\" clears).") var expires: String?

        /// Applies the options through the admin API's own checks (`none` is its `null`), so both accept the same limits.
        func apply(to limits: inout BridgeStore.Limits) throws {
            func value(_ text: String, number: Bool = false) -> JSONValue {
                if text == "none" { return .null }
                return number && Int(text) != nil ? .number(text) : .string(text)
            }
            var members: [JSONMember] = []
            if let budget { members.append(JSONMember("budget_cnx", value(budget))) }
            if let rpm { members.append(JSONMember("rpm", value(rpm, number: true))) }
            if let tpm { members.append(JSONMember("tpm", value(tpm, number: true))) }
            if let models {
                let ids = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                members.append(JSONMember("models", models == "none" ? .null : .array(ids.map { .string($0) })))
            }
            if let expires { members.append(JSONMember("expires_at", value(expires))) }
            do { try limits.apply(.object(members)) } catch {
                let option = ["budget_cnx": "budget", "expires_at": "expires"][error.param ?? ""] ?? error.param ?? "limits"
                throw CLIError("--\(option): \(error.message.replacingOccurrences(of: "null", with: "none"))")
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; it is printed once (KEY<TAB>ID) and never again.")
        @Option(help: "A name for the key.") var name: String
        @OptionGroup var limits: LimitOptions
        @OptionGroup var location: Location
        func run() throws {
            guard !name.isEmpty, name.count <= 100 else { throw CLIError("--name must be 1…100 characters") }
            var l = BridgeStore.Limits()
            try limits.apply(to: &l)
            let (secret, record) = try location.store().create(name: name, limits: l)
            emit("\(secret)\t\(record.id)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys as JSON lines: id, name, prefix, limits, spending, live or revoked.")
        @OptionGroup var location: Location
        func run() throws {
            for key in try location.store().list() { emit(key.json.compactText) }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's limits (only the options given).")
        @Argument(help: "The key's id.") var id: String
        @OptionGroup var limits: LimitOptions
        @OptionGroup var location: Location
        func run() throws {
            let store = try location.store()
            guard var l = try store.key(id: id)?.limits else { throw CLIError("no key with id \(id)") }
            try limits.apply(to: &l)
            try store.update(id: id, limits: l)
            emit(try store.key(id: id)?.json.compactText ?? "")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by id.")
        @Argument(help: "The key's id.") var id: String
        @OptionGroup var location: Location
        func run() throws {
            guard try location.store().revoke(id: id) else { throw CLIError("no live key with id \(id)") }
            emit("revoked \(id)")
        }
    }

    struct AdminToken: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "admin-token", abstract: "Replace the admin token of the /admin API and print the new one (once).")
        @OptionGroup var location: Location
        func run() throws { emit(try location.store().rotateAdminToken()) }
    }
}
