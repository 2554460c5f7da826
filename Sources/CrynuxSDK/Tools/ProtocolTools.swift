import Foundation

/// The protocol tools behind `crynux tools …`: each takes the command's raw inputs and returns what it
/// prints, or throws a `ToolError` whose message is the one line shown to the user.
public enum ProtocolTools {
    /// Canonical JSON of a JSON document.
    public static func canonicalJSON(input: [UInt8]) throws(ToolError) -> String {
        try CanonicalJSON.encode(parse(input))
    }

    /// The relay signature of a JSON request body at `timestamp`.
    public static func sign(input: [UInt8], privateKeyHex: String, timestamp: Int64) throws(ToolError) -> String {
        let key = try wallet { () throws(WalletError) in try PrivateKey(hex: privateKeyHex) }
        return RelaySigner(key: key).signature(for: try parse(input), timestamp: timestamp)
    }

    /// The EIP-55 address that signed a JSON request body at `timestamp`.
    public static func recover(input: [UInt8], timestamp: Int64, signature: String) throws(ToolError) -> String {
        let canonical = CanonicalJSON.encode(try parse(input))
        return try wallet { () throws(WalletError) in
            try RelaySignatureVerifier.recoverAddress(canonical: canonical, timestamp: timestamp, signature: signature)
        }.checksummed
    }

    /// The commitment of a task id and nonce; with neither given, a fresh random triple as JSON.
    public static func commitment(taskIDHex: String?, nonceHex: String?) throws(ToolError) -> String {
        switch (taskIDHex, nonceHex) {
        case (let id?, let nonce?):
            do { return try TaskIdentity(taskIDHex: id, nonceHex: nonce).commitmentHex } catch { throw ToolError(error.message) }
        case (nil, nil):
            let identity = TaskIdentity.random()
            return CanonicalJSON.encode(.object([
                JSONMember("task_id", .string(identity.taskIDHex)), JSONMember("nonce", .string(identity.nonceHex)),
                JSONMember("task_id_commitment", .string(identity.commitmentHex)),
            ]))
        default:
            throw ToolError("give both --task-id and --nonce, or neither for a random task identity")
        }
    }

    /// A VRF proof as `{"beta":…,"needs_validation":…,"pi":…}` (hex without `0x`).
    public static func vrfProve(privateKeyHex: String, alphaHex: String) throws(ToolError) -> String {
        guard let alpha = Hex.decode(alphaHex.trimmingWhitespace) else { throw ToolError("--alpha is not hex") }
        let proof = try wallet { () throws(WalletError) in try ECVRF.prove(key: try PrivateKey(hex: privateKeyHex), alpha: alpha) }
        return CanonicalJSON.encode(.object([
            JSONMember("pi", .string(Hex.encode(proof.pi))), JSONMember("beta", .string(Hex.encode(proof.beta))),
            JSONMember("needs_validation", .bool(proof.needsValidation)),
        ]))
    }

    /// Verifies a VRF proof and prints `{"beta":…,"needs_validation":…}`; a bad proof is an error.
    public static func vrfVerify(publicKeyHex: String, alphaHex: String, piHex: String) throws(ToolError) -> String {
        guard let alpha = Hex.decode(alphaHex.trimmingWhitespace) else { throw ToolError("--alpha is not hex") }
        guard let pi = Hex.decode(piHex.trimmingWhitespace) else { throw ToolError("--pi is not hex") }
        guard let pk = Hex.decode(publicKeyHex.trimmingWhitespace) else { throw ToolError("--public-key is not hex") }
        let beta = try wallet { () throws(WalletError) in try ECVRF.verify(publicKey: try PublicKey(bytes: pk), alpha: alpha, pi: pi) }
        return CanonicalJSON.encode(.object([
            JSONMember("beta", .string(Hex.encode(beta))), JSONMember("needs_validation", .bool(ECVRF.needsValidation(beta: beta))),
        ]))
    }

    /// Keccak-256 of raw bytes, or of the bytes written as `hex`.
    public static func keccak(input: [UInt8], hex: String?) throws(ToolError) -> String {
        if let hex {
            guard let bytes = Hex.decode(hex.trimmingWhitespace) else { throw ToolError("--hex is not whole bytes of hex") }
            return Hex.encode(Keccak256.hash(bytes), prefix: true)
        }
        return Hex.encode(Keccak256.hash(input), prefix: true)
    }

    /// Checks task arguments of `type` (`llm`, `sd` or `sd-finetune`) and prints them as the network's JSON.
    public static func validateTask(input: [UInt8], type: String) throws(ToolError) -> String {
        do {
            switch type {
            case "llm", "gpt":
                let args = try GPTTaskArgs(json: input)
                try args.validate()
                return args.jsonString
            case "sd":
                let args = try SDTaskArgs(json: input)
                try args.validate()
                return args.jsonString
            case "sd-finetune", "sd-finetune-lora":
                let args = try FinetuneLoraTaskArgs(json: input)
                try args.validate()
                return args.jsonString
            default:
                throw ToolError("--type must be llm, sd or sd-finetune")
            }
        } catch let error as TaskArgsError {
            throw ToolError("invalid task arguments: \(error)")
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError("\(error)")
        }
    }

    static func parse(_ input: [UInt8]) throws(ToolError) -> JSONValue {
        do { return try JSONValue.parse(input) } catch { throw ToolError(error.description) }
    }

    static func wallet<T>(_ body: () throws(WalletError) -> T) throws(ToolError) -> T {
        do { return try body() } catch { throw ToolError(error.message) }
    }
}

/// The wallet commands behind `crynux wallet …`.
public enum WalletTools {
    /// Creates a new random key, writes it encrypted to `keystorePath` and returns its address.
    public static func create(keystorePath: String, password: String, kdf: KeystoreKDF) throws(ToolError) -> String {
        try store(PrivateKey.generate(), at: keystorePath, password: password, kdf: kdf)
    }

    /// Encrypts an existing key (hex text) into `keystorePath` and returns its address.
    public static func importKey(hexText: String, keystorePath: String, password: String, kdf: KeystoreKDF) throws(ToolError) -> String {
        let key = try ProtocolTools.wallet { () throws(WalletError) in try PrivateKey(hex: hexText) }
        return try store(key, at: keystorePath, password: password, kdf: kdf)
    }

    /// The keystore's address: decrypted and checked when a password is given, else the file's `address` field.
    public static func address(keystorePath: String, password: String?) throws(ToolError) -> String {
        let keystore = try ProtocolTools.wallet { () throws(WalletError) in try Keystore.read(from: keystorePath) }
        if let password {
            return try ProtocolTools.wallet { () throws(WalletError) in try keystore.decrypt(password: password) }.address.checksummed
        }
        guard let address = keystore.address else {
            throw ToolError("the keystore has no address field; give the password to decrypt it")
        }
        return address.checksummed
    }

    static func store(_ key: PrivateKey, at path: String, password: String, kdf: KeystoreKDF) throws(ToolError) -> String {
        // Checked before the (slow) key derivation; Keystore.write refuses to replace a file in any case.
        guard !FileManager.default.fileExists(atPath: path) else { throw ToolError("\(path) already exists; not overwriting a keystore") }
        try ProtocolTools.wallet { () throws(WalletError) in
            try Keystore.encrypt(key, password: password, kdf: kdf).write(to: path)
        }
        return key.address.checksummed
    }
}

/// Why a tool could not do its job: one line for the user, and whether the input was at fault.
public struct ToolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in general.
    public struct Kind: Sendable, Hashable {
        let name: String
        /// The input (arguments, stdin, a file named by an argument) is invalid.
        public static let invalidInput = Kind(name: "invalidInput")
        /// Valid input, but the work failed (a template raised, a file could not be read).
        public static let failed = Kind(name: "failed")
    }

    /// The message.
    public var message: String
    /// Whether the input was at fault.
    public var kind: Kind
    /// Creates an error.
    public init(_ message: String, kind: Kind = .invalidInput) {
        self.message = message
        self.kind = kind
    }
    /// The message.
    public var description: String { message }
}

/// The chat-template commands behind `crynux template …`.
public enum TemplateTools {
    /// Renders `templatePath` (a `.jinja` file, or a `tokenizer_config.json` with a `chat_template`) over the
    /// conversation file `{"messages": […], "tools": […], "template_args": {…}}`.
    ///
    /// - Parameter now: `YYYY-MM-DDTHH:MM:SS` for `strftime_now`, or nil for the local time now.
    /// - Throws: `ToolError` of kind `.failed`, whose message says what failed and where.
    public static func render(
        templatePath: String, conversationPath: String, addGenerationPrompt: Bool, bosToken: String?, eosToken: String?, now: String?
    ) throws(ToolError) -> String {
        let source = try templateSource(templatePath)
        guard let data = FileManager.default.contents(atPath: conversationPath) else {
            throw ToolError("cannot read the conversation file \(conversationPath)", kind: .failed)
        }
        let conversation: JSONValue
        do { conversation = try JSONValue.parse(Array(data)) } catch {
            throw ToolError("the conversation file is not valid JSON: \(error)", kind: .failed)
        }
        guard case .array(let messages)? = conversation["messages"] else {
            throw ToolError("the conversation file needs a \"messages\" list", kind: .failed)
        }
        var tools: [JSONValue]? = nil
        switch conversation["tools"] {
        case .array(let t)?: tools = t
        case .null?, nil: break
        default: throw ToolError("\"tools\" must be a list", kind: .failed)
        }
        var arguments: [String: JSONValue] = [:]
        switch conversation["template_args"] {
        case .object(let members)?: for m in members { arguments[m.key] = m.value }
        case .null?, nil: break
        default: throw ToolError("\"template_args\" must be an object", kind: .failed)
        }
        let clock: DateComponents
        if let now {
            guard let parsed = parseLocalTime(now) else { throw ToolError("--now must look like 2026-11-22T00:00:00", kind: .failed) }
            clock = parsed
        } else {
            clock = ChatTemplate.localComponents(Date())
        }
        do {
            let template = try ChatTemplate(source: source)
            return try template.render(
                messagesJSON: messages, tools: tools, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken, eosToken: eosToken,
                arguments: arguments, now: clock)
        } catch {
            throw ToolError(error.kind == .raised ? error.message : "\(error.kind) error: \(error.description)", kind: .failed)
        }
    }

    static func templateSource(_ path: String) throws(ToolError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw ToolError("cannot read the template file \(path)", kind: .failed) }
        let text = String(decoding: data, as: UTF8.self)
        // A tokenizer_config.json: its chat_template string, or the "default" of a list of named templates.
        if path.hasSuffix(".json"), let config = try? JSONValue.parse(Array(data)) {
            switch config["chat_template"] {
            case .string(let s)?: return s
            case .array(let named)?:
                if let t = named.first(where: { $0["name"]?.stringValue == "default" })?["template"]?.stringValue { return t }
            default: break
            }
            throw ToolError("\(path) has no chat_template", kind: .failed)
        }
        return text
    }

    /// `YYYY-MM-DDTHH:MM:SS` (a space also separates date and time) as wall-clock components.
    static func parseLocalTime(_ text: String) -> DateComponents? {
        let parts = text.split(whereSeparator: { $0 == "T" || $0 == " " })
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-").compactMap { Int($0) }
        let time = parts[1].split(separator: ":").compactMap { Int($0.prefix(2)) }
        guard date.count == 3, time.count == 3, (1...12).contains(date[1]), (1...31).contains(date[2]), (0...23).contains(time[0]),
            (0...59).contains(time[1]), (0...61).contains(time[2])
        else { return nil }
        return DateComponents(year: date[0], month: date[1], day: date[2], hour: time[0], minute: time[1], second: time[2])
    }
}
