import ArgumentParser
import CrynuxSDK
import Foundation

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
    @Option(name: .customLong("key-file"), help: "File holding the private key, 64 hex digits (0x optional); never on the command line.")
    var keyFile: String
    @Option(help: "Unix timestamp in seconds.") var timestamp: Int64
    func run() throws {
        guard keyFile != "-" else { throw CLIError("--key-file - is not possible here: stdin carries the request body") }
        try emit(ProtocolTools.sign(input: readStdin(), privateKeyHex: try readPrivateKey(keyFile), timestamp: timestamp))
    }
}

/// The private key in `path` (`-`: stdin), trimmed; keys never travel in argv, where `ps` and shell history see them.
func readPrivateKey(_ path: String) throws -> String {
    let bytes = path == "-" ? try readStdin(limit: 1 << 20) : try readKeyFile(path)
    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

private func readKeyFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read the key file \(path)") }
    guard data.count <= 4096 else { throw CLIError("the key file \(path) is not a private key") }
    return Array(data)
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
    static let configuration = CommandConfiguration(abstract: "ECVRF proof of --alpha with the private key, and whether it selects validation.")
    @Option(name: .customLong("key-file"), help: "File holding the private key, 64 hex digits; - reads it from stdin.") var keyFile: String
    @Option(help: "VRF input as hex (for Crynux: the task's 32-byte sampling_seed).") var alpha: String
    func run() throws { try emit(ProtocolTools.vrfProve(privateKeyHex: try readPrivateKey(keyFile), alphaHex: alpha)) }
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
