// sdk-chat: one chat task on the Crynux Network through the SDK, with its progress as the network moves it along.
//
//   sdk-chat --relay http://127.0.0.1:8090 [--keystore FILE] [--faucet CNX] [--model ID] "What is 2+2?"
//
// The wallet is a keystore (password: CRYNUX_WALLET_PASSWORD), or a throwaway key when none is given. --faucet asks a
// development relay (`crynux serve`'s embedded one, or `crynux relay --dev`) to fund it first. Progress goes to stderr,
// the answer to stdout.
import CrynuxSDK
import Foundation

var options: [String: String] = [:]
var prompt = ""
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument.hasPrefix("--"), let value = arguments.popFirst() { options[String(argument.dropFirst(2))] = value } else { prompt = argument }
}
guard let relay = options["relay"], !prompt.isEmpty else {
    FileHandle.standardError.write(Data("usage: sdk-chat --relay URL [--keystore FILE] [--faucet CNX] [--model ID] PROMPT\n".utf8))
    exit(2)
}

do {
    let key: PrivateKey
    if let keystore = options["keystore"] {
        let password = try KeystorePassword.read(file: nil, environmentValue: ProcessInfo.processInfo.environment["CRYNUX_WALLET_PASSWORD"])
        key = try Keystore.read(from: keystore).decrypt(password: password)
    } else {
        key = .generate()
    }
    if let faucet = options["faucet"], let amount = Wei(cnx: faucet) {
        let balance = try await RelayClient(baseURL: relay, key: key).requestFaucet(amount: amount)
        FileHandle.standardError.write(Data("funded \(key.address.checksummed): \(balance.cnxString) CNX\n".utf8))
    }
    // validationRatePercent: 1 is the public network's rule; a one-node development network validates nothing.
    let client = CrynuxClient(relay: relay, wallet: key, validationRatePercent: Int(options["validation-rate"] ?? "0") ?? 0)
    let completion = try await client.chat(
        model: options["model"] ?? "HuggingFaceTB/SmolLM2-135M-Instruct", messages: [.text(.user, prompt)],
        generation: GenerationConfig(maxNewTokens: Int(options["max-tokens"] ?? "64") ?? 64),
        onEvent: { event in FileHandle.standardError.write(Data("progress: \(event)\n".utf8)) })
    print(completion.choices.first?.message.content ?? "")
} catch {
    FileHandle.standardError.write(Data("sdk-chat: \(error)\n".utf8))
    exit(1)
}
